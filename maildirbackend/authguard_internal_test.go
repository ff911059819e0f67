package maildirbackend

import (
	"bytes"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// fakeClock is the guard's clock and sleeper: sleeping advances it.
type fakeClock struct {
	t      time.Time
	sleeps []time.Duration
}

func (c *fakeClock) now() time.Time { return c.t }
func (c *fakeClock) sleep(d time.Duration) {
	c.sleeps = append(c.sleeps, d)
	c.t = c.t.Add(d)
}

func newTestGuard(o Options) (*authGuard, *fakeClock, *bytes.Buffer) {
	var logs bytes.Buffer
	g := newAuthGuard(&o, slog.New(slog.NewTextHandler(&logs, nil)))
	c := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	g.now, g.sleep = c.now, c.sleep
	return g, c, &logs
}

func TestAuthGuard_failedWaitsUntilTheDeadline(t *testing.T) {
	tests := []struct {
		name string
		took time.Duration // time the check itself took
		want time.Duration
	}{
		{"instant check ({PLAIN} or throttled)", 0, 2 * time.Second},
		{"bcrypt of an unknown user", 110 * time.Millisecond, 2*time.Second - 110*time.Millisecond},
		{"slow hash past the deadline", 3 * time.Second, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, c, _ := newTestGuard(Options{})
			start := c.now()
			c.t = c.t.Add(tc.took)
			g.failed(start)
			if tc.want == 0 {
				if len(c.sleeps) != 0 {
					t.Fatalf("slept %v past the deadline", c.sleeps)
				}
				return
			}
			if len(c.sleeps) != 1 || c.sleeps[0] != tc.want {
				t.Fatalf("slept %v, want [%v]", c.sleeps, tc.want)
			}
			if end := c.now(); !end.Equal(start.Add(DefaultAuthFailureDelay)) {
				t.Fatalf("answered at +%v, want +%v", end.Sub(start), DefaultAuthFailureDelay)
			}
		})
	}
}

func TestAuthGuard_perAddressBucket(t *testing.T) {
	g, c, _ := newTestGuard(Options{IPAuthFailures: 3, IPAuthFailureInterval: 10 * time.Second})
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	for i := range 3 {
		if !g.begin(a) {
			t.Fatalf("attempt %d within the burst refused", i+1)
		}
		g.end(a, false)
	}
	if g.begin(a) {
		t.Fatal("attempt past the burst allowed")
	}
	if !g.begin(b) {
		t.Fatal("another address was throttled")
	}
	g.end(b, true)
	c.t = c.t.Add(9 * time.Second)
	if g.begin(a) {
		t.Fatal("attempt allowed before an interval passed")
	}
	c.t = c.t.Add(time.Second)
	if !g.begin(a) {
		t.Fatal("no attempt regained after an interval")
	}
	g.end(a, false)
	if g.begin(a) {
		t.Fatal("two attempts regained after one interval")
	}
	// A success gives its reservation back.
	c.t = c.t.Add(10 * time.Second)
	if !g.begin(a) {
		t.Fatal("no attempt regained")
	}
	g.end(a, true)
	if !g.begin(a) {
		t.Fatal("a successful attempt used up the allowance")
	}
	g.end(a, true)
	// Full buckets are forgotten.
	c.t = c.t.Add(time.Hour)
	g.begin(b)
	if _, ok := g.buckets[a]; ok || len(g.buckets) != 1 {
		t.Fatalf("%d buckets kept after an hour, want only the one just used", len(g.buckets))
	}
}

func TestAuthGuard_logFailureIsBounded(t *testing.T) {
	g, c, logs := newTestGuard(Options{})
	for range 25 {
		g.logFailure("login failed", "user", "u")
	}
	if n := strings.Count(logs.String(), "login failed"); n != failureLogBurst {
		t.Fatalf("%d lines logged for 25 failures, want %d", n, failureLogBurst)
	}
	c.t = c.t.Add(failureLogWindow)
	logs.Reset()
	g.logFailure("login failed", "user", "u")
	if !strings.Contains(logs.String(), "not_logged=15") {
		t.Fatalf("next window's line does not count the failures left out: %q", logs.String())
	}
}

func TestUserIPCounter(t *testing.T) {
	c := &userIPCounter{max: 2}
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::")
	r1, _ := c.acquire("/m/u", a)
	c.acquire("/m/u", a)
	if _, reason := c.acquire("/m/u", a); !strings.Contains(reason, "mail_max_userip_connections=2") {
		t.Fatalf("third session: reason %q", reason)
	}
	if _, reason := c.acquire("/m/u", b); reason != "" {
		t.Fatalf("other address refused: %q", reason)
	}
	r1()
	r1() // twice is harmless
	if _, reason := c.acquire("/m/u", a); reason != "" {
		t.Fatalf("slot not given back: %q", reason)
	}
}

// TestAuthGuard_concurrentGoodLogins: more simultaneous logins from one
// address than the bucket holds (an office behind NAT at 9:00) all pass:
// the attempts past the bucket wait for the others to end.
func TestAuthGuard_concurrentGoodLogins(t *testing.T) {
	g, _, _ := newTestGuard(Options{IPAuthFailures: 3, IPAuthFailureInterval: time.Hour})
	a := netip.MustParseAddr("192.0.2.1")
	const n = 20
	results := make(chan bool, n)
	for range n {
		go func() {
			ok := g.begin(a)
			if ok {
				time.Sleep(time.Millisecond) // the password check
				g.end(a, true)
			}
			results <- ok
		}()
	}
	for range n {
		if !<-results {
			t.Fatal("a good login was throttled while others were being checked")
		}
	}
	// Failures still count: three fail, the fourth is refused.
	for range 3 {
		if !g.begin(a) {
			t.Fatal("attempt within the burst refused")
		}
		g.end(a, false)
	}
	if g.begin(a) {
		t.Fatal("attempt past the burst of failures allowed")
	}
}
