package maildirbackend

import (
	"errors"
	"io/fs"
	"syscall"
	"time"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/dovecot"
)

// A folder whose dovecot-uidlist this process cannot write (a read-only
// file system, a directory it may not write) is still served, as Dovecot
// does: messages without a UID get one in memory, above every UID in
// dovecot-uidlist, and every session of the folder is read-only
// (PERMANENTFLAGS (), STORE and UID EXPUNGE answer NO [READ-ONLY]), so nothing
// the client does needs a write. The folder stays so for the life of its
// state in this process: the UIDs it gave in memory are never written, and
// nothing else of it is either. A folder without dovecot-uidlist gets a
// UIDVALIDITY in memory too (the current time), which changes with every
// new state: the UIDs it numbers are not kept, and the client must not
// keep them either.

// unwritable reports whether err says that the folder's control files
// cannot be written by this process.
func unwritable(err error) bool {
	return errors.Is(err, syscall.EROFS) || errors.Is(err, fs.ErrPermission)
}

// setReadOnlyLocked marks the folder read-only for this process, logging
// the cause once.
func (f *folder) setReadOnlyLocked(err error) {
	if f.readOnly {
		return
	}
	f.readOnly = true
	f.log.Warn("cannot write dovecot-uidlist: new messages get UIDs in memory and the mailbox is read-only", "err", err)
}

// lockUIDListLocked takes dovecot-uidlist.lock for a UID assignment. For a
// folder that cannot be written it returns a nil lock and no error, and the
// folder is read-only from then on.
func (f *folder) lockUIDListLocked() (*dovecot.Lock, error) {
	if f.readOnly {
		return nil, nil
	}
	lock, err := dovecot.LockUIDList(f.ctl, f.lockWaitLocked())
	if err != nil && !missingDir(err) && unwritable(err) {
		f.setReadOnlyLocked(err)
		return nil, nil
	}
	return lock, err
}

// newUIDValidityLocked returns the UIDVALIDITY of a new dovecot-uidlist:
// the next of the Maildir's dovecot-uidvalidity, or, for a folder that
// cannot be written, the current time, in memory.
func (f *folder) newUIDValidityLocked() (uint32, error) {
	if !f.readOnly {
		uv, err := dovecot.NextUIDValidity(f.acct.ctlRoot())
		if err == nil || !unwritable(err) {
			return uv, err
		}
		f.setReadOnlyLocked(err)
	}
	return uint32(time.Now().Unix()), nil
}

// uidlistWrittenLocked takes the result of a dovecot-uidlist write: a
// folder that turns out not to be writable keeps the UIDs just given in
// memory and becomes read-only.
func (f *folder) uidlistWrittenLocked(err error) error {
	if err != nil && unwritable(err) {
		f.setReadOnlyLocked(err)
		return nil
	}
	return mapFSError(err)
}
