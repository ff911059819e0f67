package fts

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// ErrLocked is returned by [Open] when another process (or another Index
// in this one) has the index open: one writer per index, or two would
// number segment files alike and merge away each other's files.
var ErrLocked = errors.New("fts: index in use by another process")

// lockName is the lock file in the index directory; it is never a
// segment (segPrefix), so Open does not remove it.
const lockName = "lock"

// lockDir takes an exclusive flock(2) on dir's lock file without
// waiting. The lock lasts until the returned file is closed, or the
// process ends.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("fts: open lock file: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, ErrLocked
		}
		return nil, fmt.Errorf("fts: lock index: %w", err)
	}
	return f, nil
}
