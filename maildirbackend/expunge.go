package maildirbackend

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/maildir-imapd/maildir-imapd/idle"
)

// Expunge removes the messages flagged \Deleted (only those in uids when it
// is not nil) and writes their EXPUNGE responses. CLOSE calls it with a
// writer that writes nothing; in a read-only session it does nothing.
func (s *Session) Expunge(w *imapserver.ExpungeWriter, uids *imap.UIDSet) error {
	return s.expungeCmd(w, uids)
}

func (s *Session) expungeCmd(w expungeWriter, uids *imap.UIDSet) error {
	sel, err := s.selected()
	if err != nil {
		return err
	}
	if sel.readOnly {
		if uids != nil {
			return errReadOnly
		}
		return nil // CLOSE after EXAMINE
	}
	var named map[imap.UID]bool
	if uids != nil {
		// go-imap hands "*" and "$" over unresolved: they name UIDs of
		// the view ("UID EXPUNGE *" expunges the last message).
		named = make(map[imap.UID]bool)
		for _, uid := range sel.resolve(*uids) {
			named[uid] = true
		}
	}
	seqs, freed, err := sel.f.expunge(sel.view, func(m *message) bool {
		return m.flags.std&flagDeleted != 0 && (uids == nil || uids.Contains(m.uid) || named[m.uid])
	})
	s.acct.quota().record(sel.f.mailbox, freed.Negate())
	for _, seq := range seqs {
		if werr := w.WriteExpunge(seq); werr != nil {
			return werr
		}
	}
	return err
}

// expunge unlinks the files of the messages pick selects and returns the
// sequence numbers they had in view from, highest first, ready to be written
// as EXPUNGE responses, and what the removed files held (for the quota).
func (f *folder) expunge(from *idle.View, pick func(*message) bool) ([]uint32, usage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	gone, freed, err := f.unlinkLocked(pick)
	return f.forgetLocked(from, gone), freed, err
}

// unlinkLocked removes the files of picked messages. A file that vanished is
// looked up again after a sync: gone if expunged, kept if it was renamed.
func (f *folder) unlinkLocked(pick func(*message) bool) (map[imap.UID]bool, usage, error) {
	gone := make(map[imap.UID]bool)
	var freed usage
	var victims []*message
	for _, m := range f.msgs {
		if pick(m) {
			victims = append(victims, m)
		}
	}
	resynced := false
	for _, m := range victims {
		size := f.quotaSize(m)
		err := os.Remove(filepath.Join(f.path, m.rel()))
		if errors.Is(err, fs.ErrNotExist) && !resynced {
			resynced = true
			uid := m.uid
			if err := f.syncLocked(); err != nil {
				return gone, freed, err
			}
			if m = f.byUIDLocked(uid); m == nil || !pick(m) {
				continue
			}
			size = f.quotaSize(m)
			err = os.Remove(filepath.Join(f.path, m.rel()))
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return gone, freed, mapFSError(fmt.Errorf("remove message: %w", err))
		}
		if err == nil {
			freed = freed.Add(usage{Bytes: size, Count: 1})
		}
		gone[m.uid] = true
	}
	return gone, freed, nil
}

// forgetLocked drops messages from the state, tells the views, and returns
// the sequence numbers they had in from, highest first.
func (f *folder) forgetLocked(from *idle.View, gone map[imap.UID]bool) []uint32 {
	if len(gone) == 0 {
		return nil
	}
	var seqs []uint32
	change := idle.Change{Expunged: make([]imap.UID, 0, len(gone))}
	for uid := range gone {
		change.Expunged = append(change.Expunged, uid)
		if from != nil {
			if seq := from.SeqNum(uid); seq != 0 {
				seqs = append(seqs, seq)
			}
		}
	}
	sortUIDs(change.Expunged)
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] > seqs[j] })
	f.removeLocked(gone)
	f.applyLocked(change, from)
	return seqs
}

func sortUIDs(uids []imap.UID) {
	sort.Slice(uids, func(i, j int) bool { return uids[i] < uids[j] })
}
