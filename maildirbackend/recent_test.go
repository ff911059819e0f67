package maildirbackend_test

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
)

// wire is an IMAP4rev1 client on a raw connection: go-imap's client enables
// IMAP4rev2, where the server sends no RECENT.
type wire struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
	n    int
}

func dialWire(t *testing.T, addr string) *wire {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	w := &wire{t: t, conn: conn, r: bufio.NewReader(conn)}
	w.r.ReadString('\n')
	w.cmd("LOGIN " + maildirtest.User + " " + maildirtest.Password)
	return w
}

// cmd runs one command and returns its untagged lines, failing on NO/BAD.
func (w *wire) cmd(line string) []string {
	w.t.Helper()
	w.n++
	tag := fmt.Sprintf("w%d", w.n)
	fmt.Fprintf(w.conn, "%s %s\r\n", tag, line)
	var out []string
	for {
		l, err := w.r.ReadString('\n')
		if err != nil {
			w.t.Fatalf("%s: %v", line, err)
		}
		l = strings.TrimRight(l, "\r\n")
		if strings.HasPrefix(l, tag+" ") {
			if !strings.HasPrefix(l, tag+" OK") {
				w.t.Fatalf("%s: %s", line, l)
			}
			return out
		}
		out = append(out, l)
	}
}

func has(lines []string, s string) bool {
	for _, l := range lines {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

// TestRecent_oneSessionOnly checks RFC 3501 2.3.2: a new message is \Recent
// in exactly one session, the first read-write one told about it; EXAMINE
// shows unclaimed ones without claiming them; STATUS counts the unclaimed;
// STORE cannot set it.
func TestRecent_oneSessionOnly(t *testing.T) {
	s := maildirtest.NewServer(t, nil)
	maildirtest.Deliver(t, s.Maildir, maildirtest.Message("before any session"))

	ex := dialWire(t, s.Addr)
	if l := ex.cmd("STATUS INBOX (RECENT)"); !has(l, "RECENT 1") {
		t.Fatalf("STATUS: want RECENT 1 (delivered before the server saw it): %q", l)
	}
	if l := ex.cmd("EXAMINE INBOX"); !has(l, "* 1 RECENT") {
		t.Fatalf("EXAMINE: want * 1 RECENT: %q", l)
	}
	first := dialWire(t, s.Addr)
	if l := first.cmd("SELECT INBOX"); !has(l, "* 1 RECENT") {
		t.Fatalf("first SELECT (EXAMINE claims nothing): want * 1 RECENT: %q", l)
	}
	second := dialWire(t, s.Addr)
	if l := second.cmd("SELECT INBOX"); !has(l, "* 0 RECENT") {
		t.Fatalf("second SELECT: want * 0 RECENT: %q", l)
	}
	if l := ex.cmd("STATUS INBOX (RECENT)"); !has(l, "RECENT 0") {
		t.Fatalf("STATUS after a SELECT claimed it: want RECENT 0: %q", l)
	}

	// A delivery now is recent in the first session only.
	maildirtest.Deliver(t, s.Maildir, maildirtest.Message("while selected"))
	deadline := time.Now().Add(10 * time.Second)
	l := first.cmd("NOOP")
	for ; !has(l, "* 2 EXISTS"); l = first.cmd("NOOP") {
		if time.Now().After(deadline) {
			t.Fatal("no EXISTS for the delivery")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !has(l, "* 2 RECENT") {
		t.Errorf("first session: want * 2 RECENT with the EXISTS: %q", l)
	}
	if l := first.cmd("UID SEARCH RECENT"); !has(l, "* SEARCH 1 2") {
		t.Errorf("first session: SEARCH RECENT = %q, want 1 2", l)
	}
	if l := first.cmd("UID FETCH 2 (FLAGS)"); !has(l, `\Recent`) {
		t.Errorf("first session: FLAGS of UID 2 = %q, want \\Recent", l)
	}
	// A flag change pushed to the first session keeps \Recent.
	second.cmd("NOOP") // learn about UID 2
	second.cmd(`UID STORE 2 +FLAGS.SILENT (\Flagged)`)
	l = first.cmd("NOOP")
	for ; !has(l, `\Flagged`); l = first.cmd("NOOP") {
		if time.Now().After(deadline) {
			t.Fatal("no FETCH for the other session's STORE")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !has(l, `\Recent`) {
		t.Errorf("pushed FETCH dropped \\Recent: %q", l)
	}
	second.cmd("NOOP")
	if l := second.cmd("UID SEARCH RECENT"); has(l, "1") || has(l, "2") {
		t.Errorf("second session: SEARCH RECENT = %q, want none", l)
	}
	// A client cannot set \Recent: STORE refuses it with BAD
	// (TestSession_invalidSystemFlags); storing another flag shows none.
	if l := second.cmd(`UID STORE 1 +FLAGS (\Seen)`); has(l, `\Recent`) {
		t.Errorf("STORE +FLAGS (\\Seen) showed \\Recent in a session that never had it: %q", l)
	}
}
