package maildirbackend

import (
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
)

// A message file name is <key><info>: the key (base name) identifies the
// message in its folder and in dovecot-uidlist; the info (":2,<flags>") holds
// the flags and changes with every STORE.

// splitName splits a message file name into its key and info. The info keeps
// its separator. isync and some Windows tools write ";2," instead of ":2,".
func splitName(name string) (key, info string) {
	if i := strings.IndexByte(name, ':'); i >= 0 {
		return name[:i], name[i:]
	}
	if i := strings.LastIndex(name, ";2,"); i >= 0 {
		return name[:i], name[i:]
	}
	return name, ""
}

// Standard flag letters, in ASCII order.
const (
	flagDraft    = 1 << iota // D
	flagFlagged              // F
	flagAnswered             // R
	flagSeen                 // S
	flagDeleted              // T
)

var stdLetters = [...]struct {
	bit    uint8
	letter byte
	flag   imap.Flag
}{
	{flagDraft, 'D', imap.FlagDraft},
	{flagFlagged, 'F', imap.FlagFlagged},
	{flagAnswered, 'R', imap.FlagAnswered},
	{flagSeen, 'S', imap.FlagSeen},
	{flagDeleted, 'T', imap.FlagDeleted},
}

// flagSet is the parsed info of a file name. Letters we do not understand
// (P, other upper case, digits) and anything after a second comma are kept
// and written back unchanged.
type flagSet struct {
	std   uint8  // D F R S T
	kw    uint32 // a–z: bit i is keyword index i of the folder's dovecot-keywords
	other string // unknown letters, kept
	extra string // ",<non-standard>" after the flags, kept

	recent bool // \Recent in a session's search table; never parsed or written
}

// parseInfo parses ":2,<flags>[,<extra>]". Anything else gives no flags.
func parseInfo(info string) flagSet {
	var fs flagSet
	if len(info) < 3 || info[1:3] != "2," {
		return fs
	}
	letters := info[3:]
	if i := strings.IndexByte(letters, ','); i >= 0 {
		fs.extra = letters[i:]
		letters = letters[:i]
	}
	var other []byte
letters:
	for i := 0; i < len(letters); i++ {
		c := letters[i]
		if c >= 'a' && c <= 'z' {
			fs.kw |= 1 << (c - 'a')
			continue
		}
		for _, s := range stdLetters {
			if s.letter == c {
				fs.std |= s.bit
				continue letters
			}
		}
		if strings.IndexByte(string(other), c) < 0 {
			other = append(other, c)
		}
	}
	fs.other = string(other)
	return fs
}

// info formats the flag set as ":2,<letters in ASCII order>[extra]".
func (fs flagSet) info() string {
	letters := make([]byte, 0, 8)
	for _, s := range stdLetters {
		if fs.std&s.bit != 0 {
			letters = append(letters, s.letter)
		}
	}
	letters = append(letters, fs.other...)
	for i := 0; i < 26; i++ {
		if fs.kw&(1<<i) != 0 {
			letters = append(letters, byte('a'+i))
		}
	}
	sort.Slice(letters, func(i, j int) bool { return letters[i] < letters[j] })
	return ":2," + string(letters) + fs.extra
}

// hasInfo reports whether writing fs needs an info suffix at all.
func (fs flagSet) empty() bool {
	return fs.std == 0 && fs.kw == 0 && fs.other == "" && fs.extra == ""
}

// stdFlag returns the bit of a standard IMAP flag, or 0.
func stdFlag(f imap.Flag) uint8 {
	for _, s := range stdLetters {
		if strings.EqualFold(string(f), string(s.flag)) {
			return s.bit
		}
	}
	return 0
}

// nameSize returns the value of ",S=<n>" or ",W=<n>" in a key, or -1.
func nameSize(key string, field byte) int64 {
	tag := ",S="
	if field == 'W' {
		tag = ",W="
	}
	for off := 0; ; {
		i := strings.Index(key[off:], tag)
		if i < 0 {
			return -1
		}
		start := off + i + len(tag)
		end := start
		for end < len(key) && key[end] >= '0' && key[end] <= '9' {
			end++
		}
		if end > start && (end == len(key) || key[end] == ',' || key[end] == ':') {
			n, err := strconv.ParseInt(key[start:end], 10, 64)
			if err == nil {
				return n
			}
		}
		off = start
	}
}

// compareKeys orders keys the way Dovecot hands out UIDs to new files
// (maildir_filename_sort_cmp): leading seconds, then the microseconds after
// "M" in the uniqueness part when both have one, then the bytes.
func compareKeys(a, b string) int {
	as, arest := leadingNumber(a)
	bs, brest := leadingNumber(b)
	if as != bs {
		if as < bs {
			return -1
		}
		return 1
	}
	if au, ok := usecOf(arest); ok {
		if bu, ok := usecOf(brest); ok && au != bu {
			if au < bu {
				return -1
			}
			return 1
		}
	}
	return strings.Compare(arest, brest)
}

func leadingNumber(s string) (uint64, string) {
	i := 0
	var n uint64
	for i < len(s) && s[i] >= '0' && s[i] <= '9' && i < 19 {
		n = n*10 + uint64(s[i]-'0')
		i++
	}
	return n, s[i:]
}

// usecOf finds "M<digits>" in the uniqueness part (".<part>." after the
// seconds) of a key's remainder.
func usecOf(rest string) (uint64, bool) {
	if !strings.HasPrefix(rest, ".") {
		return 0, false
	}
	part := rest[1:]
	if i := strings.IndexByte(part, '.'); i >= 0 {
		part = part[:i]
	}
	i := strings.IndexByte(part, 'M')
	if i < 0 {
		return 0, false
	}
	n, tail := leadingNumber(part[i+1:])
	if len(tail) == len(part[i+1:]) {
		return 0, false
	}
	return n, true
}

// keyGen makes new keys the way Dovecot does:
// <sec>.M<usec>P<pid>.<host>, unique within the process by bumping usec.
type keyGen struct {
	mu       sync.Mutex
	host     string
	pid      int
	lastSec  int64
	lastUsec int64
}

func newKeyGen() *keyGen {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	host = strings.NewReplacer("/", `\057`, ":", `\072`, ",", `\054`).Replace(host)
	return &keyGen{host: host, pid: os.Getpid()}
}

// next returns a new key with the physical and CRLF sizes of the content.
func (g *keyGen) next(size, vsize int64) string {
	now := time.Now()
	sec, usec := now.Unix(), int64(now.Nanosecond()/1000)
	g.mu.Lock()
	if sec < g.lastSec || (sec == g.lastSec && usec <= g.lastUsec) {
		sec, usec = g.lastSec, g.lastUsec+1
		if usec >= 1000000 {
			sec, usec = sec+1, 0
		}
	}
	g.lastSec, g.lastUsec = sec, usec
	g.mu.Unlock()
	var b strings.Builder
	b.Grow(64)
	b.WriteString(strconv.FormatInt(sec, 10))
	b.WriteString(".M")
	b.WriteString(strconv.FormatInt(usec, 10))
	b.WriteByte('P')
	b.WriteString(strconv.Itoa(g.pid))
	b.WriteByte('.')
	b.WriteString(g.host)
	if size >= 0 {
		b.WriteString(",S=")
		b.WriteString(strconv.FormatInt(size, 10))
	}
	if vsize >= 0 {
		b.WriteString(",W=")
		b.WriteString(strconv.FormatInt(vsize, 10))
	}
	return b.String()
}
