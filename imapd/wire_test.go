package imapd_test

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
)

// rawConn is a client that speaks IMAP as text, for the inputs a library
// client would never send.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func newServer(t *testing.T) *maildirtest.Server {
	t.Helper()
	return maildirtest.NewServer(t, &maildirtest.Options{Frontend: "imapd"})
}

// dialRaw connects and reads the greeting.
func dialRaw(t *testing.T, srv *maildirtest.Server) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &rawConn{t: t, nc: nc, br: bufio.NewReader(nc)}
	if g := c.line(); !strings.HasPrefix(g, "* OK ") {
		t.Fatalf("greeting %q", g)
	}
	return c
}

func (c *rawConn) send(s string) {
	c.t.Helper()
	c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.nc.Write([]byte(s)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// line reads one response line (without CRLF).
func (c *rawConn) line() string {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	l, err := c.br.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read: %v (after %q)", err, l)
	}
	return strings.TrimRight(l, "\r\n")
}

// until reads lines up to and including the one starting with tag+" ", and
// returns them all.
func (c *rawConn) until(tag string) []string {
	c.t.Helper()
	var lines []string
	for {
		l := c.line()
		lines = append(lines, l)
		if strings.HasPrefix(l, tag+" ") {
			return lines
		}
	}
}

// cmd sends "tag line" and returns the responses, the tagged one last.
func (c *rawConn) cmd(tag, line string) []string {
	c.t.Helper()
	c.send(tag + " " + line + "\r\n")
	return c.until(tag)
}

func (c *rawConn) login() {
	c.t.Helper()
	if r := c.cmd("L", fmt.Sprintf("LOGIN %s %s", maildirtest.User, maildirtest.Password)); !strings.HasPrefix(last(r), "L OK") {
		c.t.Fatalf("login: %q", r)
	}
}

func last(lines []string) string { return lines[len(lines)-1] }

// TestWire_malformedIsBad sends command lines the grammar rejects: each
// gets a tagged BAD (never NO [SERVERBUG]) and the connection lives on.
func TestWire_malformedIsBad(t *testing.T) {
	srv := newServer(t)
	c := dialRaw(t, srv)
	c.login()
	c.cmd("s", "SELECT INBOX")
	bad := []string{
		`FETCH`,
		`FETCH 1`,
		`FETCH 0 FLAGS`,
		`FETCH 1:x FLAGS`,
		`FETCH a:b (FLAGS`,
		`STORE 1 +FLAGS (\Seen`,
		`SEARCH SINCE 32-Foo-2024`,
		`SEARCH (SEEN`,
		`SEARCH OR SEEN`,
		`UID COPY 0 INBOX`,
		`SELECT`,
		`STATUS INBOX (MESSAGES FOO)`,
		`LIST "" `,
		`CREATE "unterminated`,
		`RENAME a`,
		`APPEND INBOX (\Seen) "32-Jan-2024 00:00:00 +0000" {3}`,
		`ENABLE`,
		`UID`,
		`UID FOO 1`,
	}
	for i, l := range bad {
		tag := fmt.Sprintf("b%d", i)
		r := c.cmd(tag, l)
		got := last(r)
		if !strings.HasPrefix(got, tag+" BAD") {
			t.Errorf("%q: got %q, want a tagged BAD", l, got)
		}
	}
	if r := c.cmd("n", "NOOP"); !strings.HasPrefix(last(r), "n OK") {
		t.Fatalf("connection unusable after bad commands: %q", r)
	}
}

// TestWire_rejectedLiteralNotRun: the bytes of a non-synchronizing
// literal the server refuses (over the APPEND limit, or in a command that
// fails before reading it) are read and dropped, never run as commands
// (go-imap's server ran them: the hardening issue's item 16).
func TestWire_rejectedLiteralNotRun(t *testing.T) {
	srv := newServer(t)
	c := dialRaw(t, srv)
	c.login()
	payload := "x CREATE Injected\r\n"
	// An accepted literal that looks like a command is a message.
	body := payload + strings.Repeat("y", 100-len(payload))
	c.send("a1 APPEND INBOX {100+}\r\n" + body + "\r\n")
	r := c.until("a1")
	if !strings.HasPrefix(last(r), "a1 OK") {
		t.Fatalf("APPEND: %q", r)
	}
	// A bad mailbox name fails before the literal is read: the literal
	// must still be consumed.
	c.send("a2 APPEND &Jjo {" + fmt.Sprint(len(payload)) + "+}\r\n" + payload + "\r\n")
	r = c.until("a2")
	if !strings.HasPrefix(last(r), "a2 NO") {
		t.Fatalf("APPEND to an invalid name: %q", r)
	}
	// A syntax error before a literal later on the line.
	c.send("a3 STATUS INBOX (FOO) {" + fmt.Sprint(len(payload)) + "+}\r\n" + payload + "\r\n")
	r = c.until("a3")
	if !strings.HasPrefix(last(r), "a3 BAD") {
		t.Fatalf("STATUS with a bad item: %q", r)
	}
	r = c.cmd("l", `LIST "" Injected`)
	for _, l := range r {
		if strings.HasPrefix(l, "* LIST") || strings.HasPrefix(l, "x ") {
			t.Fatalf("a rejected literal was run as a command: %q", r)
		}
	}
}

// TestWire_appendLimitNonSync: an APPEND {n+} over the limit is answered
// NO [TOOBIG] and its bytes are dropped.
func TestWire_appendLimitNonSync(t *testing.T) {
	srv := maildirtest.NewServer(t, &maildirtest.Options{Frontend: "imapd",
		Backend: maildirbackend.Options{AppendLimit: 1 << 20}})
	c := dialRaw(t, srv)
	c.login()
	// A literal larger than the limit; its bytes look like commands.
	size := 1<<20 + 1
	c.send(fmt.Sprintf("t APPEND INBOX {%d+}\r\n", size))
	chunk := strings.Repeat("z CREATE Injected\r\n", 1024)
	sent := 0
	for sent+len(chunk) <= size {
		c.send(chunk)
		sent += len(chunk)
	}
	c.send(strings.Repeat("w", size-sent) + "\r\n")
	r := c.until("t")
	if !strings.HasPrefix(last(r), "t NO [TOOBIG]") {
		t.Fatalf("over-limit APPEND: %q", r)
	}
	r = c.cmd("l", `LIST "" *`)
	for _, l := range r {
		if strings.Contains(l, "Injected") || strings.HasPrefix(l, "z ") {
			t.Fatalf("literal bytes were run: %q", r)
		}
	}
}

// TestWire_listPatterns: issue 7's item 8. A pattern that is not valid
// modified UTF-7 answers an empty OK, as Dovecot; LIST "INBOX" * (curl's
// imap://host/INBOX) lists INBOX.
func TestWire_listPatterns(t *testing.T) {
	srv := newServer(t)
	c := dialRaw(t, srv)
	c.login()
	r := c.cmd("a", "LIST \"\" \"!#$&'+,-.0123456789:;<=>?@^_`|[}%*\"")
	if got := last(r); !strings.HasPrefix(got, "a OK") {
		t.Fatalf("LIST with atom-specials: %q", r)
	}
	r = c.cmd("b", `LIST "INBOX" *`)
	if len(r) != 2 || !strings.HasSuffix(r[0], `"." INBOX`) {
		t.Fatalf(`LIST "INBOX" *: %q`, r)
	}
	r = c.cmd("c", "CREATE &Jjo")
	if got := last(r); got != "c NO Mailbox name is not valid mUTF-7" {
		t.Fatalf("CREATE with invalid mUTF-7: %q", got)
	}
}

// TestWire_unknownBeforeLogin: one unknown command before login ends the
// connection (an HTTP request sent to the IMAP port).
func TestWire_unknownBeforeLogin(t *testing.T) {
	srv := newServer(t)
	c := dialRaw(t, srv)
	c.send("GET / HTTP/1.1\r\n")
	if l := c.line(); !strings.HasPrefix(l, "GET BAD") {
		t.Fatalf("got %q", l)
	}
	if l := c.line(); !strings.HasPrefix(l, "* BYE") {
		t.Fatalf("got %q, want BYE", l)
	}
}

// TestWire_pipelined: commands sent in one write are answered in order.
func TestWire_pipelined(t *testing.T) {
	srv := newServer(t)
	c := dialRaw(t, srv)
	c.login()
	var b strings.Builder
	for i := range 20 {
		fmt.Fprintf(&b, "p%d CREATE F%d\r\np%dx STATUS F%d (MESSAGES)\r\n", i, i, i, i)
	}
	c.send(b.String())
	for i := range 20 {
		if l := last(c.until(fmt.Sprintf("p%d", i))); !strings.Contains(l, "OK") {
			t.Fatalf("CREATE %d: %q", i, l)
		}
		r := c.until(fmt.Sprintf("p%dx", i))
		if len(r) != 2 || r[0] != fmt.Sprintf("* STATUS F%d (MESSAGES 0)", i) {
			t.Fatalf("STATUS %d: %q", i, r)
		}
	}
}

// TestWire_startTLSInjection: bytes sent in the clear after STARTTLS are
// not run after the handshake (CVE-2011-0411); here there is no TLS
// configured, so STARTTLS is refused and not advertised.
func TestWire_startTLSUnavailable(t *testing.T) {
	srv := newServer(t)
	c := dialRaw(t, srv)
	r := c.cmd("c", "CAPABILITY")
	if strings.Contains(r[0], "STARTTLS") {
		t.Fatalf("STARTTLS advertised without a certificate: %q", r[0])
	}
	if l := last(c.cmd("s", "STARTTLS")); !strings.HasPrefix(l, "s BAD") {
		t.Fatalf("STARTTLS: %q", l)
	}
}

// TestWire_id answers ID (RFC 2971).
func TestWire_id(t *testing.T) {
	srv := newServer(t)
	c := dialRaw(t, srv)
	r := c.cmd("i", `ID ("name" "test" "version" "1")`)
	if len(r) != 2 || !strings.HasPrefix(r[0], "* ID ") || !strings.HasPrefix(r[1], "i OK") {
		t.Fatalf("ID: %q", r)
	}
	if l := last(c.cmd("j", "ID NIL")); !strings.HasPrefix(l, "j OK") {
		t.Fatalf("ID NIL: %q", l)
	}
}

// TestWire_multiappend: MULTIAPPEND (RFC 3502) stores every message of
// the command or none.
func TestWire_multiappend(t *testing.T) {
	srv := newServer(t)
	c := dialRaw(t, srv)
	c.login()
	msg := func(subject string) string {
		return "From: a@example.org\r\nSubject: " + subject + "\r\n\r\nbody\r\n"
	}
	m1, m2, m3 := msg("one"), msg("two"), msg("three")
	c.send(fmt.Sprintf("a APPEND INBOX (\\Seen) {%d+}\r\n%s (\\Flagged) \"02-Jun-2025 10:00:00 +0000\" {%d+}\r\n%s {%d+}\r\n%s\r\n",
		len(m1), m1, len(m2), m2, len(m3), m3))
	r := c.until("a")
	if got := last(r); !strings.HasPrefix(got, "a OK [APPENDUID ") || !strings.Contains(got, " 1:3]") {
		t.Fatalf("MULTIAPPEND of three: %q", r)
	}
	// The second message has a flag the server refuses: the first,
	// stored already, is taken back.
	c.send(fmt.Sprintf("b APPEND INBOX {%d+}\r\n%s (\\Bogus) {%d+}\r\n%s\r\n", len(m1), m1, len(m2), m2))
	r = c.until("b")
	if got := last(r); strings.HasPrefix(got, "b OK") {
		t.Fatalf("MULTIAPPEND with a refused message: %q", r)
	}
	r = c.cmd("s", "STATUS INBOX (MESSAGES)")
	if r[0] != "* STATUS INBOX (MESSAGES 3)" {
		t.Fatalf("after a failed MULTIAPPEND: %q", r)
	}
	r = c.cmd("c", "CAPABILITY")
	if !strings.Contains(r[0], " MULTIAPPEND") {
		t.Fatalf("MULTIAPPEND not advertised: %q", r[0])
	}
}
