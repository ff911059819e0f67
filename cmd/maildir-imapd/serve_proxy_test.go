package main

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// proxied opens a connection to addr as a proxy would: a PROXY v1 header
// naming client as the source, then IMAP. It returns the first line the
// server sends.
func proxied(t *testing.T, addr, client string) (net.Conn, *bufio.Reader, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, waitLimit)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(waitLimit))
	if _, err := fmt.Fprintf(c, "PROXY TCP4 %s 127.0.0.1 40000 143\r\n", client); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("first line: %v", err)
	}
	return c, br, line
}

// Behind a proxy the per-address connection cap counts the clients the
// PROXY headers name, not the proxy.
func TestServe_proxyProtocolConnCap(t *testing.T) {
	cfg := testConfig(t)
	cfg.ProxyTrusted = []string{"127.0.0.1"}
	cfg.MaxConnectionsPerIP = 1
	r := startServe(t, cfg)
	plain, _ := r.d.Addrs()

	_, _, first := proxied(t, plain, "192.0.2.1")
	_, _, other := proxied(t, plain, "192.0.2.2")
	_, _, same := proxied(t, plain, "192.0.2.1")
	if !strings.HasPrefix(first, "* OK") || !strings.HasPrefix(other, "* OK") {
		t.Fatalf("greetings of two clients through one proxy: %q, %q", first, other)
	}
	if !strings.HasPrefix(same, "* BYE") {
		t.Fatalf("second connection of 192.0.2.1 over max_connections_per_ip=1: %q, want * BYE", same)
	}
}

// Behind a proxy the login throttle counts the clients the PROXY headers
// name, not the proxy.
func TestServe_proxyProtocolThrottle(t *testing.T) {
	cfg := testConfig(t)
	cfg.ProxyTrusted = []string{"127.0.0.1"}
	cfg.AuthFailureDelay = 0
	r := startServe(t, cfg)
	plain, _ := r.d.Addrs()

	// Ten failed logins of one client (three per connection, then BYE)
	// throttle that client only.
	fail := func(client string, n int) string {
		c, br, greeting := proxied(t, plain, client)
		if !strings.HasPrefix(greeting, "* OK") {
			t.Fatalf("greeting: %q", greeting)
		}
		var last string
		for i := range n {
			fmt.Fprintf(c, "a%d LOGIN %s wrong\r\n", i, testUser)
			for {
				line, err := br.ReadString('\n')
				if err != nil {
					t.Fatal(err)
				}
				if strings.HasPrefix(line, fmt.Sprintf("a%d ", i)) {
					last = line
					break
				}
			}
		}
		c.Close()
		return last
	}
	for _, client := range []string{"192.0.2.3", "192.0.2.3", "192.0.2.3", "192.0.2.3"} {
		fail(client, 3) // 12 failures, the last ones throttled
	}
	if got := fail("192.0.2.3", 1); !strings.Contains(got, "[UNAVAILABLE]") {
		t.Errorf("11th failure of one client: %q, want throttled", got)
	}
	if got := fail("192.0.2.4", 1); strings.Contains(got, "[UNAVAILABLE]") {
		t.Errorf("another client behind the same proxy is throttled: %q", got)
	}
}
