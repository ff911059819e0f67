// Package safefile opens the files of a Maildir so that nothing placed in
// it leads elsewhere or blocks: a symbolic link is never followed (it could
// lead to another user's mail, or to a file the server may read and the
// user may not), and a FIFO or device is never read (it would block a
// reader holding folder locks for ever).
//
// Only the last component of a path is checked here; callers check that
// the folder and its cur/, new/ and tmp/ are real directories (see
// maildirbackend's identity.go).
package safefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// ErrNotRegular means the path names something other than a regular file:
// a symbolic link, a FIFO, a socket, a device or a directory.
var ErrNotRegular = errors.New("not a regular file")

// Open opens path for reading. It refuses symbolic links (ErrNotRegular)
// and never blocks on a FIFO: the open is non-blocking, and anything but a
// regular file is closed again with ErrNotRegular.
func Open(path string) (*os.File, error) {
	return open(path, os.O_RDONLY)
}

// OpenAppend opens an existing regular file for appending, with Open's
// checks.
func OpenAppend(path string) (*os.File, error) {
	return open(path, os.O_WRONLY|os.O_APPEND)
}

// OpenFile is [os.OpenFile] with Open's checks, for a control file that
// is created and written in place (maildirbackend's cache database).
func OpenFile(path string, flag int, perm os.FileMode) (*os.File, error) {
	return openMode(path, flag, perm)
}

func open(path string, flag int) (*os.File, error) { return openMode(path, flag, 0) }

func openMode(path string, flag int, perm os.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, flag|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, perm)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.ENXIO) {
			// O_NOFOLLOW on a symbolic link; a FIFO opened for writing
			// without a reader.
			return nil, &fs.PathError{Op: "open", Path: path, Err: ErrNotRegular}
		}
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, &fs.PathError{Op: "open", Path: path, Err: ErrNotRegular}
	}
	return f, nil
}

// ReadFile reads a whole regular file with Open's checks, refusing files
// larger than limit bytes (a control file cannot be that large).
func ReadFile(path string, limit int64) ([]byte, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	return b, nil
}
