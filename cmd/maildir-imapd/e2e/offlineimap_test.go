package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestOfflineimap_twoWaySync syncs a served Maildir with offlineimap (a
// Python client that, with UIDPLUS, finds its uploads by APPENDUID): pull,
// push a flag and a new message, pull a delivery, and a last sync that
// changes nothing.
func TestOfflineimap_twoWaySync(t *testing.T) {
	t.Parallel()
	tool := requireTool(t, "offlineimap", "offlineimap")
	server := filepath.Join(t.TempDir(), "Maildir")
	makeMaildir(t, server, "Archive")
	putMessage(t, server, "cur", "S", message("Welcome", "Hello Alice."))
	putMessage(t, server, "new", "", message("Unread news", "Fresh off the press."))
	putMessage(t, filepath.Join(server, ".Archive"), "cur", "S", message("Old stuff", "From last year."))
	d := startDaemon(t, singleUserConfig(server))
	_, port, err := net.SplitHostPort(d.Addr)
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	local := filepath.Join(work, "mail")
	rc := filepath.Join(work, "offlineimaprc")
	conf := fmt.Sprintf(`[general]
accounts = e2e
metadata = %s/meta

[Account e2e]
localrepository = local
remoterepository = remote

[Repository local]
type = Maildir
localfolders = %s

[Repository remote]
type = IMAP
remotehost = 127.0.0.1
remoteport = %s
remoteuser = %s
remotepass = %s
ssl = no
starttls = no
`, work, local, port, testUser, testPass)
	if err := os.WriteFile(rc, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	sync := func() {
		t.Helper()
		mustRun(t, nil, tool, "-c", rc, "-o", "-u", "basic")
	}

	// 1. Pull.
	sync()
	inbox := filepath.Join(local, "INBOX")
	got := readFolder(t, inbox)
	if len(got) != 2 || flagLetters(findBySubject(t, got, "Welcome").Info) != "S" {
		t.Fatalf("after pull, local INBOX = %+v", got)
	}
	if len(readFolder(t, filepath.Join(local, "Archive"))) != 1 {
		t.Fatal("after pull, local Archive is not 1 message")
	}

	// 2. Push: flag a message, add one.
	news := findBySubject(t, got, "Unread news")
	if err := os.Rename(news.Path, filepath.Join(inbox, "cur", filepath.Base(news.Key)+":2,FS")); err != nil {
		t.Fatal(err)
	}
	putMessage(t, inbox, "new", "", message("Written offline", "Sent from the train."))
	sync()
	snap := snapshotServer(t, d.Addr, []string{"INBOX"})["INBOX"]
	if len(snap.Msgs) != 3 {
		t.Fatalf("server INBOX after push: %d messages, want 3", len(snap.Msgs))
	}
	if f := msgBySubject(t, snap, "Unread news").Flags; !slices.Equal(f, []string{`\Flagged`, `\Seen`}) {
		t.Errorf("pushed flags = %v", f)
	}
	msgBySubject(t, snap, "Written offline")

	// 3. A delivery on the server is pulled.
	deliver(t, server, message("Delivered later", "By the MTA."))
	sync()
	findBySubject(t, readFolder(t, inbox), "Delivered later")

	// 4. Nothing left to do: no duplicates on either side.
	before := readFolder(t, inbox)
	sync()
	after := readFolder(t, inbox)
	if !slices.Equal(plains(before), plains(after)) || len(after) != 4 {
		t.Fatalf("a sync with nothing to do changed the local INBOX: %d -> %d messages", len(before), len(after))
	}
	if n := len(snapshotServer(t, d.Addr, []string{"INBOX"})["INBOX"].Msgs); n != 4 {
		t.Fatalf("server INBOX has %d messages, want 4", n)
	}
}
