package dovecot

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strconv"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/safefile"
)

// UIDListName is the file name of the uidlist in a folder's control directory.
const UIDListName = "dovecot-uidlist"

// UIDList is the parsed content of a dovecot-uidlist file. The zero value is
// an empty list with no UIDVALIDITY. A UIDList is not safe for concurrent
// mutation.
type UIDList struct {
	// Version is the file format: 3 (current) or 1 (Courier-compatible).
	Version int
	// UIDValidity is the header's V (v1: second field).
	UIDValidity uint32
	// NextUID is the header's N as read; it may lag behind appended
	// records. Use [UIDList.Next] for the true next UID.
	NextUID uint32
	// GUID is the mailbox GUID (header G, 32 hex digits); empty if absent.
	GUID string
	// Extra holds unknown header tokens (e.g. "P..."), verbatim and in order;
	// [WriteUIDList] writes them back after G.
	Extra []string
	// Records are the record lines in ascending UID order, duplicates
	// removed. Lines whose message file is gone are kept: detecting stale
	// lines is the caller's job.
	Records []Record
	// Lines is the number of record lines read, including duplicates and
	// stale lines (the "lines read" of [NeedsCompaction]).
	Lines int
	// NeedsRewrite is set when Dovecot would rewrite the file: version not
	// 3, no G, an invalid extension field, a duplicate key or an unterminated
	// last line.
	NeedsRewrite bool
}

// Record is one message line of a uidlist.
type Record struct {
	// UID is the message UID (non-zero).
	UID uint32
	// Fields are the extension fields ("W320", "S309", ...), kept verbatim;
	// nil if none. Each starts with an uppercase letter A-Z.
	Fields []string
	// Key is the message's base name (file name up to the first ':').
	Key string
}

// Field returns the value of the extension field with key k (e.g. 'W') and
// whether it is present.
func (r Record) Field(k byte) (string, bool) {
	for _, f := range r.Fields {
		if len(f) > 0 && f[0] == k {
			return f[1:], true
		}
	}
	return "", false
}

// Next returns the UID the next new message gets: max(N, last UID + 1, 1).
// Dovecot (maildir-uidlist.c): appends do not update N, and N must never be
// lowered, so both bounds count.
func (l *UIDList) Next() uint32 {
	n := l.NextUID
	if k := len(l.Records); k > 0 && l.Records[k-1].UID+1 > n {
		n = l.Records[k-1].UID + 1
	}
	if n == 0 {
		n = 1
	}
	return n
}

// CorruptError reports a uidlist that Dovecot would consider broken.
type CorruptError struct {
	Path   string // file read
	Line   int    // 1-based line number; 0 for the file as a whole
	Reason string // what is wrong
}

// Error implements error.
func (e *CorruptError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("dovecot: corrupt %s line %d: %s", e.Path, e.Line, e.Reason)
	}
	return fmt.Sprintf("dovecot: corrupt %s: %s", e.Path, e.Reason)
}

// ReadUIDList reads and parses the uidlist at path (version 3 or 1). A
// missing file gives an error wrapping [os.ErrNotExist]; a file Dovecot would
// call broken (bad header, zero or non-ascending UIDs, '/' in a name, ...)
// gives a [*CorruptError]. Duplicate keys keep the later UID and set
// NeedsRewrite. An unterminated last line (a torn append) is ignored and sets
// NeedsRewrite. Readers need no lock.
func ReadUIDList(path string) (*UIDList, error) {
	f, err := safefile.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dovecot: read uidlist: %w", err)
	}
	defer f.Close()
	sizeHint := 0
	if st, err := f.Stat(); err == nil {
		sizeHint = int(st.Size() / 48)
	}
	p := uidlistParser{path: path, l: &UIDList{}}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	sc.Split(scanTerminatedLines(&p.torn))
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := sc.Bytes()
		if lineNo == 1 {
			if err := p.header(line); err != nil {
				return nil, err
			}
			p.l.Records = make([]Record, 0, sizeHint)
			p.seen = make(map[string]int, sizeHint)
			continue
		}
		if err := p.record(lineNo, line); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, &CorruptError{Path: path, Line: lineNo + 1, Reason: "line too long"}
		}
		return nil, fmt.Errorf("dovecot: read uidlist %s: %w", path, err)
	}
	if lineNo == 0 {
		return nil, &CorruptError{Path: path, Reason: "empty file"}
	}
	if p.torn {
		p.l.NeedsRewrite = true
	}
	p.compact()
	return p.l, nil
}

// scanTerminatedLines is bufio.ScanLines without the final unterminated line,
// which it drops, setting *torn.
func scanTerminatedLines(torn *bool) bufio.SplitFunc {
	return func(data []byte, atEOF bool) (int, []byte, error) {
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			return i + 1, data[:i], nil
		}
		if atEOF && len(data) > 0 {
			*torn = true
			return len(data), nil, nil
		}
		return 0, nil, nil
	}
}

type uidlistParser struct {
	path    string
	l       *UIDList
	seen    map[string]int // key -> index in l.Records
	dropped int            // records superseded by a later duplicate (UID set to 0)
	arena   []string       // backing store for Record.Fields
	torn    bool
}

func (p *uidlistParser) corrupt(line int, format string, args ...any) error {
	return &CorruptError{Path: p.path, Line: line, Reason: fmt.Sprintf(format, args...)}
}

// header parses "3 V<v> N<n> G<guid> [extra...]" or "1 <v> <n>".
func (p *uidlistParser) header(line []byte) error {
	fields := bytes.Fields(line)
	if len(fields) == 0 {
		return p.corrupt(1, "empty header")
	}
	switch string(fields[0]) {
	case "1":
		if len(fields) < 3 {
			return p.corrupt(1, "short v1 header %q", line)
		}
		v, err1 := strconv.ParseUint(string(fields[1]), 10, 32)
		n, err2 := strconv.ParseUint(string(fields[2]), 10, 32)
		if err1 != nil || err2 != nil || v == 0 || n == 0 {
			return p.corrupt(1, "bad v1 header %q", line)
		}
		p.l.Version, p.l.UIDValidity, p.l.NextUID = 1, uint32(v), uint32(n)
		p.l.NeedsRewrite = true // Dovecot converts v1 to v3 on its next write.
		return nil
	case "3":
	default:
		return p.corrupt(1, "unsupported version %q", fields[0])
	}
	p.l.Version = 3
	for _, tok := range fields[1:] {
		val := string(tok[1:])
		switch tok[0] {
		case 'V', 'N':
			u, err := strconv.ParseUint(val, 10, 32)
			if err != nil || u == 0 {
				return p.corrupt(1, "bad header token %q", tok)
			}
			if tok[0] == 'V' {
				p.l.UIDValidity = uint32(u)
			} else {
				p.l.NextUID = uint32(u)
			}
		case 'G':
			if !isHex(val) || len(val) != 32 {
				return p.corrupt(1, "bad mailbox GUID %q", tok)
			}
			p.l.GUID = val
		default:
			p.l.Extra = append(p.l.Extra, string(tok))
		}
	}
	if p.l.UIDValidity == 0 || p.l.NextUID == 0 {
		return p.corrupt(1, "header lacks V or N: %q", line)
	}
	if p.l.GUID == "" {
		p.l.NeedsRewrite = true
	}
	return nil
}

// record parses one record line (lineNo is 1-based).
func (p *uidlistParser) record(lineNo int, line []byte) error {
	p.l.Lines++
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return p.corrupt(lineNo, "no space after UID")
	}
	uid, ok := parseUID(line[:sp])
	if !ok {
		return p.corrupt(lineNo, "invalid UID %q", line[:sp])
	}
	if n := len(p.l.Records); n > 0 && uid <= p.l.Records[n-1].UID {
		return p.corrupt(lineNo, "UID %d not above %d", uid, p.l.Records[n-1].UID)
	}
	if p.l.Version == 1 && uid >= p.l.NextUID {
		return p.corrupt(lineNo, "UID %d not below next UID %d", uid, p.l.NextUID)
	}
	rest := line[sp+1:]
	for len(rest) > 0 && rest[0] == ' ' {
		rest = rest[1:]
	}
	// One allocation per line: every field and the key are substrings of s.
	s := string(rest)
	var fields []string
	if p.l.Version == 3 {
		nf := 0
		for len(s) > 0 && s[0] != ':' {
			end := indexByteString(s, ' ')
			if end < 0 {
				return p.corrupt(lineNo, "missing ':' before file name")
			}
			if f := s[:end]; f != "" && f[0] >= 'A' && f[0] <= 'Z' {
				if nf == 0 {
					fields = p.fieldSlot()
				}
				fields = append(fields, f)
				nf++
			} else if f != "" {
				// Dovecot: "Invalid extension record, removing".
				p.l.NeedsRewrite = true
			}
			s = s[end+1:]
		}
		if s == "" {
			return p.corrupt(lineNo, "missing ':' before file name")
		}
		s = s[1:]
		if nf > 0 && nf <= fieldSlotSize {
			p.arena = p.arena[:len(p.arena)+nf]
		}
	}
	// The name may carry an old ":2,<flags>" suffix; the key ends at ':'.
	if i := indexByteString(s, ':'); i >= 0 {
		s = s[:i]
	}
	if s == "" {
		return p.corrupt(lineNo, "empty file name")
	}
	if indexByteString(s, '/') >= 0 {
		return p.corrupt(lineNo, "broken file name %q", s)
	}
	if prev, dup := p.seen[s]; dup {
		// Dovecot: "Duplicate file entry", the later UID wins.
		p.l.Records[prev].UID = 0
		p.dropped++
		p.l.NeedsRewrite = true
	}
	p.seen[s] = len(p.l.Records)
	p.l.Records = append(p.l.Records, Record{UID: uid, Fields: fields, Key: s})
	return nil
}

// fieldSlotSize is the number of fields a record can take from the arena;
// a record with more gets its own array through append.
const fieldSlotSize = 8

// fieldSlot returns an empty slice of capacity fieldSlotSize whose backing
// array is the free tail of the arena, so that a record's fields need no
// allocation of their own. record commits the used entries.
func (p *uidlistParser) fieldSlot() []string {
	if cap(p.arena)-len(p.arena) < fieldSlotSize {
		p.arena = make([]string, 0, 1024)
	}
	n := len(p.arena)
	return p.arena[n : n : n+fieldSlotSize]
}

// compact removes records superseded by duplicates.
func (p *uidlistParser) compact() {
	if p.dropped == 0 {
		return
	}
	out := p.l.Records[:0]
	for _, r := range p.l.Records {
		if r.UID != 0 {
			out = append(out, r)
		}
	}
	clear(p.l.Records[len(out):])
	p.l.Records = out
}

// parseUID parses a decimal UID in 1..2^32-2.
func parseUID(b []byte) (uint32, bool) {
	if len(b) == 0 || len(b) > 10 {
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	if n == 0 || n >= 1<<32-1 {
		return 0, false
	}
	return uint32(n), true
}

func indexByteString(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
