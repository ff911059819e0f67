package maildirbackend_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
	"github.com/maildir-imapd/maildir-imapd/watch"
)

// notifyWait bounds every wait for a notification; tests never assert on
// timings.
const notifyWait = 20 * time.Second

// notifyConn is a raw IMAP connection that reads unsolicited responses as
// they come.
type notifyConn struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
	tag  int
}

// dialNotify connects to s and logs in.
func dialNotify(t testing.TB, s *maildirtest.Server) *notifyConn {
	t.Helper()
	conn, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &notifyConn{t: t, conn: conn, r: bufio.NewReader(conn)}
	c.line()
	c.ok("LOGIN " + maildirtest.User + " " + maildirtest.Password)
	return c
}

// line reads one line (without CRLF) within notifyWait.
func (c *notifyConn) line() string {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(notifyWait))
	l, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read: %v (so far %q)", err, l)
	}
	return strings.TrimRight(l, "\r\n")
}

// send writes a raw line.
func (c *notifyConn) send(line string) {
	c.t.Helper()
	if _, err := fmt.Fprintf(c.conn, "%s\r\n", line); err != nil {
		c.t.Fatal(err)
	}
}

// cmd runs a command and returns its untagged lines and the tagged one.
func (c *notifyConn) cmd(command string) (untagged []string, tagged string) {
	c.t.Helper()
	c.tag++
	tag := fmt.Sprintf("t%d", c.tag)
	c.send(tag + " " + command)
	for {
		l := c.line()
		if strings.HasPrefix(l, tag+" ") {
			return untagged, strings.TrimPrefix(l, tag+" ")
		}
		untagged = append(untagged, l)
	}
}

// ok runs a command that must succeed and returns its untagged lines.
func (c *notifyConn) ok(command string) []string {
	c.t.Helper()
	u, tagged := c.cmd(command)
	if !strings.HasPrefix(tagged, "OK") {
		c.t.Fatalf("%s: %s", command, tagged)
	}
	return u
}

// expect reads lines until one matches re and returns it; the lines
// skipped are returned too.
func (c *notifyConn) expect(re string) (string, []string) {
	c.t.Helper()
	rx := regexp.MustCompile(re)
	var skipped []string
	for {
		l := c.line()
		if rx.MatchString(l) {
			return l, skipped
		}
		skipped = append(skipped, l)
	}
}

// idle starts IDLE.
func (c *notifyConn) idle() {
	c.t.Helper()
	c.send("idle IDLE")
	if l := c.line(); !strings.HasPrefix(l, "+ ") {
		c.t.Fatalf("IDLE: %q", l)
	}
}

// done ends IDLE and returns the lines before its tagged reply.
func (c *notifyConn) done() []string {
	c.t.Helper()
	c.send("DONE")
	_, skipped := c.expect(`^idle OK`)
	return skipped
}

// makeFolder creates the Maildir++ folder of mailbox name as another
// program does.
func makeNotifyFolder(t testing.TB, s *maildirtest.Server, name string) string {
	t.Helper()
	dir := s.Folder(name)
	for _, d := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "maildirfolder"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestNotify_unselectedFolder: a delivery into a folder that is not
// selected (tmp/, rename into new/), a flag change and a removal by other
// programs reach a client in IDLE as STATUS responses.
func TestNotify_unselectedFolder(t *testing.T) {
	s := maildirtest.NewServer(t, nil)
	work := makeNotifyFolder(t, s, "Work")
	c := dialNotify(t, s)
	if caps := c.ok("CAPABILITY"); !strings.Contains(caps[0], " NOTIFY") {
		t.Fatalf("NOTIFY not advertised: %q", caps)
	}
	c.ok("SELECT INBOX")
	c.ok("NOTIFY SET (selected (MessageNew MessageExpunge)) (personal (MessageNew MessageExpunge FlagChange))")
	c.idle()
	key := maildirtest.Deliver(t, work, maildirtest.Message("one"))
	l, skipped := c.expect(`^\* STATUS`)
	if !regexp.MustCompile(`^\* STATUS Work \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+ UNSEEN 1\)$`).MatchString(l) || len(skipped) > 0 {
		t.Fatalf("after a delivery into Work: %q (before it %q)", l, skipped)
	}
	maildirtest.SetFlags(t, work, key, "S")
	if l, _ := c.expect(`^\* STATUS`); l != "* STATUS Work (UNSEEN 0)" {
		t.Fatalf("after \\Seen set by another program: %q", l)
	}
	maildirtest.Remove(t, work, key)
	if l, _ := c.expect(`^\* STATUS`); !strings.Contains(l, "(MESSAGES 0 UIDNEXT 2 ") {
		t.Fatalf("after the message was removed: %q", l)
	}
	if rest := c.done(); len(rest) > 0 {
		t.Errorf("unexpected responses: %q", rest)
	}
	// The selected mailbox gets no STATUS, only its own updates.
	maildirtest.Deliver(t, s.Folder("INBOX"), maildirtest.Message("two"))
	if l, _ := c.expect(`EXISTS|STATUS`); l != "* 1 EXISTS" {
		t.Fatalf("a delivery into the selected INBOX gave %q", l)
	}
}

// TestNotify_mailboxName: folders created, renamed and removed by another
// program, and a subscription added by one, are reported between commands
// as LIST responses.
func TestNotify_mailboxName(t *testing.T) {
	s := maildirtest.NewServer(t, nil)
	c := dialNotify(t, s)
	c.ok("NOTIFY SET (personal (MailboxName SubscriptionChange))")
	makeNotifyFolder(t, s, "Projects")
	if l, _ := c.expect(`^\* LIST`); l != `* LIST () "." Projects` {
		t.Fatalf("folder created: %q", l)
	}
	if err := os.Rename(s.Folder("Projects"), s.Folder("Archive.Projects")); err != nil {
		t.Fatal(err)
	}
	if l, _ := c.expect(`^\* LIST`); l != `* LIST () "." Archive.Projects ("OLDNAME" (Projects))` {
		t.Fatalf("folder renamed: %q", l)
	}
	if err := os.RemoveAll(s.Folder("Archive.Projects")); err != nil {
		t.Fatal(err)
	}
	if l, _ := c.expect(`^\* LIST`); l != `* LIST (\NonExistent) "." Archive.Projects` {
		t.Fatalf("folder removed: %q", l)
	}
	// As Dovecot writes it: a new file renamed over the old one.
	tmp := filepath.Join(s.Maildir, "subscriptions.lock")
	if err := os.WriteFile(tmp, []byte("V\t2\n\nTrash\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(s.Maildir, "subscriptions")); err != nil {
		t.Fatal(err)
	}
	if l, _ := c.expect(`^\* LIST`); l != `* LIST (\Subscribed) "." Trash` {
		t.Fatalf("subscription added: %q", l)
	}
	// A session's own CREATE is reported too, as Dovecot does.
	u := c.ok("CREATE Drafts")
	if len(u) > 1 {
		t.Errorf("CREATE: %q", u)
	}
}

// TestNotify_overflow: more mailbox-list changes in one report than
// NotifyLimit give NOTIFICATIONOVERFLOW, and notifications stop.
func TestNotify_overflow(t *testing.T) {
	s := maildirtest.NewServer(t, &maildirtest.Options{Backend: maildirbackend.Options{NotifyLimit: 3}})
	c := dialNotify(t, s)
	c.ok("NOTIFY SET (subtree INBOX (MessageNew MessageExpunge)) (personal (MailboxName))")
	// A command in progress holds the notifications until it ends: an
	// APPEND waiting for its literal.
	msg := "Subject: x\r\n\r\nx\r\n"
	c.send(fmt.Sprintf("a APPEND INBOX {%d}", len(msg)))
	if l := c.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("APPEND: %q", l)
	}
	for i := range 5 {
		makeNotifyFolder(t, s, fmt.Sprintf("F%d", i))
	}
	// The folder list is read when the notifications go out (at the end
	// of the command, or after it if the watcher reports later): all five
	// folders are one report.
	c.send(msg)
	var tagged string
	overflow := false
	for tagged == "" || !overflow {
		l := c.line()
		switch {
		case strings.HasPrefix(l, "a "):
			tagged = l
		case strings.HasPrefix(l, "* OK [NOTIFICATIONOVERFLOW]"):
			overflow = true
		case strings.HasPrefix(l, "* LIST"):
			t.Errorf("a LIST response despite the overflow: %q", l)
		}
	}
	if !strings.HasPrefix(tagged, "a OK") {
		t.Fatalf("APPEND: %q", tagged)
	}
	// Off now: a new folder and a delivery are not reported.
	makeNotifyFolder(t, s, "Later")
	maildirtest.Deliver(t, s.Folder("INBOX"), maildirtest.Message("late"))
	u := c.ok("NOOP")
	for _, l := range u {
		if strings.Contains(l, "LIST") || strings.Contains(l, "STATUS") {
			t.Errorf("after the overflow: %q", l)
		}
	}
}

// TestNotify_commandErrors: unsupported events are NO [BADEVENT] listing
// the supported ones; bad combinations are BAD; too many mailboxes is
// NO [NOTIFICATIONOVERFLOW].
func TestNotify_commandErrors(t *testing.T) {
	s := maildirtest.NewServer(t, &maildirtest.Options{Backend: maildirbackend.Options{NotifyLimit: 2}})
	c := dialNotify(t, s)
	tests := []struct {
		name, args, want string
	}{
		{"annotation", "SET (personal (MessageNew MessageExpunge AnnotationChange))", "NO [BADEVENT (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange)]"},
		{"metadata", "SET (personal (MailboxMetadataChange))", "NO [BADEVENT "},
		{"new without expunge", "SET (selected (MessageNew))", "BAD"},
		{"flags alone", "SET (selected-delayed (FlagChange))", "BAD"},
		{"two selected", "SET (selected (MessageNew MessageExpunge)) (selected-delayed NONE)", "BAD"},
		{"mailbox event for selected", "SET (selected (MailboxName))", "BAD"},
		{"fetch for other mailboxes", "SET (personal (MessageNew (UID) MessageExpunge))", "BAD"},
		{"no group", "SET", "BAD"},
		{"unknown filter", "SET (everything (MessageNew MessageExpunge))", "BAD"},
		{"too many mailboxes", "SET (mailboxes (INBOX A B) (MessageNew MessageExpunge))", "NO [NOTIFICATIONOVERFLOW]"},
		{"none", "NONE", "OK"},
		{"status", "SET STATUS (mailboxes INBOX (MessageNew MessageExpunge))", "OK"},
	}
	makeNotifyFolder(t, s, "A")
	makeNotifyFolder(t, s, "B")
	for _, tt := range tests {
		_, tagged := c.cmd("NOTIFY " + tt.args)
		if !strings.HasPrefix(tagged, tt.want) {
			t.Errorf("%s: NOTIFY %s answered %q, want %q", tt.name, tt.args, tagged, tt.want)
		}
	}
}

// TestNotify_setStatus: SET STATUS sends the STATUS of every mailbox the
// groups name but the selected one before OK.
func TestNotify_setStatus(t *testing.T) {
	s := maildirtest.NewServer(t, nil)
	maildirtest.Deliver(t, makeNotifyFolder(t, s, "Lists.Go"), maildirtest.Message("a"))
	makeNotifyFolder(t, s, "Lists.Rust")
	makeNotifyFolder(t, s, "Other")
	c := dialNotify(t, s)
	c.ok("SELECT Lists.Rust")
	u := c.ok("NOTIFY SET STATUS (subtree Lists (MessageNew MessageExpunge)) (mailboxes INBOX (MessageNew MessageExpunge))")
	if len(u) != 2 || !regexp.MustCompile(`^\* STATUS INBOX \(MESSAGES 0 UIDNEXT 1 UIDVALIDITY \d+ UNSEEN 0\)$`).MatchString(u[0]) ||
		!regexp.MustCompile(`^\* STATUS Lists\.Go \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+ UNSEEN 1\)$`).MatchString(u[1]) {
		t.Fatalf("NOTIFY SET STATUS: %q", u)
	}
}

// TestNotify_selectedFetch: with SELECTED and MessageNew's fetch
// attributes, a delivery into the selected mailbox is pushed between
// commands (no IDLE) as EXISTS and the FETCH asked for.
func TestNotify_selectedFetch(t *testing.T) {
	s := maildirtest.NewServer(t, nil)
	c := dialNotify(t, s)
	c.ok("SELECT INBOX")
	c.ok("NOTIFY SET (selected (MessageNew (UID BODY.PEEK[HEADER.FIELDS (Subject)]) MessageExpunge))")
	maildirtest.Deliver(t, s.Folder("INBOX"), maildirtest.Message("pushed"))
	if l, _ := c.expect(`EXISTS`); l != "* 1 EXISTS" {
		t.Fatalf("EXISTS: %q", l)
	}
	if l, _ := c.expect(`FETCH`); l != "* 1 FETCH (UID 1 BODY[HEADER.FIELDS (Subject)] {19}" {
		t.Fatalf("FETCH: %q", l)
	}
	if l := c.line(); l != "Subject: pushed" {
		t.Fatalf("FETCH literal: %q", l)
	}
	// In IDLE too.
	c.line()
	c.line()
	c.idle()
	maildirtest.Deliver(t, s.Folder("INBOX"), maildirtest.Message("idle"))
	if l, _ := c.expect(`EXISTS`); l != "* 2 EXISTS" {
		t.Fatalf("EXISTS in IDLE: %q", l)
	}
	if l, _ := c.expect(`FETCH`); !strings.HasPrefix(l, "* 2 FETCH (UID 2 BODY[HEADER.FIELDS (Subject)] {") {
		t.Fatalf("FETCH in IDLE: %q", l)
	}
	c.done()
}

// TestNotify_refusedKeepsPrevious: a NOTIFY SET refused for naming too
// many mailboxes leaves the previous set on, as in Dovecot.
func TestNotify_refusedKeepsPrevious(t *testing.T) {
	s := maildirtest.NewServer(t, &maildirtest.Options{Backend: maildirbackend.Options{NotifyLimit: 2}})
	work := makeNotifyFolder(t, s, "Work")
	makeNotifyFolder(t, s, "Other")
	c := dialNotify(t, s)
	c.ok("NOTIFY SET (mailboxes Work (MessageNew MessageExpunge))")
	if _, tagged := c.cmd("NOTIFY SET (personal (MessageNew MessageExpunge))"); !strings.HasPrefix(tagged, "NO [NOTIFICATIONOVERFLOW]") {
		t.Fatalf("PERSONAL over three folders with NotifyLimit 2: %q", tagged)
	}
	maildirtest.Deliver(t, work, maildirtest.Message("still"))
	if l, _ := c.expect(`^\* STATUS`); !strings.HasPrefix(l, "* STATUS Work (MESSAGES 1 ") {
		t.Fatalf("after the refused SET: %q", l)
	}
}

// TestNotify_selectedDelayed: with SELECTED-DELAYED, a message removed by
// another program is not expunged between commands; the next NOOP sends
// the EXPUNGE. A new message is pushed at once.
func TestNotify_selectedDelayed(t *testing.T) {
	s := maildirtest.NewServer(t, nil)
	inbox := s.Folder("INBOX")
	key := maildirtest.Deliver(t, inbox, maildirtest.Message("old"))
	c := dialNotify(t, s)
	c.ok("SELECT INBOX")
	c.ok("NOTIFY SET (selected-delayed (MessageNew MessageExpunge))")
	maildirtest.Remove(t, inbox, key)
	maildirtest.Deliver(t, inbox, maildirtest.Message("new"))
	if l, skipped := c.expect(`EXISTS|EXPUNGE`); l != "* 2 EXISTS" || len(skipped) > 0 {
		t.Fatalf("pushed between commands: %q after %q, want * 2 EXISTS and no EXPUNGE", l, skipped)
	}
	u := c.ok("NOOP")
	if !slices.Contains(u, "* 1 EXPUNGE") {
		t.Fatalf("NOOP: %q, want the delayed EXPUNGE", u)
	}
}

// TestNotify_idleWithoutSelected: NOTIFY without a SELECTED group; in
// IDLE the session's own push of the selected INBOX goes on, and a folder
// created by another program is reported during the same IDLE.
func TestNotify_idleWithoutSelected(t *testing.T) {
	s := maildirtest.NewServer(t, nil)
	c := dialNotify(t, s)
	c.ok("SELECT INBOX")
	c.ok("NOTIFY SET (personal (MailboxName))")
	c.idle()
	makeNotifyFolder(t, s, "Inbox2")
	if l, _ := c.expect(`^\* LIST`); l != `* LIST () "." Inbox2` {
		t.Fatalf("in IDLE: %q", l)
	}
	maildirtest.Deliver(t, s.Folder("INBOX"), maildirtest.Message("x"))
	if l, _ := c.expect(`EXISTS|STATUS`); l != "* 1 EXISTS" {
		t.Fatalf("a delivery into the selected INBOX: %q", l)
	}
	c.done()
}

// TestNotify_polled: with no inotify watch to spare for them, folders are
// polled, and NOTIFY still reports a delivery into a folder that
// is not selected and a folder created by another program; SUBSCRIBED
// follows the subscriptions.
func TestNotify_polled(t *testing.T) {
	// One watch: the root directory takes it, every folder is polled.
	s := maildirtest.NewServer(t, &maildirtest.Options{Watch: watch.Options{MaxWatches: 1, PollInterval: 50 * time.Millisecond}})
	work := makeNotifyFolder(t, s, "Work")
	c := dialNotify(t, s)
	c.ok("SUBSCRIBE Work")
	c.ok("NOTIFY SET (subscribed (MessageNew MessageExpunge)) (personal (MailboxName))")
	c.idle()
	maildirtest.Deliver(t, work, maildirtest.Message("polled"))
	if l, _ := c.expect(`^\* STATUS`); !strings.HasPrefix(l, "* STATUS Work (MESSAGES 1 ") {
		t.Fatalf("polled delivery: %q", l)
	}
	makeNotifyFolder(t, s, "Later")
	if l, _ := c.expect(`^\* LIST`); l != `* LIST () "." Later` {
		t.Fatalf("polled folder creation: %q", l)
	}
	c.done()
}

// TestNotify_listBound: MailboxName over an account with more folders than
// ten times NotifyLimit is refused, so that the folder list a session
// keeps stays bounded.
func TestNotify_listBound(t *testing.T) {
	s := maildirtest.NewServer(t, &maildirtest.Options{Backend: maildirbackend.Options{NotifyLimit: 2}})
	for i := range 21 {
		makeNotifyFolder(t, s, fmt.Sprintf("F%02d", i))
	}
	c := dialNotify(t, s)
	if _, tagged := c.cmd("NOTIFY SET (personal (MailboxName))"); !strings.HasPrefix(tagged, "NO [NOTIFICATIONOVERFLOW]") {
		t.Fatalf("MailboxName over 21 folders with NotifyLimit 2: %q", tagged)
	}
	if err := os.RemoveAll(s.Folder("F00")); err != nil {
		t.Fatal(err)
	}
	c.ok("NOTIFY SET (personal (MailboxName))")
	makeNotifyFolder(t, s, "F99") // the 21st
	if l, _ := c.expect(`NOTIFICATIONOVERFLOW|LIST`); !strings.HasPrefix(l, "* OK [NOTIFICATIONOVERFLOW]") {
		t.Fatalf("past the bound: %q", l)
	}
}
