//go:build !linux

package dovecot

import (
	"os"
	"time"
)

// datasync flushes f (fsync; fdatasync is Linux-only here).
func datasync(f *os.File) error { return f.Sync() }

// fileState is what the dotlock staleness check compares. Off Linux only
// mtime and size are known.
type fileState struct {
	exists       bool
	dev, ino     uint64
	size         int64
	mtime, ctime time.Time
}

func stateOf(fi os.FileInfo) fileState {
	return fileState{exists: true, size: fi.Size(), mtime: fi.ModTime(), ctime: fi.ModTime()}
}

// processGone is conservative off Linux: it never declares a process dead.
func processGone(pid int) bool { return false }
