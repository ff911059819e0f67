package main

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
)

// readToClose reads c until the server closes it, failing after waitLimit.
func readToClose(t *testing.T, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(waitLimit))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("the server did not close the connection: %v (read %q)", err, b)
	}
	return string(b)
}

// TestServe_implicitTLSIdleConnections: connections to 993 that never send
// a ClientHello are closed after tls_handshake_timeout and do not keep a
// real client from logging in meanwhile.
func TestServe_implicitTLSIdleConnections(t *testing.T) {
	cfg := testConfig(t)
	certFile, keyFile, roots := testCert(t)
	cfg.TLSCert, cfg.TLSKey, cfg.ListenTLS = certFile, keyFile, "127.0.0.1:0"
	cfg.TLSHandshakeTimeout = 300 * time.Millisecond
	r := startServe(t, cfg)
	_, tlsAddr := r.d.Addrs()

	var idle []net.Conn
	for range 50 {
		// From another loopback address, under the per-address cap.
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: waitLimit}
		c, err := d.Dial("tcp", tlsAddr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		idle = append(idle, c)
	}
	c, err := imapclient.DialTLS(tlsAddr, &imapclient.Options{TLSConfig: tlsClientConfig(roots)})
	if err != nil {
		t.Fatalf("TLS client next to idle connections: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if n := loginAndCount(t, c); n != 1 {
		t.Errorf("INBOX has %d messages, want 1", n)
	}
	for _, c := range idle {
		readToClose(t, c)
	}
}

func TestServe_connectionCapsSayBye(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxConnectionsPerIP = 2
	r := startServe(t, cfg)
	addr, _ := r.d.Addrs()
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if l, err := bufio.NewReader(c).ReadString('\n'); err != nil || !strings.HasPrefix(l, "* OK") {
			t.Fatalf("greeting under the cap: %q, %v", l, err)
		}
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	want := "* BYE Maximum number of connections from your address exceeded (max_connections_per_ip=2)\r\n"
	if got := readToClose(t, c); got != want {
		t.Fatalf("over the cap: got %q, want %q", got, want)
	}
}

// TestServe_emptyPlainPassword: a `user:{PLAIN}:` line neither lets the
// empty password in nor passes check.
func TestServe_emptyPlainPassword(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t)
	home := filepath.Join(dir, "home", "eve")
	newMaildir(t, filepath.Join(home, "Maildir"))
	cfg.Users = writeFile(t, filepath.Join(dir, "users"), testUser+":"+testHash(t)+"::::"+filepath.Join(dir, "home", testUser)+"::\neve:{PLAIN}::::"+home+"::\n")
	cfg.AuthFailureDelay = 0

	var out bytes.Buffer
	if err := checkMain([]string{"--users", cfg.Users, "--listen", "127.0.0.1:143"}, &out); err == nil ||
		!strings.Contains(out.String(), `PROBLEM  users: `+cfg.Users+`: line 2: user "eve": the password is empty`) {
		t.Errorf("check did not flag the empty password (err %v):\n%s", err, out.String())
	}
	r := startServe(t, cfg)
	addr, _ := r.d.Addrs()
	if err := dialPlain(t, addr).Login("eve", "").Wait(); err == nil {
		t.Fatal("LOGIN eve \"\" succeeded")
	}
}
