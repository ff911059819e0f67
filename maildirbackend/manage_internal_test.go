package maildirbackend

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

func TestSession_create(t *testing.T) {
	s := newListServer(t, nil)
	c := s.dial(t)
	if err := c.Create("Entwürfe", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"cur", "new", "tmp", "maildirfolder"} {
		if _, err := os.Stat(filepath.Join(s.maildir, ".Entw&APw-rfe", p)); err != nil {
			t.Errorf("created folder lacks %s: %v", p, err)
		}
	}
	if err := c.Create("A.", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Create("X.Y", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range list {
		names = append(names, d.Mailbox)
	}
	if want := []string{"INBOX", "A", "Entwürfe", "X", "X.Y"}; !reflect.DeepEqual(names, want) {
		t.Errorf("LIST = %q, want %q", names, want)
	}
	want := []string{".A", ".Entw&APw-rfe", ".X.Y", "cur", "new", "tmp"}
	if got := dirNames(t, s.maildir); !reflect.DeepEqual(got, want) {
		t.Errorf("root = %q, want %q (parents are not created)", got, want)
	}

	// Raw, so that the names reach the server exactly (a control
	// character arrives in modified UTF-7).
	rc := s.raw(t)
	tests := []struct {
		name    string
		mailbox string
		code    imap.ResponseCode
	}{
		{"exists", `A`, imap.ResponseCodeAlreadyExists},
		{"inbox", `inbox`, imap.ResponseCodeAlreadyExists},
		{"dot dot slash", `"../x"`, imap.ResponseCodeCannot},
		{"slash", `"a/b"`, imap.ResponseCodeCannot},
		{"empty level", `a..b`, imap.ResponseCodeCannot},
		{"leading dot", `.x`, imap.ResponseCodeCannot},
		{"control", `"a&AAE-b"`, imap.ResponseCodeCannot},
		{"backslash", `"a\\b"`, imap.ResponseCodeCannot},
		{"too long", strings.Repeat("x", 300), imap.ResponseCodeCannot},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, status := rc.cmd("CREATE " + tc.mailbox)
			if want := "NO [" + string(tc.code) + "]"; !strings.HasPrefix(status, want) {
				t.Errorf("CREATE %s = %s, want %s", tc.mailbox, status, want)
			}
		})
	}
	if got := dirNames(t, s.maildir); !reflect.DeepEqual(got, want) {
		t.Errorf("root after bad names = %q, want %q", got, want)
	}
	if got := dirNames(t, s.parent); !reflect.DeepEqual(got, []string{"Maildir"}) {
		t.Errorf("outside the root = %q", got)
	}
	// A folder written in UTF-8 (Courier) is the same mailbox.
	mkdirs(t, s.maildir, ".Büro")
	if _, status := rc.cmd(`CREATE "B&APw-ro"`); !strings.HasPrefix(status, "NO [ALREADYEXISTS]") {
		t.Errorf("CREATE of a UTF-8 folder's name = %s", status)
	}
	if _, status := rc.cmd(`RENAME "B&APw-ro" Office`); !strings.HasPrefix(status, "OK") {
		t.Errorf("RENAME of a UTF-8 folder = %s", status)
	}
	if _, err := os.Stat(filepath.Join(s.maildir, ".Office", "cur")); err != nil {
		t.Errorf("renamed UTF-8 folder: %v", err)
	}
}

func TestSession_createSpecialUse(t *testing.T) {
	s := newListServer(t, nil)
	c := s.dial(t)
	if err := c.Create("Stuff", &imap.CreateOptions{SpecialUse: []imap.MailboxAttr{imap.MailboxAttrArchive}}).Wait(); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(s.maildir, specialUseName)); got != "\\Archive Stuff\n" {
		t.Errorf("special-use file = %q", got)
	}
	// Configured for this name already: nothing to store.
	if err := c.Create("Sent", &imap.CreateOptions{SpecialUse: []imap.MailboxAttr{imap.MailboxAttrSent}}).Wait(); err != nil {
		t.Fatal(err)
	}
	var ie *imap.Error
	err := c.Create("Trash", &imap.CreateOptions{SpecialUse: []imap.MailboxAttr{imap.MailboxAttrSent}}).Wait()
	if !errors.As(err, &ie) || ie.Code != "USEATTR" {
		t.Errorf("conflicting special use = %v, want NO [USEATTR]", err)
	}
	if _, err := os.Stat(filepath.Join(s.maildir, ".Trash")); !os.IsNotExist(err) {
		t.Errorf("refused CREATE made the folder: %v", err)
	}
	list, err := c.List("", "*", &imap.ListOptions{SelectSpecialUse: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	got := make(map[string][]imap.MailboxAttr)
	for _, d := range list {
		got[d.Mailbox] = d.Attrs
	}
	want := map[string][]imap.MailboxAttr{
		"Sent":  {imap.MailboxAttrHasNoChildren, imap.MailboxAttrSent},
		"Stuff": {imap.MailboxAttrHasNoChildren, imap.MailboxAttrArchive},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("LIST (SPECIAL-USE) = %v, want %v", got, want)
	}
	if err := c.Rename("Stuff", "Things", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(s.maildir, specialUseName)); got != "\\Archive Things\n" {
		t.Errorf("special-use file after RENAME = %q", got)
	}
	if err := c.Create("Things.Sub", &imap.CreateOptions{SpecialUse: []imap.MailboxAttr{"\\drafts"}}).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete("Things").Wait(); err != nil {
		t.Fatal(err)
	}
	// The child folder stays, and so does its attribute.
	if got := readFile(t, filepath.Join(s.maildir, specialUseName)); got != "\\Drafts Things.Sub\n" {
		t.Errorf("special-use file after DELETE = %q", got)
	}
}

func TestSession_delete(t *testing.T) {
	s := newListServer(t, nil)
	fixtureTree(t, s.maildir)
	writeFile(t, filepath.Join(s.maildir, ".Work", "cur", "1.M1P1.h:2,S"), "x")
	c := s.dial(t)
	if err := c.Delete("Work").Wait(); err != nil {
		t.Fatal(err)
	}
	want := []string{".Archive.2024", ".Empty", ".Sent", ".Work.Clients", ".notafolder", "cur", "new", "subscriptions", "tmp"}
	if got := dirNames(t, s.maildir); !reflect.DeepEqual(got, want) {
		t.Errorf("root = %q, want %q", got, want)
	}
	if got := readFile(t, filepath.Join(s.maildir, "subscriptions")); got != "V\t2\n\nINBOX\nSent\nWork\tClients\nOld-Projects\n" {
		t.Errorf("subscriptions changed: %q", got)
	}
	tests := []struct {
		mailbox string
		code    imap.ResponseCode
	}{
		{"INBOX", imap.ResponseCodeCannot},
		{"Work", imap.ResponseCodeNonExistent},
		{"Archive", imap.ResponseCodeNonExistent},
		{"../Maildir", imap.ResponseCodeCannot},
	}
	for _, tc := range tests {
		var ie *imap.Error
		if err := c.Delete(tc.mailbox).Wait(); !errors.As(err, &ie) || ie.Code != tc.code {
			t.Errorf("DELETE %s = %v, want NO [%s]", tc.mailbox, err, tc.code)
		}
	}
}

func TestSession_renameWithChildren(t *testing.T) {
	s := newListServer(t, nil)
	fixtureTree(t, s.maildir)
	writeFile(t, filepath.Join(s.maildir, ".Work.Clients", "cur", "1.M1P1.h:2,S"), "x")
	c := s.dial(t)
	if err := c.Rename("Work", "Job", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	want := []string{"..DOVECOT-TRASHED", ".Archive.2024", ".Empty", ".Job", ".Job.Clients", ".Sent", ".notafolder", "cur", "new", "subscriptions", "tmp"}
	if got := dirNames(t, s.maildir); !reflect.DeepEqual(got, want) {
		t.Errorf("root = %q, want %q", got, want)
	}
	if _, err := os.Stat(filepath.Join(s.maildir, ".Job.Clients", "cur", "1.M1P1.h:2,S")); err != nil {
		t.Errorf("message of the child: %v", err)
	}
	// Subscriptions stay as they were, as Dovecot 2.3 leaves them.
	if got := readFile(t, filepath.Join(s.maildir, "subscriptions")); got != "V\t2\n\nINBOX\nSent\nWork\tClients\nOld-Projects\n" {
		t.Errorf("subscriptions = %q", got)
	}
	tests := []struct {
		name     string
		from, to string
		code     imap.ResponseCode
	}{
		{"into itself", "Job", "Job.Sub", imap.ResponseCodeCannot},
		{"target exists", "Job", "Sent", imap.ResponseCodeAlreadyExists},
		{"child target exists", "Sent", "Empty", imap.ResponseCodeAlreadyExists},
		{"to inbox", "Sent", "INBOX", imap.ResponseCodeAlreadyExists},
		{"missing source", "Nope", "Other", imap.ResponseCodeNonExistent},
		{"bad target", "Sent", "a/b", imap.ResponseCodeCannot},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ie *imap.Error
			if err := c.Rename(tc.from, tc.to, nil).Wait(); !errors.As(err, &ie) || ie.Code != tc.code {
				t.Errorf("RENAME %s %s = %v, want NO [%s]", tc.from, tc.to, err, tc.code)
			}
		})
	}
	if got := dirNames(t, s.maildir); !reflect.DeepEqual(got, want) {
		t.Errorf("root after refused renames = %q, want %q", got, want)
	}
}

func TestSession_renameInbox(t *testing.T) {
	s := newListServer(t, nil)
	writeFile(t, filepath.Join(s.maildir, "new", "1795833488.M1P1.host"), "Subject: one\n\n1\n")
	writeFile(t, filepath.Join(s.maildir, "cur", "1795833489.M2P1.host:2,Sa"), "Subject: two\n\n2\n")
	writeFile(t, filepath.Join(s.maildir, "dovecot-keywords"), "0 $Label1\n")
	c := s.dial(t)
	before, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Unselect().Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Rename("INBOX", "Old", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if got := dirNames(t, filepath.Join(s.maildir, "new")); len(got) != 0 {
		t.Errorf("INBOX new/ = %q", got)
	}
	if got := readFile(t, filepath.Join(s.maildir, ".Old", "dovecot-keywords")); got != "0 $Label1\n" {
		t.Errorf("keywords = %q", got)
	}
	old, err := c.Select("Old", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if old.NumMessages != 2 || old.UIDValidity != before.UIDValidity || old.UIDNext != before.UIDNext {
		t.Errorf("Old = %+v, INBOX before = %+v", old, before)
	}
	msgs, err := c.Fetch(imap.UIDSetNum(1, 2), &imap.FetchOptions{UID: true, Flags: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || !reflect.DeepEqual(msgs[1].Flags, []imap.Flag{imap.FlagSeen, "$Label1"}) {
		t.Errorf("Old messages = %+v", msgs)
	}
	inbox, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if inbox.NumMessages != 0 || inbox.UIDValidity != before.UIDValidity || inbox.UIDNext != before.UIDNext {
		t.Errorf("INBOX after = %+v, before = %+v", inbox, before)
	}
	var ie *imap.Error
	if err := c.Rename("INBOX", "Old", nil).Wait(); !errors.As(err, &ie) || ie.Code != imap.ResponseCodeAlreadyExists {
		t.Errorf("RENAME INBOX onto existing = %v", err)
	}
}

func TestSession_deleteRenameWhileSelected(t *testing.T) {
	s := newListServer(t, nil)
	mkdirs(t, s.maildir, ".Work")
	writeFile(t, filepath.Join(s.maildir, ".Work", "cur", "1795833488.M1P1.host:2,S"), "Subject: x\n\nx\n")
	writeFile(t, filepath.Join(s.maildir, "cur", "1795833488.M2P1.host:2,S"), "Subject: y\n\ny\n")
	a, b := s.dial(t), s.dial(t)
	if _, err := a.Select("Work", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete("Work").Wait(); err != nil {
		t.Fatal(err)
	}
	if err := a.Noop().Wait(); err != nil {
		t.Errorf("NOOP in the deleted mailbox: %v", err)
	}
	if _, err := a.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := b.Rename("INBOX", "Saved", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := a.Noop().Wait(); err != nil {
		t.Errorf("NOOP in the renamed INBOX: %v", err)
	}
	if got := dirNames(t, filepath.Join(s.maildir, ".Saved", "cur")); len(got) != 1 {
		t.Errorf("Saved/cur = %q", got)
	}
}

func TestSession_subscribeConcurrent(t *testing.T) {
	s := newListServer(t, nil)
	clients := []*imapclient.Client{s.dial(t), s.dial(t)}
	errs := make(chan error, 2)
	for i, c := range clients {
		go func() {
			for j := 0; j < 10; j++ {
				if err := c.Subscribe(fmt.Sprintf("M%d.%d", i, j)).Wait(); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range clients {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	list, err := clients[0].List("", "*", &imap.ListOptions{SelectSubscribed: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 20 {
		t.Errorf("%d subscriptions, want 20", len(list))
	}
}
