package maildirbackend_test

import (
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
)

// TestExpunge_uidStar: "UID EXPUNGE *" expunges the message with the
// highest UID when it is \Deleted, as in Dovecot (the differential test,
// seed 13: go-imap hands the set over with "*" unresolved).
func TestExpunge_uidStar(t *testing.T) {
	s := maildirtest.NewServer(t, nil)
	for _, subj := range []string{"one", "two", "three"} {
		maildirtest.Deliver(t, s.Maildir, maildirtest.Message(subj))
	}
	c := s.Dial(t, nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	del := &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}
	if _, err := c.Store(seqSetAll(), del, nil).Collect(); err != nil {
		t.Fatal(err)
	}
	star := imap.UIDSet{imap.UIDRange{Start: 0, Stop: 0}}
	gone, err := c.UIDExpunge(star).Collect()
	if err != nil {
		t.Fatal(err)
	}
	if len(gone) != 1 || gone[0] != 3 {
		t.Errorf("UID EXPUNGE * expunged sequence numbers %v, want [3]", gone)
	}
	if m := fetchAll(t, c); len(m) != 2 || m[0].UID != 1 || m[1].UID != 2 {
		t.Errorf("left after UID EXPUNGE *: %d messages", len(m))
	}
}
