package maildirbackend

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapserver"
)

// loginServer is a real server on 127.0.0.1:0 behind NewListener, whose
// auth guard records its waits instead of sleeping.
type loginServer struct {
	addr string
	b    *Backend

	mu    sync.Mutex
	waits []time.Duration
}

// newLoginServer serves user "u" with password "p"; user "broken" makes
// the authentication backend fail, and user "any" accepts every password
// (even the empty one, which Login must still refuse).
func newLoginServer(t *testing.T, o Options) *loginServer {
	t.Helper()
	maildir := filepath.Join(t.TempDir(), "Maildir")
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(maildir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	o.Authenticate = func(u, p string) (string, error) {
		switch {
		case u == "broken":
			return "", errors.New("users file unreadable")
		case u == "any", u == "u" && p == "p":
			return maildir, nil
		}
		return "", imapserver.ErrAuthFailed
	}
	b, err := New(&o)
	if err != nil {
		t.Fatal(err)
	}
	s := &loginServer{b: b}
	b.guard.sleep = func(d time.Duration) {
		s.mu.Lock()
		s.waits = append(s.waits, d)
		s.mu.Unlock()
	}
	srv := imapserver.New(&imapserver.Options{
		NewSession:   b.NewSession,
		Caps:         b.Caps(),
		InsecureAuth: true,
		Logger:       slog.NewLogLogger(slog.NewTextHandler(io.Discard, nil), slog.LevelError),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(NewListener(ln))
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
		_ = b.Close()
	})
	return s
}

func (s *loginServer) recordedWaits() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

// wireConn is a raw IMAP connection.
type wireConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func (s *loginServer) dial(t *testing.T) *wireConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.addr, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	w := &wireConn{t: t, c: c, r: bufio.NewReader(c)}
	if l := w.line(); !strings.HasPrefix(l, "* OK") {
		t.Fatalf("greeting %q", l)
	}
	return w
}

func (w *wireConn) line() string {
	w.t.Helper()
	l, err := w.r.ReadString('\n')
	if err != nil {
		w.t.Fatalf("read: %v (got %q)", err, l)
	}
	return strings.TrimRight(l, "\r\n")
}

// cmd sends a command and returns its tagged reply line, skipping
// untagged ones.
func (w *wireConn) cmd(tag, format string, args ...any) string {
	w.t.Helper()
	fmt.Fprintf(w.c, tag+" "+format+"\r\n", args...)
	for {
		if l := w.line(); strings.HasPrefix(l, tag+" ") {
			return l
		}
	}
}

// expectClose reads the rest of the connection and returns it.
func (w *wireConn) expectClose() string {
	w.t.Helper()
	b, err := io.ReadAll(w.r)
	if err != nil {
		w.t.Fatalf("the server did not close the connection: %v (read %q)", err, b)
	}
	return string(b)
}

func TestLogin_everyFailureWaitsForTheDeadline(t *testing.T) {
	const delay = time.Hour // never slept: the guard records it
	s := newLoginServer(t, Options{AuthFailureDelay: delay, IPAuthFailures: 5, MaxAuthFailures: 100})
	w := s.dial(t)
	failures := []struct{ name, cmd, wantCode string }{
		{"unknown user", `LOGIN nobody "p"`, "AUTHENTICATIONFAILED"},
		{"wrong password", `LOGIN u "wrong"`, "AUTHENTICATIONFAILED"},
		{"empty password", `LOGIN any ""`, "AUTHENTICATIONFAILED"},
		{"authenticate plain", "AUTHENTICATE PLAIN " + saslPlain("u", "wrong"), "AUTHENTICATIONFAILED"},
		{"backend error", `LOGIN broken "p"`, "UNAVAILABLE"},
		{"throttled address", `LOGIN u "wrong"`, "AUTHENTICATIONFAILED"}, // the 5th failure
		{"throttled, right password", `LOGIN u "p"`, "UNAVAILABLE"},
	}
	for i, f := range failures {
		tag := fmt.Sprintf("A%d", i)
		reply := w.cmd(tag, "%s", f.cmd)
		if !strings.HasPrefix(reply, tag+" NO ["+f.wantCode+"]") {
			t.Fatalf("%s: reply %q, want NO [%s]", f.name, reply, f.wantCode)
		}
		waits := s.recordedWaits()
		if len(waits) != i+1 {
			t.Fatalf("%s: %d waits recorded after %d failures", f.name, len(waits), i+1)
		}
		if d := waits[i]; d <= delay-time.Minute || d > delay {
			t.Fatalf("%s: waited %v, want the rest of %v from the start of the attempt", f.name, d, delay)
		}
	}
	if r := w.cmd("B1", `LOGIN u "p"`); !strings.Contains(r, "NO [UNAVAILABLE]") {
		t.Fatalf("still throttled: got %q", r)
	}
}

func saslPlain(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
}

func TestLogin_byeAfterMaxFailures(t *testing.T) {
	s := newLoginServer(t, Options{AuthFailureDelay: -1, IPAuthFailures: -1})
	for _, mech := range []string{"LOGIN", "AUTHENTICATE"} {
		t.Run(mech, func(t *testing.T) {
			w := s.dial(t)
			for i := 1; i <= DefaultMaxAuthFailures; i++ {
				c := `LOGIN u "wrong"`
				if mech == "AUTHENTICATE" {
					c = "AUTHENTICATE PLAIN " + saslPlain("u", "wrong")
				}
				tag := fmt.Sprintf("A%d", i)
				if r := w.cmd(tag, "%s", c); !strings.HasPrefix(r, tag+" NO [AUTHENTICATIONFAILED]") {
					t.Fatalf("failure %d: %q", i, r)
				}
			}
			if rest := w.expectClose(); rest != "* BYE Too many authentication failures\r\n" {
				t.Fatalf("after %d failures: got %q, want BYE and close", DefaultMaxAuthFailures, rest)
			}
		})
	}
	// The right password on a fresh connection still works.
	if r := s.dial(t).cmd("A1", `LOGIN u "p"`); !strings.HasPrefix(r, "A1 OK") {
		t.Fatalf("LOGIN after another connection's failures: %q", r)
	}
}

func TestLogin_maxUserIPConns(t *testing.T) {
	s := newLoginServer(t, Options{MaxUserIPConns: 2})
	w1, w2 := s.dial(t), s.dial(t)
	for _, w := range []*wireConn{w1, w2} {
		if r := w.cmd("A1", `LOGIN u "p"`); !strings.HasPrefix(r, "A1 OK") {
			t.Fatalf("LOGIN under the cap: %q", r)
		}
	}
	w3 := s.dial(t)
	if r := w3.cmd("A1", `LOGIN u "p"`); !strings.HasPrefix(r, "A1 NO [LIMIT]") {
		t.Fatalf("LOGIN over the cap: %q", r)
	}
	want := "* BYE Maximum number of connections from user+IP exceeded (mail_max_userip_connections=2)\r\n"
	if rest := w3.expectClose(); rest != want {
		t.Fatalf("over the cap: got %q, want %q and close", rest, want)
	}
	// LOGOUT frees a slot.
	w1.cmd("A2", "LOGOUT")
	w1.expectClose()
	w4 := s.dial(t)
	for deadline := time.Now().Add(20 * time.Second); ; {
		r := w4.cmd("A1", `LOGIN u "p"`)
		if strings.HasPrefix(r, "A1 OK") {
			break
		}
		// The server may not have closed w1's session yet.
		if time.Now().After(deadline) {
			t.Fatalf("LOGIN after a LOGOUT: %q", r)
		}
		w4 = s.dial(t)
	}
}

func TestLogin_timeout(t *testing.T) {
	s := newLoginServer(t, Options{LoginTimeout: 50 * time.Millisecond})
	w := s.dial(t)
	if rest := w.expectClose(); rest != "* BYE Disconnected for inactivity\r\n" {
		t.Fatalf("idle unauthenticated connection: got %q", rest)
	}
	// A logged-in connection is left alone.
	w = s.dial(t)
	if r := w.cmd("A1", `LOGIN u "p"`); !strings.HasPrefix(r, "A1 OK") {
		t.Fatal(r)
	}
	time.Sleep(100 * time.Millisecond) // past the timeout: it must not fire
	if r := w.cmd("A2", "NOOP"); !strings.HasPrefix(r, "A2 OK") {
		t.Fatalf("NOOP after login: %q", r)
	}
}
