package maildirbackend

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/maildir-imapd/maildir-imapd/imapd"
)

// listServer is a real server over a Maildir in t.TempDir().
type listServer struct {
	addr    string
	maildir string
	parent  string // the directory holding maildir
}

func newListServer(t testing.TB, opts *Options) *listServer {
	t.Helper()
	return newListServerLog(t, opts, testLogWriter{t})
}

// newListServerLog is newListServer with go-imap's log of internal errors
// (and recovered panics) written to serverLog.
func newListServerLog(t testing.TB, opts *Options, serverLog io.Writer) *listServer {
	t.Helper()
	parent := t.TempDir()
	maildir := filepath.Join(parent, "Maildir")
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(maildir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	o := Options{}
	if opts != nil {
		o = *opts
	}
	o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	o.Authenticate = func(u, p string) (string, error) {
		if u != "u" || p != "p" {
			return "", imapserver.ErrAuthFailed
		}
		return maildir, nil
	}
	b, err := New(&o)
	if err != nil {
		t.Fatal(err)
	}
	// The front-end, as maildirtest chooses it: imapd unless
	// MAILDIR_IMAPD_FRONTEND=imapserver.
	var srv interface {
		Serve(net.Listener) error
		Close() error
	}
	if os.Getenv("MAILDIR_IMAPD_FRONTEND") == "imapserver" {
		srv = imapserver.New(&imapserver.Options{
			NewSession:   b.NewSession,
			Caps:         b.Caps(),
			InsecureAuth: true,
			Logger:       slog.NewLogLogger(slog.NewTextHandler(serverLog, nil), slog.LevelError),
		})
	} else {
		srv = imapd.New(&imapd.Options{
			NewSession:   b.NewEngineSession,
			InsecureAuth: true,
			Logger:       slog.New(slog.NewTextHandler(serverLog, &slog.HandlerOptions{Level: slog.LevelError})),
		})
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
		_ = b.Close()
	})
	return &listServer{addr: ln.Addr().String(), maildir: maildir, parent: parent}
}

// dial returns a logged-in imapclient.
func (s *listServer) dial(t testing.TB) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(s.addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Login("u", "p").Wait(); err != nil {
		t.Fatal(err)
	}
	return c
}

// rawConn is a line-based IMAP connection for checking exact responses.
type rawConn struct {
	t   *testing.T
	c   net.Conn
	r   *bufio.Reader
	tag int
}

func (s *listServer) raw(t *testing.T) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	rc := &rawConn{t: t, c: c, r: bufio.NewReader(c)}
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	if _, err := rc.r.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	if _, status := rc.cmd("LOGIN u p"); !strings.HasPrefix(status, "OK") {
		t.Fatalf("login: %s", status)
	}
	return rc
}

// cmd sends one command and returns its untagged lines (without CRLF) and
// the tagged status ("OK ...", "NO ...").
func (rc *rawConn) cmd(line string) (untagged []string, status string) {
	rc.t.Helper()
	rc.tag++
	tag := fmt.Sprintf("T%d", rc.tag)
	if _, err := fmt.Fprintf(rc.c, "%s %s\r\n", tag, line); err != nil {
		rc.t.Fatal(err)
	}
	for {
		l, err := rc.r.ReadString('\n')
		if err != nil {
			rc.t.Fatalf("%s: %v", line, err)
		}
		l = strings.TrimRight(l, "\r\n")
		if rest, ok := strings.CutPrefix(l, tag+" "); ok {
			return untagged, rest
		}
		untagged = append(untagged, l)
	}
}

func mkdirs(t *testing.T, root string, folders ...string) {
	t.Helper()
	for _, f := range folders {
		for _, sub := range []string{"cur", "new", "tmp"} {
			if err := os.MkdirAll(filepath.Join(root, f, sub), 0o700); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// fixtureTree builds a Dovecot-like tree: folders, a parent that does not
// exist (Archive), a folder without cur/ (Empty), things that are not
// folders, and subscriptions including a deleted mailbox.
func fixtureTree(t *testing.T, root string) {
	t.Helper()
	mkdirs(t, root, ".Sent", ".Work", ".Work.Clients", ".Archive.2024", "..DOVECOT-TRASHED")
	if err := os.Mkdir(filepath.Join(root, ".Empty"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, ".notafolder"), "")
	writeFile(t, filepath.Join(root, "new", "1795833488.M1P1.host"), "Subject: hi\n\nbody\n")
	writeFile(t, filepath.Join(root, "subscriptions"), "V\t2\n\nINBOX\nSent\nWork\tClients\nOld-Projects\n")
}

func TestSession_listRaw(t *testing.T) {
	s := newListServer(t, nil)
	fixtureTree(t, s.maildir)
	rc := s.raw(t)
	tests := []struct {
		name string
		cmd  string
		want []string
	}{
		{"all", `LIST "" "*"`, []string{
			`* LIST (\HasNoChildren) "." INBOX`,
			`* LIST (\Noselect \HasChildren) "." Archive`,
			`* LIST (\HasNoChildren) "." Archive.2024`,
			`* LIST (\HasNoChildren) "." Empty`,
			`* LIST (\HasNoChildren \Sent) "." Sent`,
			`* LIST (\HasChildren) "." Work`,
			`* LIST (\HasNoChildren) "." Work.Clients`,
		}},
		{"top level", `LIST "" "%"`, []string{
			`* LIST (\HasNoChildren) "." INBOX`,
			`* LIST (\Noselect \HasChildren) "." Archive`,
			`* LIST (\HasNoChildren) "." Empty`,
			`* LIST (\HasNoChildren \Sent) "." Sent`,
			`* LIST (\HasChildren) "." Work`,
		}},
		{"delimiter", `LIST "" ""`, []string{`* LIST (\Noselect) "." ""`}},
		{"inbox any case", `LIST "" "inbox"`, []string{`* LIST (\HasNoChildren) "." INBOX`}},
		// RFC 3501 section 6.3.8 and Dovecot (mailbox_list_join_refpattern):
		// the reference and the pattern are concatenated.
		{"reference", `LIST "Work" "%"`, []string{`* LIST (\HasChildren) "." Work`}},
		{"reference with delimiter", `LIST "Work." "%"`, []string{`* LIST (\HasNoChildren) "." Work.Clients`}},
		{"reference INBOX (curl)", `LIST "INBOX" "*"`, []string{`* LIST (\HasNoChildren) "." INBOX`}},
		{"reference inbox any case", `LIST "inbox" "%"`, []string{`* LIST (\HasNoChildren) "." INBOX`}},
		{"many wildcards", `LIST "" "` + strings.Repeat("*", 2000) + `Q"`, nil},
		{"many wildcards, a match", `LIST "" "` + strings.Repeat("*%", 1000) + `k"`, []string{`* LIST (\HasChildren) "." Work`}},
		{"subscribed", `LIST (SUBSCRIBED) "" "*"`, []string{
			`* LIST (\Subscribed) "." INBOX`,
			`* LIST (\Subscribed \NonExistent) "." Old-Projects`,
			`* LIST (\Subscribed \Sent) "." Sent`,
			`* LIST (\Subscribed) "." Work.Clients`,
		}},
		{"recursivematch", `LIST (SUBSCRIBED RECURSIVEMATCH) "" "%" RETURN (CHILDREN)`, []string{
			`* LIST (\Subscribed \HasNoChildren) "." INBOX`,
			`* LIST (\Subscribed \NonExistent \HasNoChildren) "." Old-Projects`,
			`* LIST (\Subscribed \HasNoChildren \Sent) "." Sent`,
			`* LIST (\HasChildren) "." Work (CHILDINFO ("SUBSCRIBED"))`,
		}},
		{"return subscribed", `LIST "" "*" RETURN (SUBSCRIBED)`, []string{
			`* LIST (\Subscribed \HasNoChildren) "." INBOX`,
			`* LIST (\NonExistent \HasChildren) "." Archive`,
			`* LIST (\HasNoChildren) "." Archive.2024`,
			`* LIST (\HasNoChildren) "." Empty`,
			`* LIST (\Subscribed \HasNoChildren \Sent) "." Sent`,
			`* LIST (\HasChildren) "." Work`,
			`* LIST (\Subscribed \HasNoChildren) "." Work.Clients`,
		}},
		{"special-use selection", `LIST (SPECIAL-USE) "" "*"`, []string{
			`* LIST (\HasNoChildren \Sent) "." Sent`,
		}},
		{"lsub", `LSUB "" "*"`, []string{
			`* LSUB () "." INBOX`,
			`* LSUB () "." Old-Projects`,
			`* LSUB () "." Sent`,
			`* LSUB () "." Work.Clients`,
		}},
		{"lsub percent", `LSUB "" "%"`, []string{
			`* LSUB () "." INBOX`,
			`* LSUB () "." Old-Projects`,
			`* LSUB () "." Sent`,
			`* LSUB (\Noselect) "." Work`,
		}},
		{"status", `LIST "" "INBOX" RETURN (STATUS (MESSAGES UIDNEXT))`, []string{
			`* LIST (\HasNoChildren) "." INBOX`,
			`* STATUS INBOX (MESSAGES 1 UIDNEXT 2)`,
		}},
		{"status children special-use", `LIST "" "%" RETURN (CHILDREN SPECIAL-USE STATUS (MESSAGES UIDNEXT))`, []string{
			`* LIST (\HasNoChildren) "." INBOX`,
			`* STATUS INBOX (MESSAGES 1 UIDNEXT 2)`,
			`* LIST (\NonExistent \HasChildren) "." Archive`,
			`* LIST (\HasNoChildren) "." Empty`,
			`* STATUS Empty (MESSAGES 0 UIDNEXT 1)`,
			`* LIST (\HasNoChildren \Sent) "." Sent`,
			`* STATUS Sent (MESSAGES 0 UIDNEXT 1)`,
			`* LIST (\HasChildren) "." Work`,
			`* STATUS Work (MESSAGES 0 UIDNEXT 1)`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, status := rc.cmd(tc.cmd)
			if !strings.HasPrefix(status, "OK") {
				t.Fatalf("%s: %s", tc.cmd, status)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s:\n got %q\nwant %q", tc.cmd, got, tc.want)
			}
		})
	}
}

func TestSession_subscriptions(t *testing.T) {
	s := newListServer(t, nil)
	mkdirs(t, s.maildir, ".Work.Clients")
	c := s.dial(t)
	for _, name := range []string{"inbox", "Entwürfe", "Work.Clients", "Gone", "Work.Clients"} {
		if err := c.Subscribe(name).Wait(); err != nil {
			t.Fatalf("SUBSCRIBE %s: %v", name, err)
		}
	}
	path := filepath.Join(s.maildir, "subscriptions")
	if got, want := readFile(t, path), "V\t2\n\nINBOX\nEntw&APw-rfe\nWork\tClients\nGone\n"; got != want {
		t.Errorf("subscriptions = %q, want %q", got, want)
	}
	for _, name := range []string{"Gone", "Never"} {
		if err := c.Unsubscribe(name).Wait(); err != nil {
			t.Errorf("UNSUBSCRIBE %s: %v", name, err)
		}
	}
	if got, want := readFile(t, path), "V\t2\n\nINBOX\nEntw&APw-rfe\nWork\tClients\n"; got != want {
		t.Errorf("subscriptions = %q, want %q", got, want)
	}
	var ie *imap.Error
	if err := c.Subscribe("a/b").Wait(); !errors.As(err, &ie) {
		t.Errorf("SUBSCRIBE a/b = %v, want NO", err)
	}
	list, err := c.List("", "*", &imap.ListOptions{SelectSubscribed: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range list {
		got = append(got, fmt.Sprintf("%s %v", d.Mailbox, d.Attrs))
	}
	want := []string{`INBOX [\Subscribed]`, `Entwürfe [\Subscribed \NonExistent]`, `Work.Clients [\Subscribed]`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("LIST (SUBSCRIBED) = %q, want %q", got, want)
	}
}

func TestSession_inboxPrefix(t *testing.T) {
	s := newListServer(t, &Options{Prefix: "INBOX."})
	mkdirs(t, s.maildir, ".Sent")
	rc := s.raw(t)
	tests := []struct {
		cmd    string
		status string
		want   []string
	}{
		{`LIST "" "*"`, "OK", []string{
			`* LIST (\HasChildren) "." INBOX`,
			`* LIST (\HasNoChildren \Sent) "." INBOX.Sent`,
		}},
		{`CREATE INBOX.New`, "OK", nil},
		{`CREATE New`, "NO", nil},
		{`SUBSCRIBE INBOX.Sent`, "OK", nil},
		{`LSUB "" "*"`, "OK", []string{`* LSUB () "." INBOX.Sent`}},
		{`LIST "" "INBOX.%"`, "OK", []string{
			`* LIST (\HasNoChildren) "." INBOX.New`,
			`* LIST (\HasNoChildren \Sent) "." INBOX.Sent`,
		}},
	}
	for _, tc := range tests {
		got, status := rc.cmd(tc.cmd)
		if !strings.HasPrefix(status, tc.status) || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s = %q %s, want %q %s", tc.cmd, got, status, tc.want, tc.status)
		}
	}
	if _, err := os.Stat(filepath.Join(s.maildir, ".New", "maildirfolder")); err != nil {
		t.Errorf("INBOX.New folder: %v", err)
	}
	if got := readFile(t, filepath.Join(s.maildir, "subscriptions")); got != "V\t2\n\nSent\n" {
		t.Errorf("subscriptions = %q", got)
	}
}

// testLogWriter sends the server's log of internal errors to the test log,
// so that a NO [SERVERBUG] shows its cause.
type testLogWriter struct{ t testing.TB }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
