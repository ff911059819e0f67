package maildirbackend_test

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend"
)

// waitFor is the generous failure deadline of these tests: a correct
// listener answers in milliseconds.
const waitFor = 20 * time.Second

// testTLSConfig returns a server config with a fresh self-signed
// certificate for 127.0.0.1.
func testTLSConfig(t testing.TB) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

// acceptAll accepts until the listener closes and sends each connection
// to the returned channel.
func acceptAll(ln net.Listener) <-chan net.Conn {
	ch := make(chan net.Conn, 100)
	go func() {
		defer close(ch)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			ch <- c
		}
	}()
	return ch
}

func listen(t *testing.T, opts *maildirbackend.ListenerOptions) (net.Listener, <-chan net.Conn) {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := maildirbackend.NewListenerWith(raw, opts)
	t.Cleanup(func() { ln.Close() })
	return ln, acceptAll(ln)
}

// dialFrom connects from the loopback address local ("" for the default).
func dialFrom(t *testing.T, local, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: waitFor}
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readAllWithin reads c to EOF, failing the test if that takes longer
// than waitFor.
func readAllWithin(t *testing.T, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(waitFor))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("the server did not close the connection: %v (read %q)", err, b)
	}
	return string(b)
}

func TestNewListener_writeDeadline(t *testing.T) {
	ln, conns := listen(t, nil)
	client := dialFrom(t, "", ln.Addr().String())
	_ = client // never reads
	c := <-conns
	defer c.Close()

	c.SetWriteDeadline(time.Now().Add(-time.Second))
	if _, err := c.Write([]byte("x")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Write after the deadline = %v, want os.ErrDeadlineExceeded", err)
	}

	// A client that does not read: the writes fill the socket buffers and
	// the queue, and then must fail at the deadline instead of waiting.
	c.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
	done := make(chan error, 1)
	go func() {
		chunk := make([]byte, 64<<10)
		for {
			if _, err := c.Write(chunk); err != nil {
				done <- err
				return
			}
		}
	}()
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Write = %v, want os.ErrDeadlineExceeded", err)
		}
	case <-time.After(waitFor):
		t.Fatal("Write to a client that does not read ignored the write deadline")
	}
}

func TestNewListenerWith_handshakeTimeout(t *testing.T) {
	cfg := testTLSConfig(t)
	ln, conns := listen(t, &maildirbackend.ListenerOptions{TLSConfig: cfg, HandshakeTimeout: 200 * time.Millisecond})

	// Connections that never send a ClientHello are closed ...
	var idle []net.Conn
	for range 20 {
		idle = append(idle, dialFrom(t, "", ln.Addr().String()))
	}
	// ... and do not hold up a real client meanwhile.
	tc, err := tls.DialWithDialer(&net.Dialer{Timeout: waitFor}, "tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("TLS client behind idle connections: %v", err)
	}
	defer tc.Close()
	select {
	case c := <-conns:
		if _, ok := c.(*tls.Conn); !ok {
			t.Fatalf("Accept returned %T, want *tls.Conn", c)
		}
		c.Close()
	case <-time.After(waitFor):
		t.Fatal("the handshaken connection was not accepted")
	}
	for _, c := range idle {
		readAllWithin(t, c)
	}
	select {
	case c := <-conns:
		t.Fatalf("Accept returned a connection that never handshook: %v", c.RemoteAddr())
	default:
	}
}

func TestNewListenerWith_caps(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		name := "plain"
		if useTLS {
			name = "tls"
		}
		t.Run(name, func(t *testing.T) {
			limits := maildirbackend.NewConnLimiter(3, 2)
			opts := &maildirbackend.ListenerOptions{Limits: limits}
			var ccfg *tls.Config
			if useTLS {
				opts.TLSConfig = testTLSConfig(t)
				ccfg = &tls.Config{InsecureSkipVerify: true}
			}
			ln, conns := listen(t, opts)
			dial := func(local string) net.Conn {
				c := dialFrom(t, local, ln.Addr().String())
				if useTLS {
					tc := tls.Client(c, ccfg)
					c.SetDeadline(time.Now().Add(waitFor))
					if err := tc.Handshake(); err != nil {
						t.Fatalf("handshake: %v", err)
					}
					c.SetDeadline(time.Time{})
					return tc
				}
				return c
			}
			accepted := func() net.Conn {
				select {
				case c := <-conns:
					return c
				case <-time.After(waitFor):
					t.Fatal("connection under the caps not accepted")
					return nil
				}
			}
			a1, a2 := dial("127.0.0.1"), dial("127.0.0.1")
			s1, _ := accepted(), accepted()
			_, _ = a1, a2

			// Third from the same address: over the per-address cap.
			got := readAllWithin(t, dial("127.0.0.1"))
			if !strings.HasPrefix(got, "* BYE ") || !strings.Contains(got, "max_connections_per_ip=2") {
				t.Fatalf("over the per-address cap: got %q", got)
			}
			// Another address still gets in, up to the total cap.
			b1 := dial("127.0.0.2")
			accepted()
			got = readAllWithin(t, dial("127.0.0.3"))
			if !strings.Contains(got, "max_connections=3") {
				t.Fatalf("over the total cap: got %q", got)
			}
			// Closing a connection frees its slot.
			s1.Close()
			for deadline := time.Now().Add(waitFor); limits.Open() != 2; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("%d connections counted after a close, want 2", limits.Open())
				}
			}
			c := dial("127.0.0.1")
			accepted()
			_, _ = b1, c
		})
	}
}

// TestNewListenerWith_byeLine checks that the BYE of a rejected connection
// is one complete line.
func TestNewListenerWith_byeLine(t *testing.T) {
	ln, conns := listen(t, &maildirbackend.ListenerOptions{Limits: maildirbackend.NewConnLimiter(1, 0)})
	dialFrom(t, "", ln.Addr().String())
	<-conns
	r := bufio.NewReader(dialFrom(t, "", ln.Addr().String()))
	line, err := r.ReadString('\n')
	if err != nil || line != "* BYE Too many connections to this server (max_connections=1)\r\n" {
		t.Fatalf("got %q, %v", line, err)
	}
}
