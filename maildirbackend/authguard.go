package maildirbackend

import (
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"
)

// Defaults of the login protection in [Options].
const (
	// DefaultAuthFailureDelay is Dovecot's auth_failure_delay.
	DefaultAuthFailureDelay = 2 * time.Second
	// DefaultMaxAuthFailures is how many failed logins a connection may
	// make before it is sent BYE.
	DefaultMaxAuthFailures = 3
	// DefaultIPAuthFailures is the burst of failed logins one client
	// address may make before it is throttled.
	DefaultIPAuthFailures = 10
	// DefaultIPAuthFailureInterval is how often a throttled address regains
	// one attempt: 10 failures a minute, sustained.
	DefaultIPAuthFailureInterval = 6 * time.Second
	// DefaultLoginTimeout is how long a connection may stay unauthenticated.
	DefaultLoginTimeout = time.Minute
	// failureLogBurst failed logins are logged per failureLogWindow; the
	// others are counted and summarised in the next line logged.
	failureLogBurst  = 10
	failureLogWindow = 10 * time.Second
	// maxThrottled bounds the addresses the throttle remembers.
	maxThrottled = 100000
	// maxAuthWait bounds how long a login waits for the attempts of its
	// address that are being checked (see authGuard.begin).
	maxAuthWait = 5 * time.Second
)

// authGuard protects Login: every failed attempt ends at a fixed deadline
// after its start (so that its duration tells nothing about the user or
// the password scheme), each client address has a token bucket of failed
// attempts, and failures are logged at a bounded rate. It is safe for
// concurrent use, and never sleeps holding its lock.
type authGuard struct {
	delay    time.Duration // immutable; failure floor, 0: none
	burst    int           // immutable; <=0: no per-address throttle
	interval time.Duration // immutable
	now      func() time.Time
	sleep    func(time.Duration)
	log      *slog.Logger

	mu        sync.Mutex
	buckets   map[netip.Addr]*bucket
	lastSweep time.Time
	logStart  time.Time // start of the current log window
	logged    int       // failures logged in the window
	skipped   int       // failures not logged since the last line
}

// bucket is one address's failed-attempt allowance.
type bucket struct {
	tokens   float64
	at       time.Time     // when tokens was computed
	inflight int           // attempts begun and not ended
	wake     chan struct{} // closed when an attempt ends; nil when nobody waits
}

func newAuthGuard(o *Options, log *slog.Logger) *authGuard {
	g := &authGuard{
		delay:    o.AuthFailureDelay,
		burst:    o.IPAuthFailures,
		interval: o.IPAuthFailureInterval,
		now:      time.Now,
		sleep:    time.Sleep,
		log:      log,
		buckets:  make(map[netip.Addr]*bucket),
	}
	switch {
	case g.delay == 0:
		g.delay = DefaultAuthFailureDelay
	case g.delay < 0:
		g.delay = 0
	}
	if g.burst == 0 {
		g.burst = DefaultIPAuthFailures
	}
	if g.interval <= 0 {
		g.interval = DefaultIPAuthFailureInterval
	}
	return g
}

// begin starts an attempt from addr. It reserves one failure from the
// address's bucket and reports false when there is none left: the attempt
// must then fail without checking the password. Every attempt begun is
// ended with end.
//
// When the bucket is empty but attempts from addr are still being checked
// (several clients behind one NAT logging in at once), begin waits, up to
// maxAuthWait, for one of them to end: a success gives its reservation
// back, so concurrent good logins are never throttled, while the failures
// from one address still never exceed the bucket.
func (g *authGuard) begin(addr netip.Addr) bool {
	if g.burst <= 0 || !addr.IsValid() {
		return true
	}
	deadline := time.Now().Add(maxAuthWait)
	g.mu.Lock()
	defer g.mu.Unlock()
	for {
		now := g.now()
		g.sweepLocked(now)
		b := g.buckets[addr]
		if b == nil {
			if len(g.buckets) >= maxThrottled {
				return true // under a flood of addresses, fail open rather than grow
			}
			b = &bucket{tokens: float64(g.burst), at: now}
			g.buckets[addr] = b
		}
		g.refillLocked(b, now)
		if b.tokens >= 1 {
			b.tokens--
			b.inflight++
			return true
		}
		wait := time.Until(deadline)
		if b.inflight == 0 || wait <= 0 {
			return false
		}
		if b.wake == nil {
			b.wake = make(chan struct{})
		}
		wake := b.wake
		g.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-wake:
		case <-t.C:
		}
		t.Stop()
		g.mu.Lock()
	}
}

// end ends an attempt that begin allowed. A success gives its reservation
// back; a failure keeps it.
func (g *authGuard) end(addr netip.Addr, ok bool) {
	if g.burst <= 0 || !addr.IsValid() {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	b := g.buckets[addr]
	if b == nil {
		return
	}
	if ok {
		b.tokens = min(b.tokens+1, float64(g.burst))
	}
	if b.inflight > 0 {
		b.inflight--
	}
	if b.wake != nil {
		close(b.wake)
		b.wake = nil
	}
}

func (g *authGuard) refillLocked(b *bucket, now time.Time) {
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(b.tokens+float64(d)/float64(g.interval), float64(g.burst))
	}
	b.at = now
}

// sweepLocked forgets, once a minute, the addresses whose bucket is full
// again.
func (g *authGuard) sweepLocked(now time.Time) {
	if now.Sub(g.lastSweep) < time.Minute {
		return
	}
	g.lastSweep = now
	for a, b := range g.buckets {
		g.refillLocked(b, now)
		if b.tokens >= float64(g.burst) && b.inflight == 0 {
			delete(g.buckets, a)
		}
	}
}

// failed waits until the failure deadline of an attempt that started at
// start, so that every failure takes the same time whatever its cause.
func (g *authGuard) failed(start time.Time) {
	if d := start.Add(g.delay).Sub(g.now()); d > 0 {
		g.sleep(d)
	}
}

// logFailure logs a failed login at Info, at most failureLogBurst lines per
// failureLogWindow; the next line logged counts the failures left out.
func (g *authGuard) logFailure(msg string, args ...any) {
	g.mu.Lock()
	now := g.now()
	if now.Sub(g.logStart) >= failureLogWindow {
		g.logStart, g.logged = now, 0
	}
	if g.logged >= failureLogBurst {
		g.skipped++
		g.mu.Unlock()
		return
	}
	g.logged++
	skipped := g.skipped
	g.skipped = 0
	g.mu.Unlock()
	if skipped > 0 {
		args = append(args, "not_logged", skipped)
	}
	g.log.Info(msg, args...)
}

// userIPCounter counts logged-in sessions per user and client address, for
// Dovecot's mail_max_userip_connections. A zero max counts nothing.
type userIPCounter struct {
	max int // immutable

	mu sync.Mutex
	n  map[userIP]int
}

type userIP struct {
	user string
	addr netip.Addr
}

// acquire counts a session of user from addr. It returns the function that
// gives the slot back (call it once), or, when the user already has max
// sessions from that address, the reason to give the client and no
// function.
func (c *userIPCounter) acquire(user string, addr netip.Addr) (release func(), reason string) {
	if c.max <= 0 {
		return func() {}, ""
	}
	k := userIP{user, addr}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[k] >= c.max {
		// Dovecot's wording, so that admins find it.
		return nil, fmt.Sprintf("Maximum number of connections from user+IP exceeded (mail_max_userip_connections=%d)", c.max)
	}
	if c.n == nil {
		c.n = make(map[userIP]int)
	}
	c.n[k]++
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.n[k]--; c.n[k] <= 0 {
				delete(c.n, k)
			}
		})
	}, ""
}
