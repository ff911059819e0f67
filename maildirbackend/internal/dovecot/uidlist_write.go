package dovecot

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/safefile"
)

// ErrNeedsRewrite is returned by [AppendRecords] when the uidlist does not
// end with a newline (a torn earlier append): appending would glue the new
// record to garbage, so the caller must rewrite with [WriteUIDList].
var ErrNeedsRewrite = errors.New("dovecot: uidlist needs a rewrite")

// NewGUID returns a random mailbox GUID: 32 lowercase hex digits.
func NewGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+).
	return hex.EncodeToString(b[:])
}

// NeedsCompaction reports whether a uidlist with live live records, after
// reading linesRead record lines and adding newFiles new ones, should be
// rewritten instead of appended to. Dovecot (maildir-uidlist.c,
// UIDLIST_COMPRESS_PERCENTAGE 75): live <= (lines read + new files) * 75 / 100.
func NeedsCompaction(live, linesRead, newFiles int) bool {
	return live <= (linesRead+newFiles)*75/100
}

// appendRecord appends the line "<uid>[ <fields>] :<key>\n" to b after
// checking that it will parse back to the same record.
func appendRecord(b []byte, r Record) ([]byte, error) {
	if r.UID == 0 || r.UID == 1<<32-1 {
		return nil, fmt.Errorf("dovecot: invalid UID %d for %q", r.UID, r.Key)
	}
	if !validKey(r.Key) {
		return nil, fmt.Errorf("dovecot: invalid key %q for UID %d", r.Key, r.UID)
	}
	b = strconv.AppendUint(b, uint64(r.UID), 10)
	for _, f := range r.Fields {
		if f == "" || f[0] < 'A' || f[0] > 'Z' || !validToken(f) {
			return nil, fmt.Errorf("dovecot: invalid extension field %q for UID %d", f, r.UID)
		}
		b = append(b, ' ')
		b = append(b, f...)
	}
	b = append(b, " :"...)
	b = append(b, r.Key...)
	return append(b, '\n'), nil
}

// validKey reports whether k can be written as a record key.
func validKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		switch k[i] {
		case ':', '/', '\n', '\r', 0:
			return false
		}
	}
	return true
}

// validToken reports whether s contains no space, control character or ':'.
func validToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == ':' || s[i] == 0x7f {
			return false
		}
	}
	return true
}

// AppendRecords appends recs to the uidlist at path, as Dovecot does for new
// messages: one write at the end of the file, then fdatasync. Existing bytes
// and the header are never touched. The caller must hold the uidlist lock
// ([LockUIDList]) and pass UIDs above every UID already in the file, in
// ascending order. A missing file is an error wrapping [os.ErrNotExist]; a
// file not ending in a newline gives [ErrNeedsRewrite].
func AppendRecords(path string, recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	buf := make([]byte, 0, len(recs)*64)
	var last uint32
	for _, r := range recs {
		if r.UID <= last {
			return fmt.Errorf("dovecot: append to %s: UID %d not ascending", path, r.UID)
		}
		last = r.UID
		var err error
		if buf, err = appendRecord(buf, r); err != nil {
			return fmt.Errorf("dovecot: append to %s: %w", path, err)
		}
	}
	f, err := safefile.OpenAppend(path)
	if err != nil {
		return fmt.Errorf("dovecot: append to uidlist: %w", err)
	}
	defer f.Close()
	if err := checkTerminated(path); err != nil {
		return err
	}
	if _, err := f.Write(buf); err != nil {
		return fmt.Errorf("dovecot: append to %s: %w", path, err)
	}
	if err := datasync(f); err != nil {
		return fmt.Errorf("dovecot: fdatasync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("dovecot: close %s: %w", path, err)
	}
	return nil
}

// checkTerminated returns ErrNeedsRewrite if the file at path is empty or
// does not end with '\n'.
func checkTerminated(path string) error {
	r, err := safefile.Open(path)
	if err != nil {
		return fmt.Errorf("dovecot: append to uidlist: %w", err)
	}
	defer r.Close()
	st, err := r.Stat()
	if err != nil {
		return fmt.Errorf("dovecot: stat %s: %w", path, err)
	}
	var last [1]byte
	if st.Size() == 0 {
		return fmt.Errorf("%w: %s is empty", ErrNeedsRewrite, path)
	}
	if _, err := r.ReadAt(last[:], st.Size()-1); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("dovecot: read %s: %w", path, err)
	}
	if last[0] != '\n' {
		return fmt.Errorf("%w: %s does not end with a newline", ErrNeedsRewrite, path)
	}
	return nil
}

// WriteUIDList replaces dir/dovecot-uidlist with l in version 3 format:
// header "3 V<v> N<next> G<guid>[ extra...]" (N = l.Next(), extra tokens
// kept) and every record, written to dir/dovecot-uidlist.tmp, fsynced and
// renamed over the old file. An empty l.GUID is filled with [NewGUID]; l.Version
// and l.NextUID are updated to what was written. Records must be in strictly
// ascending UID order. The new file's mtime is made larger than the old one's:
// Dovecot (maildir-sync.c) skips re-reading a uidlist whose size and mtime
// match its cache. The caller must hold the uidlist lock.
func WriteUIDList(dir string, l *UIDList) error {
	if l.UIDValidity == 0 {
		return fmt.Errorf("dovecot: write uidlist in %s: UIDVALIDITY is 0", dir)
	}
	guid := l.GUID
	if guid == "" {
		guid = NewGUID()
	} else if len(guid) != 32 || !isHex(guid) {
		return fmt.Errorf("dovecot: write uidlist in %s: invalid GUID %q", dir, guid)
	}
	next := l.Next()
	buf := make([]byte, 0, 64+len(l.Records)*64)
	buf = append(buf, "3 V"...)
	buf = strconv.AppendUint(buf, uint64(l.UIDValidity), 10)
	buf = append(buf, " N"...)
	buf = strconv.AppendUint(buf, uint64(next), 10)
	buf = append(buf, " G"...)
	buf = append(buf, guid...)
	for _, x := range l.Extra {
		if x == "" || !validToken(x) || x[0] == 'V' || x[0] == 'N' || x[0] == 'G' {
			return fmt.Errorf("dovecot: write uidlist in %s: invalid header token %q", dir, x)
		}
		buf = append(buf, ' ')
		buf = append(buf, x...)
	}
	buf = append(buf, '\n')
	var last uint32
	for _, r := range l.Records {
		if r.UID <= last {
			return fmt.Errorf("dovecot: write uidlist in %s: UID %d not ascending", dir, r.UID)
		}
		last = r.UID
		var err error
		if buf, err = appendRecord(buf, r); err != nil {
			return fmt.Errorf("dovecot: write uidlist in %s: %w", dir, err)
		}
	}
	dst := filepath.Join(dir, UIDListName)
	var old time.Time
	perm := os.FileMode(0o600)
	if st, err := os.Stat(dst); err == nil {
		old, perm = st.ModTime(), st.Mode().Perm()|0o200
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("dovecot: stat %s: %w", dst, err)
	}
	err := writeFileAtomic(filepath.Join(dir, UIDListName+".tmp"), dst, buf, perm, func(f *os.File) error {
		return raiseMtime(f, old)
	})
	if err != nil {
		return err
	}
	l.Version, l.GUID, l.NextUID, l.NeedsRewrite = 3, guid, next, false
	l.Lines = len(l.Records)
	return nil
}

// raiseMtime makes f's mtime strictly later than old (zero: no-op), first by
// a microsecond and, on filesystems with coarse timestamps, by a second.
func raiseMtime(f *os.File, old time.Time) error {
	if old.IsZero() {
		return nil
	}
	for _, step := range []time.Duration{time.Microsecond, time.Second} {
		st, err := f.Stat()
		if err != nil {
			return fmt.Errorf("dovecot: stat %s: %w", f.Name(), err)
		}
		if st.ModTime().After(old) {
			return nil
		}
		t := old.Add(step)
		if err := os.Chtimes(f.Name(), t, t); err != nil {
			return fmt.Errorf("dovecot: utime %s: %w", f.Name(), err)
		}
	}
	return nil
}
