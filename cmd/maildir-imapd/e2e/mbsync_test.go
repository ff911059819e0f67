package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// mbsyncEnv is a server Maildir, a daemon serving it, and an mbsync
// configuration syncing it two ways with a local Maildir.
type mbsyncEnv struct {
	t      *testing.T
	mbsync string
	d      *daemon
	server string            // the served Maildir
	local  string            // mbsync's near-side Maildir
	rc     string            // the .mbsyncrc
	boxes  []string          // IMAP mailboxes; the server tree has the first four
	folder map[string]string // IMAP mailbox -> server folder directory
	near   map[string]string // IMAP mailbox -> local folder directory
}

func newMbsyncEnv(t *testing.T) *mbsyncEnv {
	t.Helper()
	e := &mbsyncEnv{
		t:      t,
		mbsync: requireTool(t, "mbsync", "isync"),
		server: filepath.Join(t.TempDir(), "Maildir"),
		local:  filepath.Join(t.TempDir(), "local"),
	}
	makeMaildir(t, e.server, "Archive", "Work", "Work.Clients")
	if err := os.Mkdir(e.local, 0o700); err != nil {
		t.Fatal(err)
	}
	e.folder = map[string]string{"INBOX": e.server}
	e.near = map[string]string{"INBOX": filepath.Join(e.local, "INBOX")}
	e.boxes = []string{"INBOX"}
	for _, mb := range []string{"Archive", "Work", "Work.Clients"} {
		e.addMailbox(mb)
	}

	// INBOX: seen, unseen in new/, a keyword ($label1 = letter a), and one
	// the client will delete.
	putMessage(t, e.server, "cur", "S", message("Welcome", "Hello Alice."))
	putMessage(t, e.server, "new", "", message("Unread news", "Fresh off the press."))
	putMessage(t, e.server, "cur", "a", message("Tagged report", "Quarterly numbers."))
	putMessage(t, e.server, "cur", "S", message("Doomed", "Delete me."))
	if err := os.WriteFile(filepath.Join(e.server, "dovecot-keywords"), []byte("0 $label1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	putMessage(t, e.folder["Archive"], "cur", "S", message("Old stuff", "From last year."))
	putMessage(t, e.folder["Work"], "cur", "FS", message("Project plan", "Milestones."))
	putMessage(t, e.folder["Work.Clients"], "cur", "RS", message("Client call", "Notes of the call."))

	e.d = startDaemon(t, singleUserConfig(e.server))
	_, port, err := net.SplitHostPort(e.d.Addr)
	if err != nil {
		t.Fatal(err)
	}
	// isync 1.4 syntax (Debian 12 ships 1.4.4): SSLType, Far/Near.
	rc := fmt.Sprintf(`IMAPAccount e2e
Host 127.0.0.1
Port %s
User %s
Pass "%s"
SSLType None
AuthMechs LOGIN

IMAPStore e2e-remote
Account e2e

MaildirStore e2e-local
Path %s/
Inbox %s
SubFolders Verbatim

Channel e2e
Far :e2e-remote:
Near :e2e-local:
Patterns *
Create Both
Expunge Both
SyncState *
`, port, testUser, testPass, e.local, e.near["INBOX"])
	e.rc = filepath.Join(t.TempDir(), "mbsyncrc")
	if err := os.WriteFile(e.rc, []byte(rc), 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

// addMailbox records the folder directories of mailbox mb on both sides:
// Maildir++ ".Work.Clients" on the server, "Work/Clients" locally
// (SubFolders Verbatim).
func (e *mbsyncEnv) addMailbox(mb string) {
	e.boxes = append(e.boxes, mb)
	e.folder[mb] = filepath.Join(e.server, "."+mb)
	e.near[mb] = filepath.Join(e.local, filepath.FromSlash(strings.ReplaceAll(mb, ".", "/")))
}

// sync runs `mbsync -a` and fails on a non-zero exit or an error message.
func (e *mbsyncEnv) sync(step string) {
	e.t.Helper()
	res := runTool(e.t, []string{"HOME=" + e.t.TempDir()}, e.mbsync, "-c", e.rc, "-a")
	if res.code != 0 || strings.Contains(res.stderr, "Error") {
		e.t.Fatalf("%s: mbsync -a: %v", step, res)
	}
	e.t.Logf("%s: mbsync -a: %v", step, res)
}

// compareSides checks that each mailbox holds the same messages with the
// same system flags on the server's disk and in mbsync's Maildir.
func (e *mbsyncEnv) compareSides(step string) {
	e.t.Helper()
	for _, mb := range e.boxes {
		srv, loc := readFolder(e.t, e.folder[mb]), readFolder(e.t, e.near[mb])
		if !reflect.DeepEqual(plains(srv), plains(loc)) {
			e.t.Errorf("%s: %s: server and local bodies differ:\nserver: %q\nlocal:  %q", step, mb, plains(srv), plains(loc))
			continue
		}
		for i := range srv {
			// Both sides store LF line endings, byte for byte.
			if s, l := stripTUID(srv[i].Body), stripTUID(loc[i].Body); s != l {
				e.t.Errorf("%s: %s: bytes differ:\nserver %q\nlocal  %q", step, mb, s, l)
			}
			if s, l := flagLetters(srv[i].Info), flagLetters(loc[i].Info); s != l {
				e.t.Errorf("%s: %s: %s: flags on server %q (%s), local %q (%s)", step, mb,
					filepath.Base(srv[i].Path), s, srv[i].Sub, l, loc[i].Sub)
			}
		}
	}
}

// localNames returns every message file path of the local Maildir: a
// re-download or a renumbering changes it (mbsync keeps UIDs in names).
func (e *mbsyncEnv) localNames() []string {
	e.t.Helper()
	var names []string
	for _, mb := range e.boxes {
		for _, m := range readFolder(e.t, e.near[mb]) {
			names = append(names, m.Path)
		}
	}
	slices.Sort(names)
	return names
}

func TestMbsync_twoWaySync(t *testing.T) {
	t.Parallel()
	e := newMbsyncEnv(t)

	// 1. Pull everything into the empty local side.
	e.sync("initial pull")
	e.compareSides("initial pull")
	for _, mb := range e.boxes {
		if n := len(readFolder(t, e.near[mb])); n == 0 {
			t.Errorf("initial pull: local %s is empty", mb)
		}
	}

	// 2. Local changes: flag a message \Seen \Flagged, add a message to
	// Work, delete one; mbsync pushes them.
	inbox := readFolder(t, e.near["INBOX"])
	tagged := findBySubject(t, inbox, "Tagged report")
	if err := os.Rename(tagged.Path, filepath.Join(e.near["INBOX"], "cur", tagged.Key+":2,FS")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(findBySubject(t, inbox, "Doomed").Path); err != nil {
		t.Fatal(err)
	}
	draft := message("Local draft", "Written offline.")
	putMessage(t, e.near["Work"], "new", "", draft)
	// A new local folder: mbsync CREATEs it on the server (Create Both).
	e.addMailbox("Projects")
	makeMaildir(t, e.near["Projects"])
	putMessage(t, e.near["Projects"], "cur", "S", message("Project idea", "Created offline."))
	e.sync("push")

	srvInbox := readFolder(t, e.folder["INBOX"])
	if m := findBySubject(t, srvInbox, "Tagged report"); m.Info != "FSa" {
		t.Errorf("push: server file of the flagged message is %s; want flags FSa (keyword $label1 kept)", filepath.Base(m.Path))
	}
	for _, m := range srvInbox {
		if hasSubject(m.Plain, "Doomed") {
			t.Errorf("push: the message deleted locally is still on the server: %s", m.Path)
		}
	}
	if m := findBySubject(t, readFolder(t, e.folder["Work"]), "Local draft"); stripTUID(m.Body) != draft {
		t.Errorf("push: appended message on disk differs (want LF endings):\n got %q\nwant %q", m.Body, draft)
	}
	snap := snapshotServer(t, e.d.Addr, e.boxes)
	if got, want := msgBySubject(t, snap["INBOX"], "Tagged report").Flags, []string{"$label1", `\Flagged`, `\Seen`}; !slices.Equal(got, want) {
		t.Errorf("push: IMAP flags of the flagged message = %q, want %q", got, want)
	}
	if n := len(snap["INBOX"].Msgs); n != 3 {
		t.Errorf("push: IMAP INBOX has %d messages, want 3 after the expunge", n)
	}
	if m := msgBySubject(t, snap["Work"], "Local draft"); m.Plain != normalize(draft) {
		t.Errorf("push: IMAP body of the appended message = %q, want %q", m.Plain, normalize(draft))
	}
	if fi, err := os.Stat(filepath.Join(e.folder["Projects"], "maildirfolder")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("push: CREATE Projects made no Maildir++ folder with maildirfolder: %v", err)
	}
	e.compareSides("push")

	// 3. An MTA delivers on the server; mbsync pulls it.
	fresh := message("Fresh delivery", "Just arrived.")
	deliver(t, e.server, fresh)
	e.sync("pull delivery")
	if m := findBySubject(t, readFolder(t, e.near["INBOX"]), "Fresh delivery"); m.Plain != normalize(fresh) {
		t.Errorf("pull delivery: local copy %q, want %q", m.Plain, normalize(fresh))
	}
	e.compareSides("pull delivery")

	// 4. Another sync changes nothing on either side.
	names, snap := e.localNames(), snapshotServer(t, e.d.Addr, e.boxes)
	e.sync("idempotent")
	if got := e.localNames(); !slices.Equal(got, names) {
		t.Errorf("idempotent: local files changed:\nbefore %q\nafter  %q", names, got)
	}
	if got := snapshotServer(t, e.d.Addr, e.boxes); !reflect.DeepEqual(got, snap) {
		t.Errorf("idempotent: server changed:\nbefore %+v\nafter  %+v", snap, got)
	}

	// 5. After a restart UIDVALIDITY and UIDs are the same: no re-download.
	e.d.restart()
	if got := snapshotServer(t, e.d.Addr, e.boxes); !reflect.DeepEqual(got, snap) {
		t.Errorf("restart: server state changed:\nbefore %+v\nafter  %+v", snap, got)
	}
	e.sync("after restart")
	if got := e.localNames(); !slices.Equal(got, names) {
		t.Errorf("after restart: local files changed (re-download?):\nbefore %q\nafter  %q", names, got)
	}
	e.compareSides("after restart")
}
