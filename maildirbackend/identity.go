package maildirbackend

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
)

// A folder's identity is its directory (device and inode), not its path.
// Another program may remove a folder and create it again (rm -rf, a
// DELETE and CREATE in another process, RENAME over its name), and the new
// directory at the same path is a new folder: it has its own
// dovecot-uidlist, its own UIDVALIDITY and none of the old messages. The
// in-memory state of the old one must then never serve it, write into it or
// overwrite its UIDVALIDITY. So:
//
//   - account.acquire compares the directory at a mailbox's path with the
//     open folder's, and opens a new folder state when they differ;
//   - every sync and every write first checks that the directory is still
//     the folder's (currentLocked), and a folder whose directory is gone
//     or replaced expunges everything for its sessions and does no more;
//   - DELETE and RENAME in this process retire the folder states they
//     moved at once (account.retire).

// dirID identifies a directory by device and inode.
type dirID struct{ dev, ino uint64 }

// errNotFolderDir means a folder path holds something other than a
// directory: a file, or a symbolic link, which a folder never follows.
var errNotFolderDir = errors.New("not a folder directory")

// statFolderDir returns the identity of the folder directory at path. The
// Maildir root (INBOX) may be reached through a symbolic link set up by the
// administrator; a folder inside it may not.
func statFolderDir(path string, isInbox bool) (dirID, error) {
	var st syscall.Stat_t
	var err error
	if isInbox {
		err = syscall.Stat(path, &st)
	} else {
		err = syscall.Lstat(path, &st)
	}
	if err != nil {
		return dirID{}, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		return dirID{}, fmt.Errorf("%s: %w", path, errNotFolderDir)
	}
	return dirID{dev: uint64(st.Dev), ino: st.Ino}, nil
}

// missingDir reports whether err from statFolderDir says that there is no
// folder directory at the path.
func missingDir(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, errNotFolderDir) ||
		errors.Is(err, syscall.ENOTDIR)
}

// currentLocked reports whether the folder's directory is still the one it
// loaded. When it is gone or was replaced, the folder becomes gone: its
// sessions see every message expunged, and it neither syncs nor writes
// again. A stat that fails for another reason (EIO, EACCES) changes
// nothing: it cannot tell.
func (f *folder) currentLocked() bool {
	if f.gone {
		return false
	}
	if !f.loaded {
		return true
	}
	id, err := statFolderDir(f.path, f.isInbox())
	if err == nil && id == f.dir {
		return true
	}
	if err != nil && !missingDir(err) {
		return true
	}
	f.goneLocked()
	return false
}

// checkCurrentLocked is currentLocked as an error for commands: a folder
// whose directory went away answers as a mailbox that does not exist.
func (f *folder) checkCurrentLocked() error {
	if !f.currentLocked() {
		return errNoSuchMailbox
	}
	return nil
}

// isInbox reports whether the folder is the Maildir root.
func (f *folder) isInbox() bool { return f.mailbox == inboxName }
