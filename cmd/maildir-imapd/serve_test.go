package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// loginAndCount logs in as testUser and returns the number of messages in
// INBOX.
func loginAndCount(t *testing.T, c *imapclient.Client) uint32 {
	t.Helper()
	if err := c.Login(testUser, testPassword).Wait(); err != nil {
		t.Fatalf("LOGIN: %v", err)
	}
	data, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatalf("SELECT INBOX: %v", err)
	}
	return data.NumMessages
}

func TestServe_loopbackPlaintextLogin(t *testing.T) {
	r := startServe(t, testConfig(t))
	addr, tlsAddr := r.d.Addrs()
	if tlsAddr != "" {
		t.Errorf("implicit-TLS listener %q without a certificate", tlsAddr)
	}
	c := dialPlain(t, addr)
	if err := c.Login(testUser, "wrong").Wait(); err == nil {
		t.Fatal("LOGIN with a wrong password succeeded")
	}
	if n := loginAndCount(t, c); n != 1 {
		t.Errorf("INBOX has %d messages, want 1", n)
	}
}

func TestServe_singleUser(t *testing.T) {
	tests := []struct {
		name     string
		fromFile bool
	}{
		{name: "password-hash"},
		{name: "password-file", fromFile: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := defaultConfig()
			cfg.Listen, cfg.ListenTLS = "127.0.0.1:0", ""
			cfg.Maildir = newMaildir(t, filepath.Join(dir, "Maildir"))
			cfg.User = testUser
			if tt.fromFile {
				cfg.PasswordFile = writeFile(t, filepath.Join(dir, "hash"), testHash(t)+"\n")
			} else {
				cfg.PasswordHash = testHash(t)
			}
			r := startServe(t, &cfg)
			addr, _ := r.d.Addrs()
			c := dialPlain(t, addr)
			if err := c.Login("bob", testPassword).Wait(); err == nil {
				t.Fatal("LOGIN as another user succeeded")
			}
			if n := loginAndCount(t, c); n != 1 {
				t.Errorf("INBOX has %d messages, want 1", n)
			}
		})
	}
}

func TestServe_requireTLS(t *testing.T) {
	cfg := testConfig(t)
	pool := setTLS(t, cfg)
	cfg.requireTLS = true // the policy of a public address, on 127.0.0.1
	r := startServe(t, cfg)
	addr, _ := r.d.Addrs()

	c := dialPlain(t, addr)
	caps := c.Caps()
	if !caps.Has(imap.CapLoginDisabled) || !caps.Has(imap.CapStartTLS) {
		t.Errorf("capabilities before STARTTLS = %v, want LOGINDISABLED and STARTTLS", caps)
	}
	err := c.Login(testUser, testPassword).Wait()
	var imapErr *imap.Error
	if !errors.As(err, &imapErr) || imapErr.Code != imap.ResponseCodePrivacyRequired {
		t.Fatalf("LOGIN without TLS: %v, want NO [PRIVACYREQUIRED]", err)
	}

	tc, err := imapclient.DialStartTLS(addr, &imapclient.Options{TLSConfig: tlsClientConfig(pool)})
	if err != nil {
		t.Fatalf("STARTTLS: %v", err)
	}
	defer tc.Close()
	if tc.Caps().Has(imap.CapLoginDisabled) {
		t.Error("LOGINDISABLED after STARTTLS")
	}
	if n := loginAndCount(t, tc); n != 1 {
		t.Errorf("INBOX has %d messages, want 1", n)
	}
}

// setTLS gives cfg a test certificate and returns the pool trusting it.
func setTLS(t *testing.T, cfg *Config) (pool *x509.CertPool) {
	t.Helper()
	cfg.TLSCert, cfg.TLSKey, pool = testCert(t)
	return pool
}

func TestServe_implicitTLS(t *testing.T) {
	cfg := testConfig(t)
	pool := setTLS(t, cfg)
	cfg.Listen, cfg.ListenTLS = "", "127.0.0.1:0"
	r := startServe(t, cfg)
	plain, addr := r.d.Addrs()
	if plain != "" || addr == "" {
		t.Fatalf("Addrs() = %q, %q; want only an implicit-TLS listener", plain, addr)
	}

	c, err := imapclient.DialTLS(addr, &imapclient.Options{TLSConfig: tlsClientConfig(pool)})
	if err != nil {
		t.Fatalf("DialTLS: %v", err)
	}
	defer c.Close()
	if n := loginAndCount(t, c); n != 1 {
		t.Errorf("INBOX has %d messages, want 1", n)
	}

	old := tlsClientConfig(pool)
	old.MinVersion, old.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: waitLimit}, "tcp", addr, old)
	if err == nil {
		conn.Close()
		t.Fatal("TLS 1.1 handshake succeeded")
	}
	if !strings.Contains(err.Error(), "protocol version") {
		t.Errorf("TLS 1.1 handshake: %v, want a protocol version alert", err)
	}
}

// readUntil reads lines until one starts with prefix.
func readUntil(t *testing.T, conn net.Conn, br *bufio.Reader, prefix string) string {
	t.Helper()
	if err := conn.SetReadDeadline(time.Now().Add(waitLimit)); err != nil {
		t.Fatal(err)
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("waiting for %q: %v", prefix, err)
		}
		if strings.HasPrefix(line, prefix) {
			return strings.TrimRight(line, "\r\n")
		}
	}
}

func TestServe_shutdownSendsBye(t *testing.T) {
	r := startServe(t, testConfig(t))
	addr, _ := r.d.Addrs()

	type client struct {
		conn net.Conn
		br   *bufio.Reader
	}
	var clients []client
	for i, login := range []bool{true, false} {
		conn, err := net.DialTimeout("tcp", addr, waitLimit)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		c := client{conn, bufio.NewReader(conn)}
		readUntil(t, conn, c.br, "* OK")
		if login {
			fmt.Fprintf(conn, "a%d LOGIN %s \"%s\"\r\n", i, testUser, testPassword)
			readUntil(t, conn, c.br, fmt.Sprintf("a%d OK", i))
			fmt.Fprintf(conn, "b%d SELECT INBOX\r\n", i)
			readUntil(t, conn, c.br, fmt.Sprintf("b%d OK", i))
			fmt.Fprintf(conn, "c%d IDLE\r\n", i)
			readUntil(t, conn, c.br, "+ ")
		} else {
			// A greeted client without a session-level command: it must be
			// tracked from the greeting on.
			fmt.Fprintf(conn, "a%d NOOP\r\n", i)
			readUntil(t, conn, c.br, fmt.Sprintf("a%d OK", i))
		}
		clients = append(clients, c)
	}

	if err := r.stop(t); err != nil {
		t.Fatalf("run: %v", err)
	}
	for i, c := range clients {
		if got := readUntil(t, c.conn, c.br, "* BYE"); got != "* BYE Server shutting down" {
			t.Errorf("client %d got %q", i, got)
		}
	}
	if _, err := net.DialTimeout("tcp", addr, waitLimit); err == nil {
		t.Error("listener still accepts after shutdown")
	}
}

func TestServe_refusesPublicPlaintext(t *testing.T) {
	cfg := testConfig(t)
	cfg.Listen = "0.0.0.0:0"
	_, err := startDaemon(cfg, testLogger(t))
	if err == nil || !strings.Contains(err.Error(), "nobody could log in") {
		t.Fatalf("startDaemon = %v, want the refusal of a public plaintext listener", err)
	}
}

func TestIsLoopbackAddr(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:143", true},
		{"127.1.2.3:143", true},
		{"[::1]:143", true},
		{"localhost:143", true},
		{":143", false},
		{"0.0.0.0:143", false},
		{"[::]:143", false},
		{"192.0.2.1:143", false},
		{"mail.example.org:143", false},
		{"bogus", false},
	}
	for _, tt := range tests {
		if got := isLoopbackAddr(tt.addr); got != tt.want {
			t.Errorf("isLoopbackAddr(%q) = %v, want %v", tt.addr, got, tt.want)
		}
	}
}
