// Package maildirtest runs a real maildir-imapd backend for tests, the way
// net/http/httptest runs a real HTTP server: a Maildir in a temporary
// directory, an IMAP server (imapd, or go-imap's imapserver) on
// 127.0.0.1:0, and helpers that change the
// Maildir the way an MTA or a local mail program does.
package maildirtest

import (
	"crypto/rand"
	"encoding/hex"
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

	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/maildir-imapd/maildir-imapd/imapd"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend"
	"github.com/maildir-imapd/maildir-imapd/watch"
)

// User and Password are the credentials of the test user of a Server.
const (
	User     = "alice"
	Password = "secret"
)

// Server is a running backend over one user's Maildir.
type Server struct {
	// Addr is the listener address, "127.0.0.1:<port>".
	Addr string
	// Maildir is the user's Maildir root.
	Maildir string
	// Backend is the backend being served.
	Backend *maildirbackend.Backend

	close func() error
	ln    net.Listener
	once  sync.Once
}

// Close stops the server and its backend before the test ends (a restart).
func (s *Server) Close() {
	s.once.Do(func() {
		s.close()
		s.Backend.Close()
	})
}

// Options configures NewServer. The zero value gives a new empty Maildir.
type Options struct {
	// Maildir is an existing Maildir root to serve; empty means a new one
	// in t.TempDir().
	Maildir string
	// Backend holds backend options; Authenticate is set by NewServer.
	Backend maildirbackend.Options
	// Watch holds the watcher's options when Backend.Watcher is nil.
	Watch watch.Options
	// DebugWire, when set, receives the raw protocol.
	DebugWire io.Writer
	// Frontend is the IMAP front-end that serves the backend: "imapd"
	// (the project's engine, what the daemon runs) or "imapserver"
	// (go-imap v2's server, the plugin API). Empty means
	// $MAILDIR_IMAPD_FRONTEND, else "imapd".
	Frontend string
}

// NewServer starts a server for one user (User/Password) and stops it when
// the test ends.
func NewServer(t testing.TB, opts *Options) *Server {
	t.Helper()
	if opts == nil {
		opts = &Options{}
	}
	root := opts.Maildir
	if root == "" {
		root = filepath.Join(t.TempDir(), "Maildir")
		for _, d := range []string{"cur", "new", "tmp"} {
			if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
				t.Fatal(err)
			}
		}
	}
	bo := opts.Backend
	if bo.Logger == nil {
		bo.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if bo.Watcher == nil {
		wo := opts.Watch
		wo.Logger = bo.Logger
		w, err := watch.New(&wo)
		if err != nil {
			t.Fatalf("watch.New: %v", err)
		}
		t.Cleanup(func() { w.Close() })
		bo.Watcher = w
	}
	bo.Authenticate = func(user, pass string) (string, error) {
		if user == User && pass == Password {
			return root, nil
		}
		return "", imapserver.ErrAuthFailed
	}
	b, err := maildirbackend.New(&bo)
	if err != nil {
		t.Fatalf("maildirbackend.New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	frontend := opts.Frontend
	if frontend == "" {
		frontend = os.Getenv("MAILDIR_IMAPD_FRONTEND")
	}
	// imapd buffers its own responses; go-imap's server needs batching.
	ln = maildirbackend.NewListenerWith(ln, &maildirbackend.ListenerOptions{Unbatched: frontend != "imapserver"})
	s := &Server{Addr: ln.Addr().String(), Maildir: root, Backend: b, ln: ln}
	switch frontend {
	case "", "imapd":
		srv := imapd.New(&imapd.Options{
			NewSession:   b.NewEngineSession,
			InsecureAuth: true,
			Logger:       bo.Logger,
			DebugWriter:  opts.DebugWire,
		})
		go srv.Serve(ln)
		s.close = srv.Close
	case "imapserver":
		srv := imapserver.New(&imapserver.Options{
			NewSession:   b.NewSession,
			Caps:         b.Caps(),
			InsecureAuth: true,
			Logger:       slogPrintf{bo.Logger},
			DebugWriter:  opts.DebugWire,
		})
		go srv.Serve(ln)
		s.close = srv.Close
	default:
		t.Fatalf("maildirtest: unknown front-end %q", frontend)
	}
	t.Cleanup(s.Close)
	return s
}

// Dial connects and logs in as User; the client is closed when the test
// ends.
func (s *Server) Dial(t testing.TB, opts *imapclient.Options) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(s.Addr, opts)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(User, Password).Wait(); err != nil {
		t.Fatalf("login: %v", err)
	}
	return c
}

// Folder returns the directory of a Maildir++ folder of the server's
// Maildir: "" or "INBOX" is the root, "A.B" is ".A.B" (ASCII names only).
func (s *Server) Folder(name string) string {
	if name == "" || name == "INBOX" {
		return s.Maildir
	}
	return filepath.Join(s.Maildir, "."+name)
}

// Deliver writes a message into folder/new the way an MTA does (tmp/,
// fsync, rename) and returns its file name.
func Deliver(t testing.TB, folder string, content string) string {
	t.Helper()
	name := uniqueName()
	tmp := filepath.Join(folder, "tmp", name)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(folder, "new", name)); err != nil {
		t.Fatal(err)
	}
	return name
}

// Message returns a small RFC 5322 message with the given subject.
func Message(subject string) string {
	return fmt.Sprintf("From: Bob <bob@example.org>\nTo: Alice <alice@example.org>\nSubject: %s\nDate: Sat, 28 Nov 2026 10:00:00 +0000\nMessage-ID: <%s@example.org>\n\nHello %s.\n", subject, uniqueName(), subject)
}

// Find returns the path of the message file with the given key (base name)
// in folder's new/ or cur/, or "".
func Find(t testing.TB, folder, key string) string {
	t.Helper()
	for _, sub := range []string{"new", "cur"} {
		entries, err := os.ReadDir(filepath.Join(folder, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if k, _, _ := strings.Cut(e.Name(), ":"); k == key {
				return filepath.Join(folder, sub, e.Name())
			}
		}
	}
	return ""
}

// SetFlags renames the message with key into cur/ with the given Maildir
// flag letters, as mutt does.
func SetFlags(t testing.TB, folder, key, letters string) {
	t.Helper()
	p := Find(t, folder, key)
	if p == "" {
		t.Fatalf("no message %s", key)
	}
	if err := os.Rename(p, filepath.Join(folder, "cur", key+":2,"+letters)); err != nil {
		t.Fatal(err)
	}
}

// Remove unlinks the message with key, as a cron job cleaning spam does.
func Remove(t testing.TB, folder, key string) {
	t.Helper()
	p := Find(t, folder, key)
	if p == "" {
		t.Fatalf("no message %s", key)
	}
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
}

func uniqueName() string {
	var b [6]byte
	rand.Read(b[:])
	now := time.Now()
	return fmt.Sprintf("%d.M%dP%dR%s.test", now.Unix(), now.Nanosecond()/1000, os.Getpid(), hex.EncodeToString(b[:]))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

type slogPrintf struct{ l *slog.Logger }

func (p slogPrintf) Printf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...))
}
