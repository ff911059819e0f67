package maildirbackend

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"
)

// The METADATA store (RFC 5464) on disk. A mailbox's entries live in a file
// inside its folder directory (the Maildir root for INBOX), so that they
// follow the folder through RENAME by this or any other program, go with it
// on DELETE or rm -rf, and are never found again by a folder re-created
// under the same name: the folder's identity is its directory
// (identity.go). The server's /private entries live in a second file in
// the root.
//
// A file is replaced whole: written to a temporary name in the same
// directory, fsynced, renamed over the old one, and the directory fsynced,
// so that a crash at any point leaves the old or the new file. All the
// operations go through a descriptor of the directory (openat, renameat):
// a folder renamed meanwhile is still the one written, and a name in it
// that is a symbolic link is never followed.
//
// Format: the line "maildir-imapd metadata 1", then for each entry in name
// order a line "<name> <length>" and the value's bytes followed by "\n".
// Names never hold a newline (imapd refuses control characters).

const (
	// metadataName is a folder's entries, in its directory.
	metadataName = "maildir-imapd-metadata"
	// serverMetadataName is the server's entries, in the root.
	serverMetadataName = "maildir-imapd-server-metadata"
	metadataHeader     = "maildir-imapd metadata 1\n"
)

// metaEntries maps lower-case entry names to their values.
type metaEntries map[string][]byte

// errBadMetadataFile is a metadata file this program did not write.
var errBadMetadataFile = errors.New("malformed metadata file")

// usage returns the number of entries and the bytes of their names and
// values, what the per-user limits count.
func (m metaEntries) usage() (n int, size int64) {
	for k, v := range m {
		size += int64(len(k) + len(v))
	}
	return len(m), size
}

// encode returns the file's content.
func (m metaEntries) encode() []byte {
	var b bytes.Buffer
	b.WriteString(metadataHeader)
	for _, k := range slices.Sorted(maps.Keys(m)) {
		v := m[k]
		fmt.Fprintf(&b, "%s %d\n", k, len(v))
		b.Write(v)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// decodeMetaEntries parses a file's content.
func decodeMetaEntries(data []byte) (metaEntries, error) {
	rest, ok := bytes.CutPrefix(data, []byte(metadataHeader))
	if !ok {
		return nil, fmt.Errorf("%w: no header", errBadMetadataFile)
	}
	m := metaEntries{}
	for len(rest) > 0 {
		line, after, ok := bytes.Cut(rest, []byte{'\n'})
		i := bytes.LastIndexByte(line, ' ')
		if !ok || i <= 0 {
			return nil, fmt.Errorf("%w: bad entry line", errBadMetadataFile)
		}
		n, err := strconv.Atoi(string(line[i+1:]))
		if err != nil || n < 0 || n >= len(after) || after[n] != '\n' {
			return nil, fmt.Errorf("%w: bad value length", errBadMetadataFile)
		}
		m[string(line[:i])] = bytes.Clone(after[:n])
		rest = after[n+1:]
	}
	return m, nil
}

// metaDir is an open directory that holds a metadata file.
type metaDir struct {
	f *os.File
}

// openMetaDir opens dir. follow allows dir itself to be a symbolic link
// (the Maildir root, which an administrator may link); a folder never is.
func openMetaDir(dir string, follow bool) (*metaDir, error) {
	flags := unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC
	if !follow {
		flags |= unix.O_NOFOLLOW
	}
	fd, err := unix.Open(dir, flags, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	return &metaDir{f: os.NewFile(uintptr(fd), dir)}, nil
}

func (d *metaDir) Close() error { return d.f.Close() }

func (d *metaDir) fd() int { return int(d.f.Fd()) }

// read returns the entries of file name in d; none when it is missing. A
// file over limit bytes is an error.
func (d *metaDir) read(name string, limit int64) (metaEntries, error) {
	fd, err := unix.Openat(d.fd(), name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return metaEntries{}, nil
	} else if err != nil {
		return nil, &fs.PathError{Op: "open", Path: d.f.Name() + "/" + name, Err: err}
	}
	f := os.NewFile(uintptr(fd), d.f.Name()+"/"+name)
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w", f.Name(), errBadMetadataFile)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes: %w", f.Name(), limit, errBadMetadataFile)
	}
	m, err := decodeMetaEntries(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name(), err)
	}
	return m, nil
}

// write replaces file name in d with m (removes it when m is empty),
// crash-safely. The caller holds the user's metadata lock, so the
// temporary name is never in use by another writer; one left by a crash is
// overwritten.
func (d *metaDir) write(name string, m metaEntries) error {
	if len(m) == 0 {
		err := unix.Unlinkat(d.fd(), name, 0)
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return &fs.PathError{Op: "unlink", Path: d.f.Name() + "/" + name, Err: err}
		}
		return d.sync()
	}
	tmp := name + ".tmp"
	fd, err := unix.Openat(d.fd(), tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return &fs.PathError{Op: "create", Path: d.f.Name() + "/" + tmp, Err: err}
	}
	f := os.NewFile(uintptr(fd), d.f.Name()+"/"+tmp)
	_, err = f.Write(m.encode())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if rerr := unix.Renameat(d.fd(), tmp, d.fd(), name); rerr != nil {
			err = &fs.PathError{Op: "rename", Path: d.f.Name() + "/" + tmp, Err: rerr}
		}
	}
	if err != nil {
		_ = unix.Unlinkat(d.fd(), tmp, 0)
		return err
	}
	return d.sync()
}

// sync makes the directory's entries durable (the rename or unlink).
func (d *metaDir) sync() error {
	if err := d.f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", d.f.Name(), err)
	}
	return nil
}

// lockMetadata takes the user's metadata lock: flock(2) on the Maildir root,
// which serialises the SETMETADATA of every session and process of the
// user, so that limits are checked against a state no one else is
// changing. It returns the unlock.
func lockMetadata(root string) (func(), error) {
	d, err := openMetaDir(root, true)
	if err != nil {
		return nil, err
	}
	for {
		err = unix.Flock(d.fd(), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("flock %s: %w", root, err)
	}
	return func() { d.Close() }, nil // closing the descriptor drops the lock
}
