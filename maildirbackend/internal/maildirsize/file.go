package maildirsize

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/safefile"
)

// Name is the file's name in the Maildir root (or the CONTROL= directory).
const Name = "maildirsize"

// MaxSize is the size at which the file is recalculated (and no more of it
// is read), as Courier and Dovecot do.
const MaxSize = 5120

// StaleAge is how old a file over quota may be before it is recalculated.
const StaleAge = 15 * time.Minute

// Limits are a quota's limits; zero means unlimited.
type Limits struct {
	Bytes int64
	Count int64
}

// Usage is what a Maildir holds.
type Usage struct {
	Bytes int64
	Count int64
}

// Add returns u plus d.
func (u Usage) Add(d Usage) Usage { return Usage{Bytes: u.Bytes + d.Bytes, Count: u.Count + d.Count} }

// Over reports whether u exceeds l.
func (u Usage) Over(l Limits) bool {
	return (l.Bytes > 0 && u.Bytes > l.Bytes) || (l.Count > 0 && u.Count > l.Count)
}

// String returns the header line of l as Dovecot writes it: "<n>S" when
// there is a byte limit or no limit at all, then "<n>C" when there is a
// message limit, joined by a comma.
func (l Limits) String() string {
	var parts []string
	if l.Bytes != 0 || l.Count == 0 {
		parts = append(parts, strconv.FormatInt(l.Bytes, 10)+"S")
	}
	if l.Count != 0 {
		parts = append(parts, strconv.FormatInt(l.Count, 10)+"C")
	}
	return strings.Join(parts, ",")
}

// ParseLimits parses a header line. Items it does not know are skipped and
// reported by ok false, as Dovecot's maildir_parse_limit does; a zero
// limit is no limit.
func ParseLimits(s string) (l Limits, ok bool) {
	ok = true
	for item := range strings.SplitSeq(s, ",") {
		if len(item) < 2 {
			ok = false
			continue
		}
		n, err := strconv.ParseUint(item[:len(item)-1], 10, 64)
		if err != nil {
			ok = false
			continue
		}
		v := int64(min(n, 1<<63-1))
		switch item[len(item)-1] {
		case 'S':
			l.Bytes = v
		case 'C':
			l.Count = v
		default:
			ok = false
		}
	}
	return l, ok
}

// File is what a read of the file found.
type File struct {
	Limits  Limits    // the header's
	Usage   Usage     // the sum of the delta lines
	Lines   int       // delta lines
	ModTime time.Time // the file's mtime
}

// ErrStale means the file must be recalculated: it is broken (a line that
// is not two numbers, a NUL byte, a negative sum) or at least MaxSize bytes.
var ErrStale = errors.New("maildirsize: must be recalculated")

// Read reads the file at path. A missing file is an error wrapping
// fs.ErrNotExist; a file that must be recalculated whatever the limits is
// ErrStale, returned with the File of its header's limits when the first
// line is whole (Dovecot takes them even then). A last line without its
// LF (a writer caught mid-append) is left out, as Dovecot does.
func Read(path string) (*File, error) {
	f, err := safefile.Open(path)
	if err != nil {
		return nil, fmt.Errorf("maildirsize: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("maildirsize: %w", err)
	}
	buf := make([]byte, MaxSize)
	n, err := readFull(f, buf)
	if err != nil {
		return nil, fmt.Errorf("maildirsize: read: %w", err)
	}
	f2, err := parse(buf[:n], st.ModTime())
	if n >= MaxSize && f2 != nil {
		err = ErrStale
	}
	return f2, err
}

// readFull reads until buf is full or the file ends.
func readFull(f *os.File, buf []byte) (int, error) {
	n, err := io.ReadFull(f, buf)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = nil
	}
	return n, err
}

// parse parses the file's content without allocating per line: the file
// is read on every change, and may hold hundreds of lines.
func parse(b []byte, mtime time.Time) (*File, error) {
	end := bytes.LastIndexByte(b, '\n')
	if end < 0 {
		return nil, ErrStale // not even a header line
	}
	b = b[:end+1]
	if bytes.IndexByte(b, 0) >= 0 {
		return nil, ErrStale
	}
	nl := bytes.IndexByte(b, '\n')
	file := &File{ModTime: mtime}
	file.Limits, _ = ParseLimits(string(b[:nl]))
	for rest := b[nl+1:]; len(rest) > 0; {
		nl = bytes.IndexByte(rest, '\n')
		d, ok := parseDelta(rest[:nl])
		if !ok {
			return &File{Limits: file.Limits, ModTime: mtime}, ErrStale
		}
		file.Usage = file.Usage.Add(d)
		file.Lines++
		rest = rest[nl+1:]
	}
	if file.Usage.Bytes < 0 || file.Usage.Count < 0 {
		return &File{Limits: file.Limits, ModTime: mtime}, ErrStale
	}
	return file, nil
}

// parseDelta parses "<bytes> <count>" as sscanf("%lld %d") does: blanks
// before each number are skipped, anything after the count is ignored.
func parseDelta(line []byte) (Usage, bool) {
	b, line, ok1 := parseInt(line)
	c, _, ok2 := parseInt(line)
	if !ok1 || !ok2 || c < -(1<<31) || c >= 1<<31 {
		return Usage{}, false
	}
	return Usage{Bytes: b, Count: c}, true
}

// parseInt reads an optionally signed decimal number after blanks, and
// returns it with the rest of s.
func parseInt(s []byte) (int64, []byte, bool) {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		neg = s[i] == '-'
		i++
	}
	start := i
	var n int64
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		if n > (1<<63-1-9)/10 {
			return 0, nil, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	if i == start {
		return 0, nil, false
	}
	if neg {
		n = -n
	}
	return n, s[i:], true
}

// Trusted reports whether f's usage may be used for the limits want
// without recalculation: Dovecot's rules in quota-maildir.c
// (maildirsize_parse). force says the limits come from the configuration
// ("*" rule), so that a file with other limits is rewritten; otherwise the
// file's limits are taken.
func (f *File) Trusted(want Limits, force bool, now time.Time) bool {
	limits := want
	if !force {
		limits = f.Limits
	} else if f.Limits != want {
		return false
	}
	if f.Usage.Over(limits) && (f.Lines > 1 || f.ModTime.Before(now.Add(-StaleAge))) {
		return false
	}
	return true
}

// Append appends the delta d to the existing file at path with one write,
// as every Maildir++ writer does. It returns an error wrapping
// fs.ErrNotExist when there is no file (the next reader recalculates).
// A zero delta writes nothing.
func Append(path string, d Usage) error {
	if d == (Usage{}) {
		return nil
	}
	f, err := safefile.OpenAppend(path)
	if err != nil {
		return fmt.Errorf("maildirsize: %w", err)
	}
	line := strconv.FormatInt(d.Bytes, 10) + " " + strconv.FormatInt(d.Count, 10) + "\n"
	_, err = f.WriteString(line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("maildirsize: append: %w", err)
	}
	return nil
}

// Negate returns -u.
func (u Usage) Negate() Usage { return Usage{Bytes: -u.Bytes, Count: -u.Count} }
