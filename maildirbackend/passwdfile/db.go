package passwdfile

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// DB is a passwd-file that is re-read when it changes: every [DB.Verify],
// [DB.Lookup] and [DB.File] stats the file and parses it again when its size,
// modification time or identity (inode, as after an atomic rename) differ
// from the last read, so adding a user needs no restart. A read of a file
// modified within the last two seconds is not trusted and is repeated on the
// next access, so that a same-size rewrite within one timestamp tick is seen;
// unchanged contents are not parsed or logged again.
//
// A DB is safe for concurrent use: the stat and any re-read run under a
// mutex, password comparisons outside it.
//
// When the file cannot be stat'ed or read (an editor may delete and recreate
// it), the DB keeps the users of the last good read and logs a warning. A
// re-read file with problems is used without the bad lines, and the problems
// are logged at Warn once per change of the contents.
type DB struct {
	path   string       // immutable
	logger *slog.Logger // immutable

	mu   sync.Mutex
	file *File       // last good read; never nil after OpenDB
	sum  [32]byte    // SHA-256 of the contents of file
	info os.FileInfo // stat taken before the last good read
	racy bool        // info's mtime was too recent to trust; re-read next time
	bad  bool        // the last stat or read failed and was logged
}

// racyWindow: a file modified less than this long before it was read may be
// modified again within the same timestamp tick (kernels stamp files from a
// coarse clock) with the same size, which a stat cannot see. Such a read is
// not trusted: the next access reads the file again, as git does for its
// "racily clean" index entries.
const racyWindow = 2 * time.Second

// OpenDB reads the passwd-file at path and returns a DB for it. logger may be
// nil (slog.Default()). It fails only when the file cannot be read; problems
// in lines are logged and available from [DB.Problems].
func OpenDB(path string, logger *slog.Logger) (*DB, error) {
	if logger == nil {
		logger = slog.Default()
	}
	d := &DB{path: path, logger: logger}
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("passwdfile: %w", err)
	}
	if err := d.readLocked(info); err != nil {
		return nil, err
	}
	return d, nil
}

// Path returns the file name the DB reads.
func (d *DB) Path() string { return d.path }

// File returns the current contents, re-reading the file first if it changed.
// The File is immutable; a later change yields a new File.
func (d *DB) File() *File {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.refreshLocked()
	return d.file
}

// Problems returns the problems of the current contents (see
// [File.Problems]).
func (d *DB) Problems() []error { return d.File().Problems() }

// Lookup returns the user called name from the current contents.
func (d *DB) Lookup(name string) (*User, bool) { return d.File().Lookup(name) }

// Verify checks name's password against the current contents, like
// [File.Verify].
func (d *DB) Verify(name, password string) (*User, error) {
	return d.File().Verify(name, password)
}

// Reload re-reads the file even if it looks unchanged. On error the previous
// contents stay in use.
func (d *DB) Reload() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	info, err := os.Stat(d.path)
	if err != nil {
		return fmt.Errorf("passwdfile: %w", err)
	}
	return d.readLocked(info)
}

// refreshLocked re-reads the file if it changed since the last read.
func (d *DB) refreshLocked() {
	info, err := os.Stat(d.path)
	if err != nil {
		if !d.bad {
			d.logger.Warn("passwd-file unavailable; keeping the users of the last read", "path", d.path, "err", err)
			d.bad = true
		}
		return
	}
	if !d.racy && d.info != nil && os.SameFile(info, d.info) && info.Size() == d.info.Size() &&
		info.ModTime().Equal(d.info.ModTime()) {
		return
	}
	if err := d.readLocked(info); err != nil && !d.bad {
		d.logger.Warn("passwd-file unreadable; keeping the users of the last read", "path", d.path, "err", err)
		d.bad = true
	}
}

// readLocked reads the file and, if it could be read, makes it current.
// info is the stat taken before reading: a change during the read leaves a
// newer mtime, which the next refresh notices. Unchanged contents are not
// parsed or logged again.
func (d *DB) readLocked(info os.FileInfo) error {
	data, err := os.ReadFile(d.path)
	if err != nil {
		return fmt.Errorf("passwdfile: %w", err)
	}
	d.info, d.racy = info, time.Since(info.ModTime()) < racyWindow
	sum := sha256.Sum256(data)
	if d.file != nil && sum == d.sum {
		d.bad = false
		return nil
	}
	f, err := parse(bytes.NewReader(data), d.path)
	if f == nil {
		return err
	}
	d.file, d.sum, d.bad = f, sum, false
	for _, p := range f.Problems() {
		d.logger.Warn("passwd-file problem; line ignored", "path", d.path, "err", p)
	}
	d.logger.Info("passwd-file loaded", "path", d.path, "users", len(f.users), "problems", len(f.problems))
	return nil
}
