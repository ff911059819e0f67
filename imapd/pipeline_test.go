package imapd_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/imapd"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
)

// pipeClient sends pipelined commands and reads whole responses, literals
// included, as one string each.
type pipeClient struct {
	t  testing.TB
	nc net.Conn
	br *bufio.Reader
}

func dialPipe(t testing.TB, addr string) *pipeClient {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &pipeClient{t: t, nc: nc, br: bufio.NewReader(nc)}
	if g := c.response(); !strings.HasPrefix(g, "* OK ") {
		t.Fatalf("greeting %q", g)
	}
	return c
}

// login logs in and selects INBOX.
func (c *pipeClient) login() {
	c.t.Helper()
	c.send("L LOGIN " + maildirtest.User + " " + maildirtest.Password + "\r\nS SELECT INBOX\r\n")
	c.until("L")
	if r := c.until("S"); !strings.HasPrefix(r[len(r)-1], "S OK") {
		c.t.Fatalf("SELECT: %q", r)
	}
}

func (c *pipeClient) send(s string) {
	c.t.Helper()
	c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c.nc, s); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

var literalAtEnd = regexp.MustCompile(`\{(\d+)\}\r\n$`)

// response reads one response: a line, and the literals it announces with
// the lines that follow them.
func (c *pipeClient) response() string {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	var sb strings.Builder
	for {
		l, err := c.br.ReadString('\n')
		if err != nil {
			c.t.Fatalf("read: %v (after %q)", err, sb.String()+l)
		}
		sb.WriteString(l)
		if !strings.HasSuffix(l, "}\r\n") {
			return strings.TrimSuffix(sb.String(), "\r\n")
		}
		m := literalAtEnd.FindStringSubmatch(l)
		if m == nil {
			return strings.TrimSuffix(sb.String(), "\r\n")
		}
		n, _ := strconv.Atoi(m[1])
		buf := make([]byte, n)
		if _, err := io.ReadFull(c.br, buf); err != nil {
			c.t.Fatalf("read literal: %v", err)
		}
		sb.Write(buf)
	}
}

// until reads responses up to and including the tagged one of tag.
func (c *pipeClient) until(tag string) []string {
	c.t.Helper()
	var out []string
	for {
		r := c.response()
		out = append(out, r)
		if strings.HasPrefix(r, tag+" ") {
			return out
		}
	}
}

// deliverN delivers n messages to INBOX and returns the subjects.
func deliverN(t testing.TB, srv *maildirtest.Server, n int) {
	t.Helper()
	for i := range n {
		maildirtest.Deliver(t, srv.Maildir, maildirtest.Message(fmt.Sprintf("m%d", i+1)))
	}
}

// TestPipeline_order pipelines read-only commands of every kind that runs
// concurrently, and serial ones among them: every command's responses
// come after the tagged reply of the one before and before its own, and
// each FETCH answers for its own message.
func TestPipeline_order(t *testing.T) {
	srv := newServer(t)
	deliverN(t, srv, 12)
	c := dialPipe(t, srv.Addr)
	c.login()
	var b strings.Builder
	type want struct{ tag, untagged string }
	var wants []want
	for round := range 3 {
		for i := 1; i <= 12; i++ {
			tag := fmt.Sprintf("f%d.%d", round, i)
			fmt.Fprintf(&b, "%s UID FETCH %d (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])\r\n", tag, i)
			wants = append(wants, want{tag, fmt.Sprintf("Subject: m%d\r\n", i)})
		}
		for _, cmd := range []struct{ line, untagged string }{
			{"UID SEARCH SUBJECT m7", "* SEARCH 7"},
			{"STATUS INBOX (MESSAGES)", "* STATUS INBOX (MESSAGES 12)"},
			{"NOOP", ""},
			{`LIST "" INBOX`, `* LIST (\HasNoChildren) "." INBOX`},
			{"FETCH 3 (UID)", "* 3 FETCH (UID 3)"},
			{"NAMESPACE", `* NAMESPACE (("" "."))`},
			{"STORE 12 -FLAGS (\\Deleted)", "* 12 FETCH (UID 12 FLAGS"}, // serial, in the middle
			{"CHECK", ""},
		} {
			tag := fmt.Sprintf("x%d.%d", round, len(wants))
			fmt.Fprintf(&b, "%s %s\r\n", tag, cmd.line)
			wants = append(wants, want{tag, cmd.untagged})
		}
	}
	c.send(b.String())
	for _, w := range wants {
		r := c.until(w.tag)
		if !strings.HasPrefix(r[len(r)-1], w.tag+" OK") {
			t.Fatalf("%s: %q", w.tag, r)
		}
		untagged := strings.Join(r[:len(r)-1], "\n")
		if !strings.Contains(untagged, w.untagged) {
			t.Fatalf("%s: got %q, want %q among the untagged responses", w.tag, untagged, w.untagged)
		}
		if w.untagged == "" && untagged != "" {
			t.Fatalf("%s: unexpected %q", w.tag, untagged)
		}
	}
}

// gate makes the first Fetch call wait for the second (at most 5 s):
// when the engine runs pipelined FETCHes one after the other, the first
// waits in vain and overlapped stays false.
type gate struct {
	mu         sync.Mutex
	arrived    int
	both       chan struct{}
	overlapped bool
}

func (g *gate) enter() {
	g.mu.Lock()
	g.arrived++
	n := g.arrived
	if n == 2 {
		close(g.both)
	}
	g.mu.Unlock()
	if n == 1 {
		select {
		case <-g.both:
			// The second began while the first was still running.
			g.mu.Lock()
			g.overlapped = true
			g.mu.Unlock()
		case <-time.After(5 * time.Second):
		}
	}
}

// gatedSession is the real engine session with Fetch passing the gate, and
// ConcurrentReads as the test says.
type gatedSession struct {
	*maildirbackend.EngineSession
	g          *gate
	concurrent bool
}

func (s *gatedSession) Fetch(w *imapd.FetchWriter, set imap.NumSet, o *imap.FetchOptions) error {
	if s.g != nil {
		s.g.enter()
	}
	return s.EngineSession.Fetch(w, set, o)
}

func (s *gatedSession) ConcurrentReads() bool { return s.concurrent }

// serveWrapped serves srv's backend through imapd with sessions wrapped by
// wrap, on a new listener.
func serveWrapped(t testing.TB, srv *maildirtest.Server, opts *imapd.Options, wrap func(*maildirbackend.EngineSession) imapd.Session) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := *opts
	o.InsecureAuth = true
	o.NewSession = func(c *imapd.Conn) (imapd.Session, error) {
		s, err := srv.Backend.NewEngineSession(c)
		if err != nil {
			return nil, err
		}
		return wrap(s.(*maildirbackend.EngineSession)), nil
	}
	is := imapd.New(&o)
	go is.Serve(ln)
	t.Cleanup(func() { is.Close() })
	return ln.Addr().String()
}

// TestPipeline_concurrent: two pipelined FETCHes run at the same time (the
// first waits in the backend until the second has begun), and their
// responses still come in command order.
func TestPipeline_concurrent(t *testing.T) {
	srv := newServer(t)
	deliverN(t, srv, 2)
	g := &gate{both: make(chan struct{})}
	addr := serveWrapped(t, srv, &imapd.Options{}, func(s *maildirbackend.EngineSession) imapd.Session {
		return &gatedSession{EngineSession: s, concurrent: true, g: g}
	})
	c := dialPipe(t, addr)
	c.login()
	c.send("a UID FETCH 1 (UID)\r\nb UID FETCH 2 (UID)\r\n")
	if r := c.until("a"); len(r) != 2 || r[0] != "* 1 FETCH (UID 1)" {
		t.Fatalf("a: %q", r)
	}
	if r := c.until("b"); len(r) != 2 || r[0] != "* 2 FETCH (UID 2)" {
		t.Fatalf("b: %q", r)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.overlapped {
		t.Fatal("the two pipelined FETCHes did not run at the same time")
	}
}

// TestPipeline_serialWithoutConcurrentReads: a session that does not allow
// concurrent reads gets its pipelined commands one at a time.
func TestPipeline_serialWithoutConcurrentReads(t *testing.T) {
	srv := newServer(t)
	deliverN(t, srv, 2)
	var mu sync.Mutex
	running, most := 0, 0
	addr := serveWrapped(t, srv, &imapd.Options{
		CommandDone: func(string, time.Duration, string) {},
	}, func(s *maildirbackend.EngineSession) imapd.Session {
		return &countingSession{EngineSession: s, mu: &mu, running: &running, most: &most}
	})
	c := dialPipe(t, addr)
	c.login()
	var b strings.Builder
	for i := range 20 {
		fmt.Fprintf(&b, "t%d UID FETCH %d (UID)\r\n", i, i%2+1)
	}
	c.send(b.String())
	for i := range 20 {
		c.until(fmt.Sprintf("t%d", i))
	}
	mu.Lock()
	defer mu.Unlock()
	if most != 1 {
		t.Fatalf("%d FETCHes ran at once without SessionConcurrent", most)
	}
}

type countingSession struct {
	*maildirbackend.EngineSession
	mu            *sync.Mutex
	running, most *int
}

func (s *countingSession) ConcurrentReads() bool { return false }

func (s *countingSession) Fetch(w *imapd.FetchWriter, set imap.NumSet, o *imap.FetchOptions) error {
	s.mu.Lock()
	*s.running++
	*s.most = max(*s.most, *s.running)
	s.mu.Unlock()
	time.Sleep(time.Millisecond) // widen the window an overlap would need
	defer func() {
		s.mu.Lock()
		*s.running--
		s.mu.Unlock()
	}()
	return s.EngineSession.Fetch(w, set, o)
}
