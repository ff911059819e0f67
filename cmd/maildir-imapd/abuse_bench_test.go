package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/passwdfile"
)

// These benchmarks measure the login and connection protection with the
// default settings; they are bounded (a fixed number of connections, a
// fixed duration) and run only with -bench:
//
//	go test -run X -bench Abuse -benchtime 1x ./cmd/maildir-imapd/

// startQuiet serves cfg with logs discarded.
func startQuiet(b *testing.B, cfg *Config) *daemon {
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *daemon, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), func(d *daemon) { ready <- d })
	}()
	b.Cleanup(func() { cancel(); <-done })
	select {
	case d := <-ready:
		return d
	case err := <-done:
		b.Fatal(err)
	}
	return nil
}

// abuseUsers writes users "plain" ({PLAIN}), "blf5" (BLF-CRYPT cost 5) and
// testUser, all with testPassword.
func abuseUsers(b *testing.B) *Config {
	dir := b.TempDir()
	blf, err := passwdfile.Hash("BLF-CRYPT", testPassword)
	if err != nil {
		b.Fatal(err)
	}
	blf = strings.Replace(blf, "$10$", "$05$", 1) // cost 5, as in the report (the digest no longer matches: only failures are measured)
	var lines []string
	for _, u := range []struct{ name, hash string }{{"plain", "{PLAIN}" + testPassword}, {"blf5", blf}, {testUser, "{PLAIN}" + testPassword}} {
		home := filepath.Join(dir, u.name)
		newMaildir(b, filepath.Join(home, "Maildir"))
		lines = append(lines, u.name+":"+u.hash+"::::"+home+"::")
	}
	cfg := defaultConfig()
	cfg.Listen, cfg.ListenTLS = "127.0.0.1:0", ""
	cfg.Users = filepath.Join(dir, "users")
	writeFile(b, cfg.Users, strings.Join(lines, "\n")+"\n")
	return &cfg
}

// BenchmarkAbuse_failureTiming: the time of one failed LOGIN by kind.
// With the default auth_failure_delay every kind takes 2 s; with
// --auth-failure-delay 0 (the "nodelay" cases) the kinds differ as before.
func BenchmarkAbuse_failureTiming(b *testing.B) {
	for _, delay := range []time.Duration{0, defaultAuthFailureDelay} {
		cfg := abuseUsers(b)
		cfg.AuthFailureDelay = delay
		d := startQuiet(b, cfg)
		for _, user := range []string{"unknown", "plain", "blf5"} {
			b.Run(fmt.Sprintf("delay=%v/%s", delay, user), func(b *testing.B) {
				for b.Loop() {
					c, err := imapclient.DialInsecure(d.plainAddr, nil)
					if err != nil {
						b.Fatal(err)
					}
					start := time.Now()
					err = c.Login(user, "wrong password").Wait()
					el := time.Since(start)
					c.Close()
					if err == nil {
						b.Fatal("login succeeded")
					}
					b.ReportMetric(float64(el.Microseconds())/1000, "ms/failure")
				}
			})
		}
	}
}

// BenchmarkAbuse_loginFlood: 60 connections from 127.0.0.1 send wrong
// LOGINs as fast as the server answers, for 20 s, each reconnecting after
// its BYE. It reports how many attempts were answered, and how many of
// them had their password checked (AUTHENTICATIONFAILED) rather than
// being refused by the per-address throttle (UNAVAILABLE) or the
// per-address connection cap (BYE at connect).
func BenchmarkAbuse_loginFlood(b *testing.B) {
	const conns, dur = 60, 20 * time.Second
	cfg := abuseUsers(b)
	d := startQuiet(b, cfg)
	for b.Loop() {
		var checked, throttled, refused atomic.Int64
		stop := time.Now().Add(dur)
		var wg sync.WaitGroup
		for range conns {
			wg.Go(func() {
				for time.Now().Before(stop) {
					floodOne(d.plainAddr, stop, &checked, &throttled, &refused)
				}
			})
		}
		wg.Wait()
		s := dur.Seconds()
		b.ReportMetric(float64(checked.Load())/s, "checked/s")
		b.ReportMetric(float64(throttled.Load())/s, "throttled/s")
		b.ReportMetric(float64(refused.Load())/s, "conns-refused/s")
	}
}

func floodOne(addr string, stop time.Time, checked, throttled, refused *atomic.Int64) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return
	}
	defer c.Close()
	c.SetDeadline(stop.Add(5 * time.Second))
	r := bufio.NewReader(c)
	if l, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(l, "* OK") {
		refused.Add(1)
		time.Sleep(10 * time.Millisecond)
		return
	}
	for i := 0; time.Now().Before(stop); i++ {
		fmt.Fprintf(c, "a%d LOGIN %s wrong\r\n", i, testUser)
		l, err := r.ReadString('\n')
		if err != nil {
			return
		}
		switch {
		case strings.Contains(l, "AUTHENTICATIONFAILED"):
			checked.Add(1)
		case strings.Contains(l, "UNAVAILABLE"):
			throttled.Add(1)
		case strings.HasPrefix(l, "* BYE"):
			return
		}
	}
}

// BenchmarkAbuse_idleTLS: 2,000 connections from 127.0.0.2 to the
// implicit-TLS port that never send a ClientHello, while a client on
// 127.0.0.1 connects, logs in and selects INBOX. It reports the real
// client's time and how the idle connections ended.
func BenchmarkAbuse_idleTLS(b *testing.B) {
	const idle = 2000
	cfg := abuseUsers(b)
	certFile, keyFile, roots := testCert(b)
	cfg.TLSCert, cfg.TLSKey, cfg.ListenTLS = certFile, keyFile, "127.0.0.1:0"
	d := startQuiet(b, cfg)
	for b.Loop() {
		var conns []net.Conn
		dialer := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
		for range idle {
			c, err := dialer.Dial("tcp", d.tlsAddr)
			if err != nil {
				b.Fatalf("dial: %v", err)
			}
			conns = append(conns, c)
		}
		start := time.Now()
		c, err := imapclient.DialTLS(d.tlsAddr, &imapclient.Options{TLSConfig: &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}})
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Login(testUser, testPassword).Wait(); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(time.Since(start).Microseconds())/1000, "ms-login")
		c.Close()
		b.ReportMetric(float64(d.limits.Open()), "server-conns-open")
		// How the idle connections end: closed at once (over the caps, past
		// the BYE budget), or after the handshake timeout.
		var mu sync.Mutex
		ends := map[string]int{}
		var wg sync.WaitGroup
		t0 := time.Now()
		var last time.Duration
		for _, c := range conns {
			wg.Go(func() {
				c.SetReadDeadline(time.Now().Add(time.Minute))
				_, err := io.ReadAll(c)
				el := time.Since(t0)
				kind := "closed<1s"
				if el >= time.Second {
					kind = "closed>=1s"
				}
				if err != nil {
					kind = "still open after 1 min"
				}
				mu.Lock()
				ends[kind]++
				last = max(last, el)
				mu.Unlock()
				c.Close()
			})
		}
		wg.Wait()
		for k, n := range ends {
			b.ReportMetric(float64(n), k)
		}
		b.ReportMetric(last.Seconds(), "s-last-closed")
	}
}
