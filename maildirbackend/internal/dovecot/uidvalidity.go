package dovecot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/safefile"
)

// UIDValidityName is the file in the mail root holding the last UIDVALIDITY
// handed out; dovecot-uidvalidity.<8 hex> is its marker.
const UIDValidityName = "dovecot-uidvalidity"

// NextUIDValidity hands out a new UIDVALIDITY for a folder created under the
// mail root root, sharing Dovecot's counter (mailbox-uidvalidity.c): the
// empty marker file dovecot-uidvalidity.<v> (8 lowercase hex) is renamed to
// .<v+1>, which is atomic between competing processes (on ENOENT the markers
// are rescanned and the rename retried, up to 10 times); then the file
// dovecot-uidvalidity is replaced with the 8 hex digits of v+1, no newline.
// With no marker the value starts at the current time (or the file's value
// + 1 if that is larger) and a marker with mode 0444 is created. Of several
// markers the highest counts and the lower ones are deleted. Zero is never
// returned with a nil error.
func NextUIDValidity(root string) (uint32, error) {
	cur, curOK := readUIDValidityFile(root)
	for try := 0; try < 10; try++ {
		if !curOK {
			m, found, err := scanUIDValidityMarkers(root)
			if err != nil {
				return 0, err
			}
			if !found {
				return createUIDValidity(root, cur)
			}
			cur, curOK = m, true
		}
		next := cur + 1
		if next == 0 {
			next = 1
		}
		err := os.Rename(markerPath(root, cur), markerPath(root, next))
		if err == nil {
			if err := writeUIDValidityFile(root, next); err != nil {
				return 0, err
			}
			return next, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return 0, fmt.Errorf("dovecot: uidvalidity marker: %w", err)
		}
		curOK = false // somebody else moved it: rescan
	}
	return 0, fmt.Errorf("dovecot: uidvalidity in %s: marker keeps moving", root)
}

func markerPath(root string, v uint32) string {
	return filepath.Join(root, fmt.Sprintf("%s.%08x", UIDValidityName, v))
}

// readUIDValidityFile parses the 8 hex digits of dovecot-uidvalidity.
func readUIDValidityFile(root string) (uint32, bool) {
	b, err := safefile.ReadFile(filepath.Join(root, UIDValidityName), 1024)
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 16, 32)
	if err != nil || v == 0 {
		return 0, false
	}
	return uint32(v), true
}

// scanUIDValidityMarkers returns the highest marker value, deleting lower
// markers.
func scanUIDValidityMarkers(root string) (uint32, bool, error) {
	ents, err := os.ReadDir(root)
	if err != nil {
		return 0, false, fmt.Errorf("dovecot: scan uidvalidity markers: %w", err)
	}
	var vals []uint32
	for _, e := range ents {
		hexPart, ok := strings.CutPrefix(e.Name(), UIDValidityName+".")
		if !ok || len(hexPart) != 8 || !isHex(hexPart) {
			continue
		}
		v, err := strconv.ParseUint(hexPart, 16, 32)
		if err != nil {
			continue
		}
		vals = append(vals, uint32(v))
	}
	if len(vals) == 0 {
		return 0, false, nil
	}
	hi := vals[0]
	for _, v := range vals {
		hi = max(hi, v)
	}
	for _, v := range vals {
		if v != hi {
			_ = os.Remove(markerPath(root, v))
		}
	}
	return hi, true, nil
}

// createUIDValidity starts the counter: value max(now, last+1), a new marker
// for it and the file.
func createUIDValidity(root string, last uint32) (uint32, error) {
	v := uint32(time.Now().Unix())
	if last >= v {
		v = last + 1
	}
	for try := 0; try < 10; try++ {
		if v == 0 {
			v = 1
		}
		f, err := os.OpenFile(markerPath(root, v), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
		if errors.Is(err, os.ErrExist) {
			v++ // a racing creator took it
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("dovecot: create uidvalidity marker: %w", err)
		}
		_ = f.Close()
		if err := writeUIDValidityFile(root, v); err != nil {
			return 0, err
		}
		return v, nil
	}
	return 0, fmt.Errorf("dovecot: uidvalidity in %s: cannot create a marker", root)
}

// writeUIDValidityFile replaces dovecot-uidvalidity with v as 8 hex digits.
func writeUIDValidityFile(root string, v uint32) error {
	dst := filepath.Join(root, UIDValidityName)
	perm := os.FileMode(0o600)
	if st, err := os.Stat(dst); err == nil {
		perm = st.Mode().Perm()
	}
	f, err := os.CreateTemp(root, UIDValidityName+".tmp-*")
	if err != nil {
		return fmt.Errorf("dovecot: write uidvalidity: %w", err)
	}
	if err := f.Chmod(perm); err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return fmt.Errorf("dovecot: write uidvalidity: %w", err)
	}
	return finishAtomic(f, dst, fmt.Appendf(nil, "%08x", v), nil)
}
