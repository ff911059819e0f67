package maildirbackend_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
)

// TestCopy_neverReusesAnExpungedUID: a COPY keeps its source's file name,
// so a copy can carry the name of a message another program unlinked
// while its record stayed in dovecot-uidlist. After a restart the new
// message must still get a new UID, not the expunged one's, as Dovecot
// gives it ("Expunged message reappeared"); differential seed 13, step
// 93,516: COPYUID … 1:34 where UID 1 had been used, Dovecot 2:35.
func TestCopy_neverReusesAnExpungedUID(t *testing.T) {
	s := maildirtest.NewServer(t, nil)
	maildirtest.Deliver(t, s.Maildir, maildirtest.Message("copied twice"))
	c := s.Dial(t, nil)
	mustOK(t, c.Create("B", nil).Wait())
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if d, err := c.Copy(imap.SeqSetNum(1), "B").Wait(); err != nil || d.DestUIDs.String() != "1" {
		t.Fatalf("first COPY: %+v, %v", d, err)
	}
	mustOK(t, c.Logout().Wait())
	// Another program removes the copy; its record stays.
	for _, sub := range []string{"cur", "new"} {
		ents, _ := os.ReadDir(filepath.Join(s.Folder("B"), sub))
		for _, e := range ents {
			if err := os.Remove(filepath.Join(s.Folder("B"), sub, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A new process (a restart) knows only the disk.
	s2 := maildirtest.NewServer(t, &maildirtest.Options{Maildir: s.Maildir})
	c2 := s2.Dial(t, nil)
	st, err := c2.Status("B", &imap.StatusOptions{UIDNext: true, NumMessages: true}).Wait()
	if err != nil || st.UIDNext != 2 || *st.NumMessages != 0 {
		t.Fatalf("STATUS B after the unlink = %+v, %v; want UIDNEXT 2, no message", st, err)
	}
	if _, err := c2.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	d, err := c2.Copy(imap.SeqSetNum(1), "B").Wait()
	if err != nil {
		t.Fatal(err)
	}
	if d.DestUIDs.String() != "2" {
		t.Errorf("second COPY gave UID %s, want 2: UID 1 was expunged", d.DestUIDs)
	}
}
