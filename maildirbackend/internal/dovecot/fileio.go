package dovecot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// writeFileAtomic writes data to tmp (created anew), fsyncs it,
// optionally sets its mtime, renames it to dst and fsyncs the directory.
// tmp is removed on failure.
func writeFileAtomic(tmp, dst string, data []byte, perm os.FileMode, mtime func(f *os.File) error) (err error) {
	// A leftover from a crashed writer (the caller holds the lock).
	_ = os.Remove(tmp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("dovecot: create %s: %w", tmp, err)
	}
	return finishAtomic(f, dst, data, mtime)
}

// finishAtomic writes data to the already created, empty file f, fsyncs it,
// calls mtime (may be nil) to adjust its timestamps, renames it to dst and
// fsyncs the directory. f is closed, and removed on failure.
func finishAtomic(f *os.File, dst string, data []byte, mtime func(f *os.File) error) (err error) {
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("dovecot: write %s: %w", tmp, err)
	}
	if mtime != nil {
		if err := mtime(f); err != nil {
			return err
		}
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("dovecot: fsync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("dovecot: close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("dovecot: rename %s: %w", tmp, err)
	}
	SyncDir(filepath.Dir(dst))
	return nil
}

// SyncDir fsyncs a directory so that a rename in it is durable. Errors are
// ignored: some filesystems refuse to fsync directories.
func SyncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}

// modTime returns the mtime of path, or the zero time if it does not exist.
func modTime(path string) (time.Time, error) {
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("dovecot: stat %s: %w", path, err)
	}
	return st.ModTime(), nil
}
