package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/passwdfile"
)

// benchWait bounds waits for notifications in tests; it is a failure
// deadline, never a measured figure.
const benchWait = 30 * time.Second

// TestBenchPush_modes runs every mode for real against maildirtest's server:
// 3 connections, 5 operations; the counts must be exact.
func TestBenchPush_modes(t *testing.T) {
	tests := []struct {
		name  string
		mode  string
		burst int
	}{
		{name: "delivery", mode: modeDelivery},
		{name: "flag", mode: modeFlag},
		{name: "expunge", mode: modeExpunge},
		{name: "burst", mode: modeBurst, burst: 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := maildirtest.NewServer(t, nil)
			c := &benchConfig{
				Addr:            s.Addr,
				UserPattern:     maildirtest.User,
				PasswordPattern: maildirtest.Password,
				MaildirPattern:  s.Maildir,
				Conns:           3,
				Users:           1,
				Deliveries:      5,
				Interval:        10 * time.Millisecond,
				Mode:            tt.mode,
				Burst:           tt.burst,
				SetupParallel:   2,
				PID:             os.Getpid(),
				Timeout:         benchWait,
			}
			if err := c.validate(); err != nil {
				t.Fatal(err)
			}
			res, err := benchPush(context.Background(), c)
			if err != nil {
				t.Fatalf("benchPush: %v", err)
			}
			ops := 5
			if tt.mode == modeBurst {
				ops = tt.burst
			}
			if res.Expected != 3*ops || res.Received != res.Expected || res.Missed != 0 || res.Extra != 0 {
				t.Errorf("expected %d received %d missed %d extra %d; want %d received, 0 missed",
					res.Expected, res.Received, res.Missed, res.Extra, 3*ops)
			}
			if len(res.Latencies) != res.Received || res.ConnErrors != 0 {
				t.Errorf("%d latencies, %d connection errors", len(res.Latencies), res.ConnErrors)
			}
			if !res.MemBefore.OK || !res.MemAfter.OK {
				t.Errorf("memory of our own pid not read: %+v %+v", res.MemBefore, res.MemAfter)
			}
			if tt.mode == modeBurst && (res.FinalExistsOK != 3 || res.Verified != 3 || res.VerifiedOK != 3 || res.BadClients != 0) {
				t.Errorf("burst: final EXISTS ok %d, UIDs ok %d/%d, bad %d; want 3, 3/3, 0",
					res.FinalExistsOK, res.VerifiedOK, res.Verified, res.BadClients)
			}
			var out strings.Builder
			res.print(&out, c)
			if !strings.Contains(out.String(), "missed 0") {
				t.Errorf("output:\n%s", out.String())
			}
		})
	}
}

// TestBenchSetup_serveTLS creates users with `bench setup`, serves them with
// run (implicit TLS and STARTTLS on the setup's certificate) and runs
// `bench push` through runBench over two users.
func TestBenchSetup_serveTLS(t *testing.T) {
	dir := t.TempDir()
	if err := benchSetup(&benchSetupConfig{Dir: dir, Users: 2, Messages: 3}); err != nil {
		t.Fatal(err)
	}
	f, err := passwdfile.Load(filepath.Join(dir, "users"))
	if err != nil {
		t.Fatalf("users file: %v", err)
	}
	if n := len(f.Users()); n != 2 {
		t.Fatalf("%d users, want 2", n)
	}
	for _, u := range []string{"user0", "user1"} {
		keys, err := seenKeys(filepath.Join(dir, u, "Maildir"))
		if err != nil || len(keys) != 3 {
			t.Fatalf("%s: %d messages (%v), want 3", u, len(keys), err)
		}
	}
	cfg := defaultConfig()
	cfg.Listen, cfg.ListenTLS = "127.0.0.1:0", "127.0.0.1:0"
	cfg.TLSCert, cfg.TLSKey = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	cfg.Users = filepath.Join(dir, "users")
	cfg.MailLocation = filepath.Join(dir, "%u", "Maildir")
	r := startServe(t, &cfg)

	tests := []struct {
		name string
		addr string
		flag string
	}{
		{name: "tls", addr: r.d.tlsAddr, flag: "--tls"},
		{name: "starttls", addr: r.d.plainAddr, flag: "--starttls"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"push", "--addr", tt.addr, tt.flag, "--users-file", cfg.Users,
				"--maildir-pattern", filepath.Join(dir, "user%d", "Maildir"), "--users", "2", "--conns", "4",
				"--deliveries", "4", "--interval", "5ms", "--timeout", benchWait.String()}
			if err := runBench(args); err != nil {
				t.Fatalf("bench push: %v", err)
			}
		})
	}
}

// TestBenchConfig_validate checks the usage errors of `bench push`.
func TestBenchConfig_validate(t *testing.T) {
	ok := benchConfig{MaildirPattern: "/m", Conns: 2, Users: 2, Deliveries: 1, Mode: modeDelivery, Timeout: time.Second}
	tests := []struct {
		name   string
		change func(c *benchConfig)
		bad    bool
	}{
		{name: "ok", change: func(*benchConfig) {}},
		{name: "no maildir pattern", change: func(c *benchConfig) { c.MaildirPattern = "" }, bad: true},
		{name: "more users than conns", change: func(c *benchConfig) { c.Users = 3 }, bad: true},
		{name: "unknown mode", change: func(c *benchConfig) { c.Mode = "x" }, bad: true},
		{name: "tls and starttls", change: func(c *benchConfig) { c.TLS, c.StartTLS = true, true }, bad: true},
		{name: "burst forces one user", change: func(c *benchConfig) { c.Mode, c.Burst = modeBurst, 5 }},
		{name: "empty burst", change: func(c *benchConfig) { c.Mode = modeBurst }, bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.change(&c)
			if err := c.validate(); (err != nil) != tt.bad {
				t.Errorf("validate: %v, want error %v", err, tt.bad)
			}
		})
	}
}

// TestParseUntagged_lines checks the response parsing of the load client.
func TestParseUntagged_lines(t *testing.T) {
	tests := []struct {
		name string
		line string
		n    int
		kind string
	}{
		{name: "exists", line: "* 12 EXISTS", n: 12, kind: "EXISTS"},
		{name: "expunge", line: "* 3 EXPUNGE", n: 3, kind: "EXPUNGE"},
		{name: "fetch", line: `* 4 FETCH (UID 9 FLAGS (\Seen \Flagged))`, n: 4, kind: "FETCH"},
		{name: "lowercase", line: "* 1 exists", n: 1, kind: "EXISTS"},
		{name: "ok", line: "* OK Still here"},
		{name: "recent", line: "* 0 RECENT"},
		{name: "no kind", line: "* 5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, kind := parseUntagged([]byte(tt.line))
			if n != tt.n || kind != tt.kind {
				t.Errorf("parseUntagged(%q) = %d %q, want %d %q", tt.line, n, kind, tt.n, tt.kind)
			}
		})
	}
}

// TestLiteralSize_lines checks literal announcements at the end of a line.
func TestLiteralSize_lines(t *testing.T) {
	tests := []struct {
		name string
		line string
		n    int
		ok   bool
	}{
		{name: "literal", line: `* LIST () "." {5}`, n: 5, ok: true},
		{name: "non-sync", line: `a LOGIN {3+}`, n: 3, ok: true},
		{name: "none", line: `* OK done`},
		{name: "brace text", line: `* OK {x}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, ok := literalSize([]byte(tt.line))
			if n != tt.n || ok != tt.ok {
				t.Errorf("literalSize(%q) = %d %v, want %d %v", tt.line, n, ok, tt.n, tt.ok)
			}
		})
	}
}
