package maildirbackend_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
)

// metaGet returns the value of entry of mailbox, "" with ok false for NIL.
func metaGet(t *testing.T, c *imapclient.Client, mailbox, entry string) (string, bool) {
	t.Helper()
	d, err := c.GetMetadata(mailbox, []string{entry}, nil).Wait()
	if err != nil {
		t.Fatalf("GETMETADATA %s %s: %v", mailbox, entry, err)
	}
	v := d.Entries[entry]
	if v == nil {
		return "", false
	}
	return string(*v), true
}

func metaSet(t *testing.T, c *imapclient.Client, mailbox, entry, value string) {
	t.Helper()
	b := []byte(value)
	if err := c.SetMetadata(mailbox, map[string]*[]byte{entry: &b}).Wait(); err != nil {
		t.Fatalf("SETMETADATA %s %s: %v", mailbox, entry, err)
	}
}

func metaServer(t testing.TB, root string, o maildirbackend.MetadataOptions) *maildirtest.Server {
	t.Helper()
	return maildirtest.NewServer(t, &maildirtest.Options{Frontend: "imapd", Maildir: root, Backend: maildirbackend.Options{Metadata: o}})
}

func run(t *testing.T, cmds ...*imapclient.Command) {
	t.Helper()
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestMetadata_followsRename: a mailbox's entries go with it through
// RENAME (its children's too), stay with INBOX when INBOX is renamed, and
// are not found by a new mailbox of the old name.
func TestMetadata_followsRename(t *testing.T) {
	srv := metaServer(t, "", maildirbackend.MetadataOptions{})
	c := srv.Dial(t, nil)
	run(t, c.Create("A", nil), c.Create("A.sub", nil))
	metaSet(t, c, "A", "/private/comment", "of A")
	metaSet(t, c, "A.sub", "/shared/comment", "of A.sub")
	metaSet(t, c, "INBOX", "/private/comment", "of INBOX")
	run(t, c.Rename("A", "B", nil), c.Create("A", nil), c.Rename("INBOX", "Old", nil))
	for _, tc := range []struct {
		mailbox, entry, want string
		ok                   bool
	}{
		{"B", "/private/comment", "of A", true},
		{"B.sub", "/shared/comment", "of A.sub", true},
		{"A", "/private/comment", "", false},
		{"INBOX", "/private/comment", "of INBOX", true},
		{"Old", "/private/comment", "", false},
	} {
		if got, ok := metaGet(t, c, tc.mailbox, tc.entry); got != tc.want || ok != tc.ok {
			t.Errorf("%s %s = %q, %v; want %q, %v", tc.mailbox, tc.entry, got, ok, tc.want, tc.ok)
		}
	}
}

// TestMetadata_goneWithFolder: DELETE, and a folder removed or renamed by
// another program, take the entries with the directory; a folder
// re-created under the name has none.
func TestMetadata_goneWithFolder(t *testing.T) {
	srv := metaServer(t, "", maildirbackend.MetadataOptions{})
	c := srv.Dial(t, nil)
	run(t, c.Create("Del", nil), c.Create("Rm", nil), c.Create("Mv", nil))
	for _, m := range []string{"Del", "Rm", "Mv"} {
		metaSet(t, c, m, "/private/comment", "of "+m)
	}
	run(t, c.Delete("Del"), c.Create("Del", nil))
	if err := os.RemoveAll(srv.Folder("Rm")); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"", "cur", "new", "tmp"} {
		if err := os.Mkdir(filepath.Join(srv.Folder("Rm"), d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Rename(srv.Folder("Mv"), srv.Folder("Moved")); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"Del", "Rm"} {
		if got, ok := metaGet(t, c, m, "/private/comment"); ok {
			t.Errorf("re-created %s has %q", m, got)
		}
	}
	if got, _ := metaGet(t, c, "Moved", "/private/comment"); got != "of Mv" {
		t.Errorf("Moved: %q, want the entry of Mv", got)
	}
	var ne *imap.Error
	if _, err := c.GetMetadata("Mv", []string{"/private/comment"}, nil).Wait(); !errors.As(err, &ne) || ne.Code != imap.ResponseCodeNonExistent {
		t.Errorf("GETMETADATA of a mailbox renamed away: %v", err)
	}
}

// TestMetadata_persists: a new backend (a restart) on the same Maildir
// finds the entries, binary values included.
func TestMetadata_persists(t *testing.T) {
	srv := metaServer(t, "", maildirbackend.MetadataOptions{})
	c := srv.Dial(t, nil)
	run(t, c.Create("Work", nil))
	bin := "\x01\xff\r\n end" // go-imap's client reads no literal8, which a NUL needs
	metaSet(t, c, "Work", "/private/vendor/test/bin", bin)
	metaSet(t, c, "", "/private/comment", "server note")
	c.Close()

	c2 := metaServer(t, srv.Maildir, maildirbackend.MetadataOptions{}).Dial(t, nil)
	if got, _ := metaGet(t, c2, "Work", "/private/vendor/test/bin"); got != bin {
		t.Errorf("after restart: %q, want %q", got, bin)
	}
	if got, _ := metaGet(t, c2, "", "/private/comment"); got != "server note" {
		t.Errorf("server entry after restart: %q", got)
	}
}

// TestMetadata_concurrent: two sessions set entries at once under a limit
// of entries per user: every OK is stored, every TOOMANY is not, and the
// user never goes over the limit.
func TestMetadata_concurrent(t *testing.T) {
	const limit, each = 30, 25
	srv := metaServer(t, "", maildirbackend.MetadataOptions{MaxEntries: limit})
	clients := []*imapclient.Client{srv.Dial(t, nil), srv.Dial(t, nil)}
	run(t, clients[0].Create("Other", nil))
	stored := make([][]bool, len(clients))
	var wg sync.WaitGroup
	for i, c := range clients {
		stored[i] = make([]bool, each)
		mailbox := []string{"INBOX", "Other"}[i]
		wg.Go(func() {
			for k := range each {
				v := []byte("v")
				err := c.SetMetadata(mailbox, map[string]*[]byte{fmt.Sprintf("/private/e%d", k): &v}).Wait()
				var ne *imap.Error
				switch {
				case err == nil:
					stored[i][k] = true
				case errors.As(err, &ne) && ne.Code == "METADATA": // go-imap keeps the first atom

				default:
					t.Errorf("session %d entry %d: %v", i, k, err)
				}
			}
		})
	}
	wg.Wait()
	total := 0
	for i, c := range clients {
		d, err := c.GetMetadata([]string{"INBOX", "Other"}[i], []string{"/private"}, &imapclient.GetMetadataOptions{Depth: imapclient.GetMetadataDepthInfinity}).Wait()
		if err != nil {
			t.Fatal(err)
		}
		for k := range each {
			_, has := d.Entries[fmt.Sprintf("/private/e%d", k)]
			if has != stored[i][k] {
				t.Errorf("session %d entry %d: stored %v, answered OK %v", i, k, has, stored[i][k])
			}
		}
		total += len(d.Entries)
	}
	if total != limit {
		t.Errorf("%d entries stored, want the limit %d", total, limit)
	}
}
