package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/maildir-imapd/maildir-imapd/cmd/maildir-imapd/internal/selfsigned"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/passwdfile"
)

// waitLimit is the failure deadline of every wait in these tests; nothing
// is asserted about how long things take.
const waitLimit = 30 * time.Second

const (
	testUser     = "alice"
	testPassword = "correct horse"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a server.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testLogger returns a logger whose output is shown if the test fails.
func testLogger(t *testing.T) *slog.Logger {
	t.Helper()
	buf := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", buf.String())
		}
	})
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// writeFile writes a file in t's temporary directory tree.
func writeFile(t testing.TB, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// newMaildir creates a Maildir with one message in new/ under dir.
func newMaildir(t testing.TB, dir string) string {
	t.Helper()
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(dir, "new", "1700000000.M1P1Q1.test,S=60"),
		"From: a@example.org\nTo: b@example.org\nSubject: one\n\nhello\n")
	return dir
}

// testHash is the password field for testPassword (SHA512-CRYPT: quick
// enough under -race).
func testHash(t *testing.T) string {
	t.Helper()
	h, err := passwdfile.Hash("SHA512-CRYPT", testPassword)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// newUsers writes a users file for testUser with home dir, whose Maildir
// (~/Maildir) holds one message, and returns the file's path.
func newUsers(t *testing.T, dir string) string {
	t.Helper()
	home := filepath.Join(dir, "home", testUser)
	newMaildir(t, filepath.Join(home, "Maildir"))
	return writeFile(t, filepath.Join(dir, "users"), testUser+":"+testHash(t)+"::::"+home+"::\n")
}

// testConfig returns a configuration serving newUsers on 127.0.0.1:0.
func testConfig(t *testing.T) *Config {
	t.Helper()
	cfg := defaultConfig()
	cfg.Listen, cfg.ListenTLS = "127.0.0.1:0", ""
	cfg.Users = newUsers(t, t.TempDir())
	return &cfg
}

// testCert writes a self-signed certificate for 127.0.0.1 and localhost and
// returns the file names and a pool trusting it.
func testCert(t testing.TB) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	pool, err := selfsigned.Write(certFile, keyFile, "maildir-imapd test")
	if err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, pool
}

// running is a server started by startServe.
type running struct {
	d      *daemon
	cancel context.CancelFunc
	done   chan error // receives run's result
}

// stop cancels the server and returns run's result.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(waitLimit):
		t.Fatal("server did not stop")
		return nil
	}
}

// startServe runs cfg in-process and waits until it listens. The server is
// stopped when the test ends.
func startServe(t *testing.T, cfg *Config) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1)}
	ready := make(chan *daemon, 1)
	logger := testLogger(t)
	go func() { r.done <- run(ctx, cfg, logger, func(d *daemon) { ready <- d }) }()
	select {
	case r.d = <-ready:
	case err := <-r.done:
		cancel()
		t.Fatalf("run: %v", err)
	case <-time.After(waitLimit):
		cancel()
		t.Fatal("server did not start")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(waitLimit):
			t.Error("server did not stop")
		}
	})
	return r
}

// dialPlain connects without TLS and closes the client when the test ends.
func dialPlain(t *testing.T, addr string) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// tlsClientConfig trusts pool.
func tlsClientConfig(pool *x509.CertPool) *tls.Config {
	return &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
}
