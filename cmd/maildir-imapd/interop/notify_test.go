package interop

import (
	"bufio"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// notifyClient is a raw IMAP client that reads unsolicited responses as
// they come (NOTIFY's STATUS and LIST), for the NOTIFY comparisons.
type notifyClient struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
	tag  int
}

// dialNotify connects to addr and logs in as the test user.
func dialNotify(t testing.TB, addr string) *notifyClient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, deadline)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &notifyClient{t: t, conn: conn, r: bufio.NewReader(conn)}
	c.line()
	c.ok("LOGIN " + testUser + " " + testPass)
	return c
}

// line reads one line, without CRLF, within the deadline.
func (c *notifyClient) line() string {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(deadline))
	l, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read: %v (so far %q)", err, l)
	}
	return strings.TrimRight(l, "\r\n")
}

func (c *notifyClient) send(line string) {
	c.t.Helper()
	if _, err := fmt.Fprintf(c.conn, "%s\r\n", line); err != nil {
		c.t.Fatal(err)
	}
}

// cmd runs a command; it returns the untagged lines and the tagged one
// without its tag.
func (c *notifyClient) cmd(command string) ([]string, string) {
	c.t.Helper()
	c.tag++
	tag := fmt.Sprintf("n%d", c.tag)
	c.send(tag + " " + command)
	var untagged []string
	for {
		l := c.line()
		if strings.HasPrefix(l, tag+" ") {
			return untagged, strings.TrimPrefix(l, tag+" ")
		}
		untagged = append(untagged, l)
	}
}

func (c *notifyClient) ok(command string) []string {
	c.t.Helper()
	u, tagged := c.cmd(command)
	if !strings.HasPrefix(tagged, "OK") {
		c.t.Fatalf("%s: %s", command, tagged)
	}
	return u
}

// until reads lines until one matches re; it returns the lines read, the
// matching one last.
func (c *notifyClient) until(re *regexp.Regexp) []string {
	c.t.Helper()
	var lines []string
	for {
		l := c.line()
		lines = append(lines, l)
		if re.MatchString(l) {
			return lines
		}
	}
}

// notifySetup is the NOTIFY both servers are given: the selected INBOX's
// messages, and every event of every other mailbox.
const notifySetup = "NOTIFY SET (selected (MessageNew MessageExpunge)) (personal (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange))"

// notifyStep is one change made while the watching client idles: the
// client reads until a line matching wait. What it read from
// maildir-imapd must be ours (nil: the same as dovecot); what it read from
// Dovecot must hold dovecot. Every difference is a row of
// docs/differences.md.
type notifyStep struct {
	name          string
	change        func(t *testing.T, other *notifyClient, a *account)
	wait          string
	dovecot, ours []string
}

var uidvalidityRE = regexp.MustCompile(`UIDVALIDITY \d+`)

// appendBy has the other session APPEND the message key to mailbox.
func appendBy(o *notifyClient, mailbox, key string) {
	msg := crlf(testMessage(key))
	o.send(fmt.Sprintf("ap APPEND %s {%d+}\r\n%s", mailbox, len(msg), msg))
	o.until(regexp.MustCompile(`^ap `))
}

// notifySteps are the changes of TestNotify_dovecot, in order.
var notifySteps = []notifyStep{
	{
		name:   "APPEND by another session into Work",
		change: func(t *testing.T, o *notifyClient, a *account) { appendBy(o, "Work", "n1") },
		wait:   `^\* STATUS Work`,
		// Dovecot reports a mailbox it has no record of yet with
		// UIDVALIDITY; later appends without it.
		dovecot: []string{`* STATUS Work (MESSAGES 1 UIDNEXT 2 UIDVALIDITY v UNSEEN 1)`},
	},
	{
		name: "STORE \\Seen by another session in Work",
		change: func(t *testing.T, o *notifyClient, a *account) {
			o.ok("SELECT Work")
			o.ok("STORE 1 +FLAGS (\\Seen)")
			o.ok("UNSELECT")
		},
		wait:    `^\* STATUS Work`,
		dovecot: []string{`* STATUS Work (UNSEEN 0)`},
	},
	{
		name: "delivery by an MTA into new/ of Work, then an APPEND by another session",
		change: func(t *testing.T, o *notifyClient, a *account) {
			if _, err := newMTA(a.owner).deliver(filepath.Join(a.maildir, ".Work"), "n2"); err != nil {
				t.Fatal(err)
			}
			appendBy(o, "Work", "n3")
		},
		wait: `^\* STATUS Work \(MESSAGES 3 `,
		// Dovecot hears of a folder's changes through its index, which
		// an MTA writing into new/ does not touch: it tells nothing of
		// the delivery until the APPEND syncs the folder.
		dovecot: []string{`* STATUS Work (MESSAGES 3 UIDNEXT 4 UNSEEN 2)`},
		ours:    []string{`* STATUS Work (MESSAGES 2 UIDNEXT 3 UIDVALIDITY v UNSEEN 1)`, `* STATUS Work (MESSAGES 3 UIDNEXT 4 UIDVALIDITY v UNSEEN 2)`},
	},
	{
		name:    "CREATE by another session",
		change:  func(t *testing.T, o *notifyClient, a *account) { o.ok("CREATE Projects") },
		wait:    `^\* LIST .* Projects$`,
		dovecot: []string{`* LIST () "." Projects`},
	},
	{
		name:    "RENAME by another session",
		change:  func(t *testing.T, o *notifyClient, a *account) { o.ok("RENAME Projects Archive") },
		wait:    `OLDNAME`,
		dovecot: []string{`* LIST () "." Archive ("OLDNAME" (Projects))`},
	},
	{
		name:    "SUBSCRIBE by another session",
		change:  func(t *testing.T, o *notifyClient, a *account) { o.ok("SUBSCRIBE Archive") },
		wait:    `^\* LIST .* Archive$`,
		dovecot: []string{`* LIST (\Subscribed) "." Archive`},
	},
	{
		name:    "UNSUBSCRIBE by another session",
		change:  func(t *testing.T, o *notifyClient, a *account) { o.ok("UNSUBSCRIBE Archive") },
		wait:    `^\* LIST .* Archive$`,
		dovecot: []string{`* LIST () "." Archive`},
	},
	{
		name:    "DELETE by another session",
		change:  func(t *testing.T, o *notifyClient, a *account) { o.ok("DELETE Archive") },
		wait:    `^\* LIST .* Archive$`,
		dovecot: []string{`* LIST (\NonExistent) "." Archive`},
	},
	{
		name: "folder created by another program, then CREATE by another session",
		change: func(t *testing.T, o *notifyClient, a *account) {
			a.owner.mkMaildir(t, filepath.Join(a.maildir, ".Elsewhere"))
			o.ok("CREATE Later")
		},
		// Dovecot lists Elsewhere only after the CREATE refreshed its
		// mailbox list, with the next change. One report of ours lists
		// the folders it found in name order, hence a name before Later.
		wait:    `^\* LIST .* Later$`,
		dovecot: []string{`* LIST () "." Later`},
		ours:    []string{`* LIST () "." Elsewhere`, `* LIST () "." Later`},
	},
	{
		name: "delivery by an MTA into the selected INBOX",
		change: func(t *testing.T, o *notifyClient, a *account) {
			if _, err := newMTA(a.owner).deliver(a.maildir, "n4"); err != nil {
				t.Fatal(err)
			}
		},
		wait:    `EXISTS`,
		dovecot: []string{`* 1 EXISTS`},
	},
}

// runNotifySteps runs notifySteps against the server at addr and returns
// what the idling client read for each.
func runNotifySteps(t *testing.T, addr string, a *account) [][]string {
	other := dialNotify(t, addr)
	other.ok("CREATE Work")
	c := dialNotify(t, addr)
	c.ok("SELECT INBOX")
	c.ok(notifySetup)
	c.send("idle IDLE")
	if l := c.line(); !strings.HasPrefix(l, "+") {
		t.Fatalf("IDLE: %q", l)
	}
	var got [][]string
	for _, st := range notifySteps {
		st.change(t, other, a)
		lines := c.until(regexp.MustCompile(st.wait))
		for j, l := range lines {
			lines[j] = uidvalidityRE.ReplaceAllString(l, "UIDVALIDITY v")
		}
		got = append(got, lines)
	}
	c.send("DONE")
	rest := c.until(regexp.MustCompile(`^idle `))
	got[len(got)-1] = append(got[len(got)-1], rest[:len(rest)-1]...)
	return got
}

// TestNotify_dovecot runs the same changes against Dovecot 2.3 and
// maildir-imapd, each with a client idling under the same NOTIFY (the
// selected INBOX's messages, every event of the other mailboxes), and
// checks what the client hears of each change: the same as from Dovecot,
// or the difference docs/differences.md describes.
func TestNotify_dovecot(t *testing.T) {
	da := newAccount(t)
	dov := startDovecot(t, da)
	ia := newAccount(t)
	imd := startImapd(t, ia)
	dgot := runNotifySteps(t, dov.Addr, da)
	igot := runNotifySteps(t, imd.Addr, ia)
	for i, st := range notifySteps {
		ours := st.ours
		if ours == nil {
			ours = st.dovecot
		}
		// Dovecot batches its reports and may repeat one, or send one
		// late (after the next change): its answer must hold the
		// lines wanted, in order, and may hold others.
		if !isSubsequence(st.dovecot, dropRecent(dgot[i])) {
			t.Errorf("%s: Dovecot sent %q, want %q among them", st.name, dgot[i], st.dovecot)
		} else if len(dropRecent(dgot[i])) != len(st.dovecot) {
			t.Logf("%s: Dovecot sent %q", st.name, dgot[i])
		}
		if !slices.Equal(dropRecent(igot[i]), ours) {
			t.Errorf("%s: maildir-imapd sent %q, want %q", st.name, igot[i], ours)
		}
	}
	dov.CheckLog(t)
	imd.CheckLog(t)
}

// isSubsequence reports whether want appears in got in order.
func isSubsequence(want, got []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

// dropRecent drops "* n RECENT", which both servers send an IMAP4rev1
// client after EXISTS.
func dropRecent(lines []string) []string {
	return slices.DeleteFunc(slices.Clone(lines), func(l string) bool { return strings.HasSuffix(l, " RECENT") })
}
