package maildirbackend_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/dovecot"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
)

// TestSync_uidlistChangedByAnotherProcess: the folder keeps
// dovecot-uidlist in memory between deliveries; when another process
// appends to it or replaces it (under its lock, as Dovecot does) before
// placing a file, the file gets the UID that process wrote, not the next
// one the cached list would give.
func TestSync_uidlistChangedByAnotherProcess(t *testing.T) {
	s := maildirtest.NewServer(t, nil)
	for _, subject := range []string{"one", "two", "three", "four"} {
		maildirtest.Deliver(t, s.Maildir, maildirtest.Message(subject))
	}
	c := s.Dial(t, nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	// Read and cached, then appended to (a list of four or more lines is
	// appended to, not rewritten: dovecot.NeedsCompaction).
	maildirtest.Deliver(t, s.Maildir, maildirtest.Message("five"))
	waitUIDs(t, c, []imap.UID{1, 2, 3, 4, 5})

	// Another process appends a record, then places its file.
	other(t, s.Maildir, func(path string) error {
		return dovecot.AppendRecords(path, []dovecot.Record{{UID: 8, Key: "1800000000.M1P1.other"}})
	})
	place(t, s.Maildir, "1800000000.M1P1.other")
	waitUIDs(t, c, []imap.UID{1, 2, 3, 4, 5, 8})

	// Another process rewrites the file (a new inode).
	other(t, s.Maildir, func(path string) error {
		list, err := dovecot.ReadUIDList(path)
		if err != nil {
			return err
		}
		list.Records = append(list.Records, dovecot.Record{UID: 11, Key: "1800000001.M2P1.other"})
		list.NextUID = 12
		return dovecot.WriteUIDList(filepath.Dir(path), list)
	})
	place(t, s.Maildir, "1800000001.M2P1.other")
	waitUIDs(t, c, []imap.UID{1, 2, 3, 4, 5, 8, 11})

	maildirtest.Deliver(t, s.Maildir, maildirtest.Message("six"))
	want := []imap.UID{1, 2, 3, 4, 5, 8, 11, 12}
	waitUIDs(t, c, want)
	list, err := dovecot.ReadUIDList(filepath.Join(s.Maildir, "dovecot-uidlist"))
	if err != nil {
		t.Fatal(err)
	}
	var uids []imap.UID
	for _, r := range list.Records {
		uids = append(uids, imap.UID(r.UID))
	}
	if !slices.Equal(uids, want) || list.NeedsRewrite {
		t.Errorf("dovecot-uidlist records %v (needs rewrite %v), want %v", uids, list.NeedsRewrite, want)
	}
}

// other runs change on the Maildir's dovecot-uidlist under its lock.
func other(t *testing.T, maildir string, change func(path string) error) {
	t.Helper()
	lock, err := dovecot.LockUIDList(maildir, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock()
	if err := change(filepath.Join(maildir, "dovecot-uidlist")); err != nil {
		t.Fatal(err)
	}
}

// place writes a message file into tmp/ and renames it into new/ as key.
func place(t *testing.T, maildir, key string) {
	t.Helper()
	tmp := filepath.Join(maildir, "tmp", key)
	if err := os.WriteFile(tmp, []byte(maildirtest.Message(key)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(maildir, "new", key)); err != nil {
		t.Fatal(err)
	}
}

// waitUIDs waits until UID SEARCH ALL answers want.
func waitUIDs(t *testing.T, c *imapclient.Client, want []imap.UID) {
	t.Helper()
	var got []imap.UID
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if err := c.Noop().Wait(); err != nil {
			t.Fatal(err)
		}
		d, err := c.UIDSearch(&imap.SearchCriteria{}, nil).Wait()
		if err != nil {
			t.Fatal(err)
		}
		got = d.AllUIDs()
		if slices.Equal(got, want) {
			return
		}
		if len(got) >= len(want) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("UIDs %v, want %v", got, want)
}
