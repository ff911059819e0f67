package maildirbackend

import (
	"path/filepath"

	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/idle"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/dovecot"
)

// adoptUIDListLocked re-reads dovecot-uidlist when another process replaced
// it (a rewrite gives it a new inode; appends keep the inode and never
// change a UID) and reconciles the UIDs of known messages with it.
//
// A process that missed a file in a directory read (renamed while it was
// reading) takes it for expunged and, when it sees it again, gives it a new
// UID, as Dovecot does ("Expunged message reappeared, giving a new UID").
// Every other process still has the old UID. When the rewritten file names
// another UID for a key we know, the message is expunged here and added
// again: with the file's UID when that is above every UID shown here, else
// with a new one (and the file is rewritten), which the others then adopt.
// So all processes converge on one UID per message.
func (f *folder) adoptUIDListLocked() error {
	path := filepath.Join(f.ctl, uidlistName)
	st := stampOf(path)
	if st.ino == 0 || st.ino == f.listIno {
		return nil
	}
	list, err := dovecot.ReadUIDList(path)
	if err != nil {
		return nil // unreadable: the next assignment rewrites it
	}
	f.listIno = st.ino
	if f.uidValidity != 0 && list.UIDValidity != f.uidValidity {
		// A new UIDVALIDITY voids every UID here (see assignLocked).
		f.log.Warn("dovecot-uidlist has a new UIDVALIDITY; reopening the folder", "was", f.uidValidity, "now", list.UIDValidity)
		f.goneLocked()
		return nil
	}
	var moved []*message
	for _, r := range list.Records {
		if m := f.byKey[r.Key]; m != nil && imap.UID(r.UID) != m.uid {
			moved = append(moved, m)
		}
	}
	if len(moved) == 0 {
		return nil
	}
	f.log.Info("dovecot-uidlist was rewritten with other UIDs for known messages; adopting", "count", len(moved))
	var change idle.Change
	gone := make(map[imap.UID]bool, len(moved))
	cands := make([]*message, 0, len(moved))
	for _, m := range moved {
		gone[m.uid] = true
		change.Expunged = append(change.Expunged, m.uid)
		c := newMessage(m.key, m.inNew, m.info)
		c.fsize, c.vsize, c.mtime = m.fsize, m.vsize, m.mtime // content: from the cache file, same key
		cands = append(cands, c)
	}
	sortUIDs(change.Expunged)
	f.removeLocked(gone)
	added, err := f.assignAndAddLocked(cands, true)
	change.Added = added
	f.applyLocked(change, nil)
	return err
}
