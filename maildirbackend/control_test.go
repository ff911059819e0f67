package maildirbackend_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
)

// TestControlDir: with Options.ControlDir (Dovecot's CONTROL=, laid out as
// Dovecot 2.3.19 does it: checked by hand with CREATE, STORE and
// SUBSCRIBE), the
// dovecot-uidlist and dovecot-keywords Dovecot left there are read (the
// client keeps its UIDVALIDITY and UIDs), and every control file written
// goes there, none into the Maildir; RENAME takes a folder's control
// directory along and DELETE removes it.
func TestControlDir(t *testing.T) {
	root := filepath.Join(t.TempDir(), "Maildir")
	ctl := filepath.Join(t.TempDir(), "control")
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	key := "1700000000.M1P1.host,S=5"
	if err := os.WriteFile(filepath.Join(root, "cur", key+":2,Sa"), []byte("x\n\nx\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// What Dovecot 2.3 wrote under CONTROL=: UIDVALIDITY 1234, UID 7.
	writeFileT(t, filepath.Join(ctl, ".INBOX", "dovecot-uidlist"), "3 V1234 N8 G0123456789abcdef0123456789abcdef\n7 :"+key+"\n")
	writeFileT(t, filepath.Join(ctl, ".INBOX", "dovecot-keywords"), "0 Project-X\n")

	s := maildirtest.NewServer(t, &maildirtest.Options{Maildir: root, Backend: maildirbackend.Options{
		ControlDir: func(r string) string {
			if r == root {
				return ctl
			}
			return ""
		},
	}})
	c := s.Dial(t, nil)
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sel.UIDValidity != 1234 || sel.UIDNext != 8 {
		t.Fatalf("UIDVALIDITY %d UIDNEXT %d, want Dovecot's 1234 and 8 from the control directory", sel.UIDValidity, sel.UIDNext)
	}
	msgs, err := c.Fetch(imap.UIDSetNum(7), &imap.FetchOptions{Flags: true, UID: true}).Collect()
	if err != nil || len(msgs) != 1 || !strings.Contains(strings.Join(flagStrings(msgs[0].Flags), " "), "Project-X") {
		t.Fatalf("UID FETCH 7: %v %+v, want the message with keyword Project-X", err, msgs)
	}
	if _, err := c.Store(imap.UIDSetNum(7), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{"NewKeyword"}}, nil).Collect(); err != nil {
		t.Fatal(err)
	}
	if err := c.Create("Work", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Subscribe("Work").Wait(); err != nil {
		t.Fatal(err)
	}
	app := c.Append("Work", 8, nil)
	if _, err := app.Write([]byte("x\r\n\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Wait(); err != nil {
		t.Fatalf("APPEND to Work: %v", err)
	}
	// Dovecot 2.3's layout: INBOX's files in .INBOX, a folder's in .Name.
	for _, f := range []string{".INBOX/dovecot-keywords", "subscriptions", "dovecot-uidvalidity", ".Work/dovecot-uidlist"} {
		if _, err := os.Stat(filepath.Join(ctl, f)); err != nil {
			t.Errorf("control file %s not in the control directory: %v", f, err)
		}
	}
	if kw, _ := os.ReadFile(filepath.Join(ctl, ".INBOX", "dovecot-keywords")); !strings.Contains(string(kw), "NewKeyword") {
		t.Errorf("dovecot-keywords in the control directory lacks NewKeyword:\n%s", kw)
	}
	for _, f := range []string{"dovecot-uidlist", "dovecot-keywords", "subscriptions", "dovecot-uidvalidity", ".Work/dovecot-uidlist"} {
		if _, err := os.Stat(filepath.Join(root, f)); err == nil {
			t.Errorf("control file %s written into the Maildir", f)
		}
	}

	if err := c.Rename("Work", "Play", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(ctl, ".Play", "dovecot-uidlist")); err != nil {
		t.Errorf("RENAME did not take the control directory along: %v", err)
	}
	if err := c.Delete("Play").Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(ctl, ".Play")); err == nil {
		t.Errorf("DELETE left the control directory")
	}
}

func writeFileT(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func flagStrings(flags []imap.Flag) []string {
	out := make([]string, len(flags))
	for i, f := range flags {
		out[i] = string(f)
	}
	return out
}
