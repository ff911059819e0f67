package proxyproto

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"
)

// v2 builds a version 2 header.
func v2(cmd, fam byte, body []byte) []byte {
	b := append([]byte{}, sigV2...)
	b = append(b, 0x20|cmd, fam, 0, 0)
	binary.BigEndian.PutUint16(b[len(b)-2:], uint16(len(body)))
	return append(b, body...)
}

func v2Body(src, dst netip.AddrPort) []byte {
	var b []byte
	b = append(b, src.Addr().AsSlice()...)
	b = append(b, dst.Addr().AsSlice()...)
	b = binary.BigEndian.AppendUint16(b, src.Port())
	b = binary.BigEndian.AppendUint16(b, dst.Port())
	return b
}

func TestReadHeader(t *testing.T) {
	src4, dst4 := netip.MustParseAddrPort("192.0.2.42:51000"), netip.MustParseAddrPort("198.51.100.1:143")
	src6, dst6 := netip.MustParseAddrPort("[2001:db8::42]:51000"), netip.MustParseAddrPort("[2001:db8::1]:143")
	tests := []struct {
		name    string
		in      string
		want    Header
		wantErr error // nil: success
		rest    string
	}{
		{"v1 tcp4", "PROXY TCP4 192.0.2.42 198.51.100.1 51000 143\r\na1 CAPABILITY\r\n", Header{1, src4, dst4}, nil, "a1 CAPABILITY\r\n"},
		{"v1 tcp6", "PROXY TCP6 2001:db8::42 2001:db8::1 51000 143\r\n", Header{1, src6, dst6}, nil, ""},
		{"v1 unknown", "PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", Header{Version: 1}, nil, ""},
		{"v1 family mismatch", "PROXY TCP4 2001:db8::42 198.51.100.1 51000 143\r\n", Header{}, ErrBadHeader, ""},
		{"v1 bad port", "PROXY TCP4 192.0.2.42 198.51.100.1 051000 143\r\n", Header{}, ErrBadHeader, ""},
		{"v1 port too big", "PROXY TCP4 192.0.2.42 198.51.100.1 65536 143\r\n", Header{}, ErrBadHeader, ""},
		{"v1 fields", "PROXY TCP4 192.0.2.42 198.51.100.1 51000\r\n", Header{}, ErrBadHeader, ""},
		{"v1 no crlf", "PROXY TCP4 192.0.2.42 198.51.100.1 51000 143\n", Header{}, ErrBadHeader, ""},
		{"v1 too long", "PROXY TCP4 " + strings.Repeat("1", 120) + "\r\n", Header{}, ErrBadHeader, ""},
		{"v1 protocol", "PROXY UDP4 192.0.2.42 198.51.100.1 1 2\r\n", Header{}, ErrBadHeader, ""},
		{"v2 tcp4", string(v2(1, 0x11, v2Body(src4, dst4))) + "x", Header{2, src4, dst4}, nil, "x"},
		{"v2 tcp6 with tlv", string(v2(1, 0x21, append(v2Body(src6, dst6), 0x01, 0, 2, 'h', '2'))), Header{2, src6, dst6}, nil, ""},
		{"v2 local", string(v2(0, 0x00, nil)), Header{Version: 2}, nil, ""},
		{"v2 unspec", string(v2(1, 0x00, []byte{1, 2, 3})), Header{Version: 2}, nil, ""},
		{"v2 short", string(v2(1, 0x11, []byte{1, 2, 3})), Header{}, ErrBadHeader, ""},
		{"v2 command", string(v2(2, 0x11, v2Body(src4, dst4))), Header{}, ErrBadHeader, ""},
		{"imap command", "a1 LOGIN alice secret\r\n", Header{}, ErrNoHeader, ""},
		{"starts like v1", "PROXZ\r\n", Header{}, ErrNoHeader, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := bufio.NewReader(strings.NewReader(tc.in))
			h, err := readHeader(r)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h != tc.want {
				t.Errorf("header = %+v, want %+v", h, tc.want)
			}
			if rest, _ := io.ReadAll(r); string(rest) != tc.rest {
				t.Errorf("rest = %q, want %q", rest, tc.rest)
			}
		})
	}
}

// serveOne starts a listener with opts on 127.0.0.1 and returns it and a
// channel of its accepted connections (or errors).
func serveOne(t *testing.T, opts *Options) (net.Listener, <-chan net.Conn) {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := NewListener(inner, opts)
	t.Cleanup(func() { ln.Close() })
	conns := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(conns)
				return
			}
			conns <- c
		}
	}()
	return ln, conns
}

func dial(t *testing.T, ln net.Listener, send string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if send != "" {
		if _, err := io.WriteString(c, send); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func accepted(t *testing.T, conns <-chan net.Conn) net.Conn {
	t.Helper()
	select {
	case c := <-conns:
		t.Cleanup(func() { c.Close() })
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no connection accepted")
		return nil
	}
}

// waitClosed fails unless the peer closes c.
func waitClosed(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(c); err != nil {
		t.Fatalf("connection not closed: %v", err)
	}
}

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

func TestListener_trustedProxy(t *testing.T) {
	ln, conns := serveOne(t, &Options{Trusted: loopback})
	dial(t, ln, "PROXY TCP4 192.0.2.42 198.51.100.1 51000 143\r\na1 NOOP\r\n")
	c := accepted(t, conns)
	if got := c.RemoteAddr().String(); got != "192.0.2.42:51000" {
		t.Errorf("RemoteAddr = %s, want the client's", got)
	}
	if got := c.LocalAddr().String(); got != "198.51.100.1:143" {
		t.Errorf("LocalAddr = %s", got)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "a1 NOOP\r\n" {
		t.Errorf("first line after the header = %q, %v", line, err)
	}
}

func TestListener_trustedV2Local(t *testing.T) {
	ln, conns := serveOne(t, &Options{Trusted: loopback})
	cl := dial(t, ln, string(v2(0, 0, nil)))
	c := accepted(t, conns)
	if c.RemoteAddr().String() != cl.LocalAddr().String() {
		t.Errorf("RemoteAddr of a LOCAL header = %s, want the proxy's own %s", c.RemoteAddr(), cl.LocalAddr())
	}
}

// A trusted proxy that sends no header, or none in time, is refused; the
// listener goes on serving others meanwhile.
func TestListener_trustedWithoutHeader(t *testing.T) {
	ln, conns := serveOne(t, &Options{Trusted: loopback, HeaderTimeout: 300 * time.Millisecond})
	bad := dial(t, ln, "a1 LOGIN alice secret\r\n")
	silent := dial(t, ln, "")
	dial(t, ln, "PROXY TCP6 2001:db8::42 2001:db8::1 51000 143\r\n")
	if c := accepted(t, conns); c.RemoteAddr().String() != "[2001:db8::42]:51000" {
		t.Errorf("RemoteAddr = %s", c.RemoteAddr())
	}
	waitClosed(t, bad)
	waitClosed(t, silent)
	select {
	case c := <-conns:
		t.Fatalf("accepted %s without a header", c.RemoteAddr())
	default:
	}
}

// A peer outside the trusted networks is served as it is, unless it sends
// a header.
func TestListener_untrusted(t *testing.T) {
	ln, conns := serveOne(t, &Options{Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	tests := []struct {
		name, send string
		refused    bool
	}{
		{"imap", "a1 NOOP\r\n", false},
		{"v1 header", "PROXY TCP4 192.0.2.42 198.51.100.1 51000 143\r\n", true},
		{"v2 header", string(v2(1, 0x11, v2Body(netip.MustParseAddrPort("192.0.2.1:1"), netip.MustParseAddrPort("192.0.2.2:2")))), true},
		{"short like v1", "PRO", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cl := dial(t, ln, tc.send)
			cl.(*net.TCPConn).CloseWrite()
			c := accepted(t, conns)
			if c.RemoteAddr().String() != cl.LocalAddr().String() {
				t.Errorf("RemoteAddr = %s, want %s", c.RemoteAddr(), cl.LocalAddr())
			}
			got, err := io.ReadAll(c)
			if tc.refused {
				if !errors.Is(err, errUntrusted) {
					t.Fatalf("read %q, %v; want errUntrusted", got, err)
				}
				waitClosed(t, cl)
				return
			}
			if err != nil || string(got) != tc.send {
				t.Errorf("read %q, %v; want %q", got, err, tc.send)
			}
		})
	}
}

// A read that times out before the peer said anything does not end the
// check: a header sent afterwards is still refused.
func TestListener_untrustedAfterTimeout(t *testing.T) {
	ln, conns := serveOne(t, nil)
	cl := dial(t, ln, "")
	c := accepted(t, conns)
	_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	var buf [64]byte
	if _, err := c.Read(buf[:]); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("first read: %v, want a timeout", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(cl, "PROXY TCP4 192.0.2.42 198.51.100.1 51000 143\r\n"); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Read(buf[:]); !errors.Is(err, errUntrusted) {
		t.Fatalf("read %q, %v; want errUntrusted", buf[:n], err)
	}
}
