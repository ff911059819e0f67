package courier

import (
	"bufio"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/safefile"
)

// UIDDBName is the file name of Courier-IMAP's UID database in a folder
// directory (INBOX's is in the Maildir root).
const UIDDBName = "courierimapuiddb"

// ErrCorrupt is wrapped by the errors of files Courier itself would not
// accept (an unknown courierimapuiddb version, a malformed line). Courier
// would renumber such a folder under a new UIDVALIDITY; a converter should
// leave it to the backend's normal UID assignment.
var ErrCorrupt = errors.New("courier: corrupt file")

// UIDDB is the content of a courierimapuiddb file.
type UIDDB struct {
	// UIDValidity is the folder's UIDVALIDITY (header field 2, non-zero).
	UIDValidity uint32
	// NextUID is the header's next UID. Use [UIDDB.Next] for the UID the
	// next new message gets.
	NextUID uint32
	// Records are the message lines in file order (Courier writes them in
	// ascending UID order). A key appearing twice keeps its later line only.
	Records []Record
}

// Record is one message line of a courierimapuiddb.
type Record struct {
	UID uint32 // non-zero
	Key string // the message's base name: the file name up to the first ':'
}

// Next returns the UID the next new message gets: max(NextUID, highest
// record UID + 1, 1).
func (db *UIDDB) Next() uint32 {
	n := db.NextUID
	for _, r := range db.Records {
		if r.UID >= n && r.UID < ^uint32(0) {
			n = r.UID + 1
		}
	}
	if n == 0 {
		n = 1
	}
	return n
}

// ReadUIDDB reads the courierimapuiddb at path: a header
// "1 <uidvalidity> <nextuid>", then one "<uid> <file name>" line per
// message. A missing file gives an error wrapping [os.ErrNotExist]; a
// header with another version or a zero UIDVALIDITY, or a line that is not
// a non-zero UID, a space and a name, gives an error wrapping [ErrCorrupt].
// Empty lines are skipped.
func ReadUIDDB(path string) (*UIDDB, error) {
	f, err := safefile.Open(path)
	if err != nil {
		return nil, fmt.Errorf("courier: read uiddb: %w", err)
	}
	defer f.Close()
	db := &UIDDB{}
	last := make(map[string]int) // key -> position of its last line
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 4096), 1<<20)
	lineNo := 0
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s line %d: %s", ErrCorrupt, path, lineNo, fmt.Sprintf(format, args...))
	}
	for sc.Scan() {
		lineNo++
		line := strings.TrimSuffix(sc.Text(), "\r")
		if lineNo == 1 {
			fields := strings.Fields(line)
			if len(fields) != 3 || fields[0] != "1" {
				return nil, corrupt("unsupported header %q", line)
			}
			v, err1 := strconv.ParseUint(fields[1], 10, 32)
			n, err2 := strconv.ParseUint(fields[2], 10, 32)
			if err1 != nil || err2 != nil || v == 0 {
				return nil, corrupt("bad header %q", line)
			}
			db.UIDValidity, db.NextUID = uint32(v), uint32(n)
			continue
		}
		if line == "" {
			continue
		}
		uidText, name, ok := strings.Cut(line, " ")
		uid, err := strconv.ParseUint(uidText, 10, 32)
		if !ok || err != nil || uid == 0 || name == "" || strings.Contains(name, "/") {
			return nil, corrupt("bad record %q", line)
		}
		key, _, _ := strings.Cut(name, ":")
		if key == "" {
			return nil, corrupt("bad record %q", line)
		}
		last[key] = len(db.Records)
		db.Records = append(db.Records, Record{UID: uint32(uid), Key: key})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("courier: read %s: %w", path, err)
	}
	if lineNo == 0 {
		return nil, fmt.Errorf("%w: %s: empty file", ErrCorrupt, path)
	}
	if len(last) < len(db.Records) {
		kept := db.Records[:0]
		for i, r := range db.Records {
			if last[r.Key] == i {
				kept = append(kept, r)
			}
		}
		db.Records = kept
	}
	return db, nil
}

// CompareNames orders message file names as Courier-IMAP does when it
// hands out UIDs to files without one (imapscanclient.c fnamcmp): by the
// number atol() reads at the start of the name (the delivery second), then
// by byte comparison of the rest of the name up to the first ':'. It
// returns a negative number, zero or a positive number as a sorts before,
// with or after b.
func CompareNames(a, b string) int {
	na, ra := atol(a)
	nb, rb := atol(b)
	switch {
	case na < nb:
		return -1
	case na > nb:
		return 1
	}
	if i := strings.IndexByte(ra, ':'); i >= 0 {
		ra = ra[:i]
	}
	if i := strings.IndexByte(rb, ':'); i >= 0 {
		rb = rb[:i]
	}
	return strings.Compare(ra, rb)
}

// atol parses the number at the start of s as C's atol does (leading
// white space, an optional sign, decimal digits; saturating instead of
// overflowing) and returns it with the rest of s.
func atol(s string) (int64, string) {
	i := 0
	for i < len(s) && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r')) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	var n int64
	const limit = 1<<63 - 1
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		d := int64(s[i] - '0')
		if n > (limit-d)/10 {
			n = limit
		} else {
			n = n*10 + d
		}
		i++
	}
	if i == start {
		return 0, s // no digits: atol gives 0 and consumes nothing
	}
	if neg {
		n = -n
	}
	return n, s[i:]
}
