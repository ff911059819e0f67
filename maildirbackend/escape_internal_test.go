package maildirbackend

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

// Issue 8, items 10 and 14: nothing placed in a Maildir (symbolic links,
// FIFOs) leads out of it or blocks the server.

// outsideMaildir makes another user's Maildir with one message, and returns
// its root and a snapshot function of everything under it.
func outsideMaildir(t *testing.T) (root string, snapshot func() string) {
	t.Helper()
	root = filepath.Join(t.TempDir(), "bob")
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "cur", "bobsecret:2,S"), []byte("Subject: bob's secret\r\n\r\nsecret\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "passwd"), []byte("bob:{BLF-CRYPT}$2y$05$hash\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	snapshot = func() string {
		var b strings.Builder
		filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
			if err == nil {
				b.WriteString(p + " " + fi.Mode().String() + "\n")
			}
			return nil
		})
		return b.String()
	}
	return root, snapshot
}

func TestEscape_symlinkedFolders(t *testing.T) {
	s := newListServer(t, nil)
	bob, snap := outsideMaildir(t)
	before := snap()
	if err := os.Symlink(bob, filepath.Join(s.maildir, ".Bob")); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	if err := os.Symlink(empty, filepath.Join(s.maildir, ".Evil")); err != nil {
		t.Fatal(err)
	}
	c := s.dial(t)
	if err := c.Create("Linked", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	linked := filepath.Join(s.maildir, ".Linked")
	if err := os.RemoveAll(filepath.Join(linked, "cur")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(bob, "cur"), filepath.Join(linked, "cur")); err != nil {
		t.Fatal(err)
	}

	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range list {
		if d.Mailbox == "Bob" || d.Mailbox == "Evil" {
			t.Errorf("LIST shows the symbolic link %s", d.Mailbox)
		}
	}
	for _, name := range []string{"Bob", "Evil", "Linked"} {
		if sd, err := c.Select(name, nil).Wait(); err == nil {
			msgs, _ := c.Fetch(seqAll(), &imap.FetchOptions{Envelope: true}).Collect()
			for _, m := range msgs {
				if m.Envelope != nil && strings.Contains(m.Envelope.Subject, "bob") {
					t.Errorf("SELECT %s serves another user's message %q", name, m.Envelope.Subject)
				}
			}
			_ = sd
		}
		if _, err := appendMsg(c, name, "Subject: planted\r\n\r\nx\r\n"); err == nil && name != "Linked" {
			t.Errorf("APPEND %s through a symbolic link succeeded", name)
		}
		if _, err := c.Status(name, &imap.StatusOptions{NumMessages: true}).Wait(); err == nil && name != "Linked" {
			t.Errorf("STATUS %s through a symbolic link succeeded", name)
		}
	}
	if after := snap(); after != before {
		t.Errorf("another user's Maildir changed:\nbefore\n%s\nafter\n%s", before, after)
	}
	if es, _ := os.ReadDir(empty); len(es) != 0 {
		t.Errorf("the target of .Evil got %v", es)
	}
}

func TestEscape_symlinkedControlFiles(t *testing.T) {
	s := newListServer(t, nil)
	bob, snap := outsideMaildir(t)
	c := s.dial(t)
	if _, err := appendMsg(c, "INBOX", "Subject: mine\r\n\r\nx\r\n"); err != nil {
		t.Fatal(err)
	}
	if err := c.Create("X", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	// subscriptions -> a file with a password hash.
	if err := os.Symlink(filepath.Join(bob, "passwd"), filepath.Join(s.maildir, "subscriptions")); err != nil {
		t.Fatal(err)
	}
	// X's dovecot-uidlist -> a file of bob's.
	xlist := filepath.Join(s.maildir, ".X", "dovecot-uidlist")
	os.Remove(xlist)
	if err := os.Symlink(filepath.Join(bob, "passwd"), xlist); err != nil {
		t.Fatal(err)
	}
	before := snap()
	lsub, _ := c.List("", "*", &imap.ListOptions{SelectSubscribed: true}).Collect()
	for _, d := range lsub {
		if strings.Contains(d.Mailbox, "bob") || strings.Contains(d.Mailbox, "BLF") {
			t.Errorf("LSUB shows a line of the linked file: %q", d.Mailbox)
		}
	}
	c.Select("X", nil).Wait()
	appendMsg(c, "X", "Subject: into X\r\n\r\nx\r\n")
	if after := snap(); after != before {
		t.Errorf("another user's files changed:\nbefore\n%s\nafter\n%s", before, after)
	}
}

// A FIFO as a control file or in place of a message never blocks: every
// command answers.
func TestEscape_fifos(t *testing.T) {
	s := newListServer(t, nil)
	c := s.dial(t)
	if _, err := appendMsg(c, "INBOX", "Subject: one\r\n\r\nx\r\n"); err != nil {
		t.Fatal(err)
	}
	if err := c.Create("F", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := appendMsg(c, "F", "Subject: two\r\n\r\ny\r\n"); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(s.maildir, ".F")
	for _, p := range []string{
		filepath.Join(s.maildir, "subscriptions"),
		filepath.Join(f, "dovecot-uidlist"),
		filepath.Join(f, "dovecot-keywords"),
	} {
		os.Remove(p)
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A FIFO renamed over INBOX's message file.
	files := messageFiles(t, s.maildir)
	if len(files) != 1 {
		t.Fatalf("INBOX files %v", files)
	}
	msg := filepath.Join(s.maildir, files[0])
	fifo := filepath.Join(s.maildir, "tmp", "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(fifo, msg); err != nil {
		t.Fatal(err)
	}

	done := make(chan struct{})
	go func() {
		defer close(done)
		o := s.dial(t)
		o.List("", "*", &imap.ListOptions{SelectSubscribed: true}).Collect()
		o.Select("F", nil).Wait()
		o.Status("F", &imap.StatusOptions{NumMessages: true, Size: true}).Wait()
		o.Select("INBOX", nil).Wait()
		o.Fetch(seqAll(), &imap.FetchOptions{RFC822Size: true, Envelope: true, BodySection: []*imap.FetchItemBodySection{{}}}).Collect()
		o.Status("INBOX", &imap.StatusOptions{Size: true}).Wait()
		o.Noop().Wait()
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("a command blocked on a FIFO")
	}
	// Another session is not held up either.
	if _, err := c.List("", "*", nil).Collect(); err != nil {
		t.Fatal(err)
	}
	// A FIFO as subscriptions is a clean NO, not a server bug.
	_, err := c.List("", "*", &imap.ListOptions{SelectSubscribed: true}).Collect()
	if code := imapCode(err); err == nil || code == imap.ResponseCodeServerBug {
		t.Errorf("LSUB with a FIFO as subscriptions = %v, want a clean NO", err)
	}
}

func seqAll() imap.SeqSet {
	var s imap.SeqSet
	s.AddRange(1, 0)
	return s
}
