package idle_test

import (
	"fmt"
	"sync"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/maildir-imapd/maildir-imapd/idle"
)

// folder is what a backend keeps per open mailbox: one idle.Mailbox shared
// by every session, changed only under the folder lock.
type folder struct {
	mu   sync.Mutex // held while changing the Maildir and calling Apply
	mbox *idle.Mailbox
}

// session is the part of a backend's imapserver.Session that deals with
// updates.
type session struct {
	folder *folder
	view   *idle.View // nil when no mailbox is selected
}

func (s *session) Select(f *folder) *imap.SelectData {
	s.folder, s.view = f, f.mbox.NewView()
	return &imap.SelectData{
		Flags:       f.mbox.Flags(),
		NumMessages: uint32(s.view.Len()),
		UIDNext:     f.mbox.MaxUID() + 1,
	}
}

func (s *session) Poll(w *imapserver.UpdateWriter, allowExpunge bool) error {
	if s.view == nil {
		return nil
	}
	return s.view.Poll(w, allowExpunge)
}

func (s *session) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	if s.view == nil {
		<-stop
		return nil
	}
	return s.view.Idle(w, stop)
}

// Expunge removes messages itself: sequence numbers are taken before Apply,
// which drops the UIDs from this session's view, and EXPUNGEs are written
// highest first, after the lock is released.
func (s *session) Expunge(w *imapserver.ExpungeWriter, uids []imap.UID) error {
	s.folder.mu.Lock()
	var seqs []uint32
	for _, uid := range uids {
		if seq := s.view.SeqNum(uid); seq != 0 {
			seqs = append(seqs, seq) // ascending, as uids is
		}
	}
	// ... unlink the files ...
	s.folder.mbox.Apply(idle.Change{Expunged: uids}, s.view)
	s.folder.mu.Unlock()
	for i := len(seqs) - 1; i >= 0; i-- {
		if err := w.WriteExpunge(seqs[i]); err != nil {
			return err
		}
	}
	return nil
}

func (s *session) Unselect() {
	if s.view != nil {
		s.view.Close()
		s.view = nil
	}
}

// Example shows the flow of a delivery and an expunge seen by another
// process: the folder's sync goroutine applies the change, and each session
// learns it at its next Poll or at once while idling.
func Example() {
	f := &folder{mbox: idle.NewMailbox([]imap.UID{1, 2, 3}, []imap.Flag{imap.FlagSeen})}
	s := &session{}
	sel := s.Select(f)
	fmt.Println("SELECT EXISTS", sel.NumMessages)

	// The sync goroutine, after rescanning the folder:
	f.mu.Lock()
	f.mbox.Apply(idle.Change{Expunged: []imap.UID{2}, Added: []imap.UID{4}}, nil)
	f.mu.Unlock()

	// Until the session polls, its sequence numbers do not move.
	fmt.Println("client view", s.view.UIDs(), "seq of UID 3:", s.view.SeqNum(3))
	fmt.Println("mailbox", f.mbox.UIDs())
	// The next Poll(w, true) writes "* 2 EXPUNGE" and "* 3 EXISTS".

	s.Unselect()
	fmt.Println("views left", f.mbox.Views())
	// Output:
	// SELECT EXISTS 3
	// client view [1 2 3] seq of UID 3: 3
	// mailbox [1 3 4]
	// views left 0
}
