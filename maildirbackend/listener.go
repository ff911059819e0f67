package maildirbackend

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"
)

// maxPending is how many bytes a connection buffers before Write waits for
// the network.
const maxPending = 256 << 10

// Defaults of [ListenerOptions].
const (
	// DefaultHandshakeTimeout bounds an implicit-TLS handshake.
	DefaultHandshakeTimeout = 10 * time.Second
	// rejectTimeout bounds the "* BYE" (and, for TLS, the handshake before
	// it) sent to a connection over a cap.
	rejectTimeout = 5 * time.Second
	// maxRejecting bounds the over-cap connections being told BYE at once;
	// past it, over-cap connections are closed without a word, so that a
	// flood costs no more than this many extra descriptors.
	maxRejecting = 64
)

// keepAlive is set on every accepted TCP connection: a dead peer of an IDLE
// client (mobile NAT, suspended laptop) is found within about 3 minutes.
var keepAlive = net.KeepAliveConfig{Enable: true, Idle: 60 * time.Second, Interval: 30 * time.Second, Count: 4}

// ListenerOptions configures [NewListenerWith]. The zero value is what
// [NewListener] uses: no caps, no TLS.
type ListenerOptions struct {
	// Limits caps the connections in total and per client address. One
	// ConnLimiter may be shared by several listeners. Nil means no caps.
	Limits *ConnLimiter
	// TLSConfig, when set, makes the listener one of implicit TLS (port
	// 993): Accept returns *tls.Conn values whose handshake is complete.
	// Handshakes run in their own goroutines, so a client that never sends
	// a ClientHello delays nobody and is dropped after HandshakeTimeout.
	TLSConfig *tls.Config
	// HandshakeTimeout bounds the TLS handshake. Zero means
	// DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// Logger receives rejected connections (at Debug) and accept errors.
	// Nil means slog.Default().
	Logger *slog.Logger
	// Unbatched leaves out the batching writer: for servers that buffer
	// their responses themselves and flush once per command, such as
	// imapd. Caps, keepalive and TLS handshakes are as without it.
	Unbatched bool
}

// NewListener wraps ln for an imapserver.Server; it is NewListenerWith(ln,
// nil).
func NewListener(ln net.Listener) net.Listener {
	return NewListenerWith(ln, nil)
}

// NewListenerWith wraps ln for an imapserver.Server. go-imap flushes its
// buffer after every response line, so a FETCH of 10,000 messages costs
// 10,000 write system calls; the connections it returns hand writes to a
// flushing goroutine that sends whatever has accumulated in one call. The
// goroutine exists only while data is pending, so an idle connection costs
// nothing extra. Write deadlines are honoured (see batchConn). Accepted TCP
// connections get TCP keepalive (60 s idle, then every 30 s), so that long
// IDLE sessions survive NAT.
//
// A connection over a cap of opts.Limits is sent "* BYE" with the reason
// (after a TLS handshake on an implicit-TLS listener) and closed; Accept
// does not return it. Closing the returned listener closes ln.
func NewListenerWith(ln net.Listener, opts *ListenerOptions) net.Listener {
	l := &listener{Listener: ln, done: make(chan struct{}), rejecting: make(chan struct{}, maxRejecting)}
	if opts != nil {
		l.opts = *opts
	}
	if l.opts.HandshakeTimeout <= 0 {
		l.opts.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if l.opts.Logger == nil {
		l.opts.Logger = slog.Default()
	}
	if l.opts.TLSConfig != nil {
		l.ready = make(chan net.Conn)
		go l.acceptLoop()
	}
	return l
}

type listener struct {
	net.Listener
	opts      ListenerOptions
	rejecting chan struct{} // semaphore of reject goroutines

	// Implicit TLS only: acceptLoop hands handshaken connections to Accept.
	ready     chan net.Conn
	done      chan struct{} // closed by Close or when acceptLoop fails
	closeOnce sync.Once
	errMu     sync.Mutex
	err       error // why acceptLoop stopped
}

func (l *listener) Accept() (net.Conn, error) {
	if l.ready != nil {
		select {
		case c := <-l.ready:
			return c, nil
		case <-l.done:
			l.errMu.Lock()
			defer l.errMu.Unlock()
			if l.err == nil {
				return nil, net.ErrClosed
			}
			return nil, l.err
		}
	}
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if bc := l.admit(c); bc != nil {
			return bc, nil
		}
	}
}

// admit applies the caps to a new connection. It returns the wrapped
// connection, or nil when the connection is over a cap (it is then being
// rejected in another goroutine).
func (l *listener) admit(c net.Conn) net.Conn {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetKeepAliveConfig(keepAlive)
	}
	release, reason := l.opts.Limits.acquire(c.RemoteAddr())
	if reason != "" {
		l.reject(c, reason)
		return nil
	}
	if l.opts.Unbatched {
		return &slotConn{Conn: c, release: release}
	}
	bc := newBatchConn(c)
	bc.release = release
	return bc
}

// slotConn is an accepted connection that gives its ConnLimiter slot back
// when closed (Unbatched listeners).
type slotConn struct {
	net.Conn
	once    sync.Once
	release func() // may be nil
}

func (c *slotConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		if c.release != nil {
			c.release()
		}
	})
	return err
}

// NetConn returns the accepted connection.
func (c *slotConn) NetConn() net.Conn { return c.Conn }

// reject says "* BYE reason" to c and closes it, in a goroutine, unless
// maxRejecting rejections are already running: then it closes c at once.
func (l *listener) reject(c net.Conn, reason string) {
	select {
	case l.rejecting <- struct{}{}:
	default:
		c.Close()
		return
	}
	l.opts.Logger.Debug("connection refused", "conn", c.RemoteAddr().String(), "reason", reason)
	go func() {
		defer func() { <-l.rejecting }()
		var w net.Conn = c
		_ = c.SetDeadline(time.Now().Add(rejectTimeout))
		if l.opts.TLSConfig != nil {
			tc := tls.Server(c, l.opts.TLSConfig)
			if tc.Handshake() != nil {
				c.Close()
				return
			}
			w = tc
		}
		_, _ = w.Write([]byte("* BYE " + reason + "\r\n"))
		w.Close()
	}()
}

// acceptLoop accepts connections for an implicit-TLS listener and starts
// a handshake for each.
func (l *listener) acceptLoop() {
	var delay time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if isTemporary(err) {
				// EMFILE and friends: back off as net/http does.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				l.opts.Logger.Warn("accept failed; retrying", "err", err, "in", delay)
				select {
				case <-time.After(delay):
					continue
				case <-l.done:
					return
				}
			}
			l.stop(err)
			return
		}
		delay = 0
		if bc := l.admit(c); bc != nil {
			go l.handshake(bc)
		}
	}
}

// isTemporary reports an accept error worth retrying (running out of
// descriptors or memory, a connection aborted before accept).
func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// handshake runs the TLS handshake of c within HandshakeTimeout and hands
// the connection to Accept.
func (l *listener) handshake(bc net.Conn) {
	tc := tls.Server(bc, l.opts.TLSConfig)
	deadline := time.Now().Add(l.opts.HandshakeTimeout)
	_ = bc.SetDeadline(deadline)
	if err := tc.Handshake(); err != nil {
		l.opts.Logger.Debug("TLS handshake failed", "conn", bc.RemoteAddr().String(), "err", err)
		bc.Close()
		return
	}
	_ = bc.SetDeadline(time.Time{})
	select {
	case l.ready <- tc:
	case <-l.done:
		tc.Close()
	}
}

// stop ends acceptLoop's service with err (nil: closed).
func (l *listener) stop(err error) {
	l.closeOnce.Do(func() {
		l.errMu.Lock()
		if !errors.Is(err, net.ErrClosed) {
			l.err = err
		}
		l.errMu.Unlock()
		close(l.done)
	})
}

// Close closes the underlying listener; connections already accepted stay
// open.
func (l *listener) Close() error {
	err := l.Listener.Close()
	l.stop(nil)
	return err
}

// batchConn coalesces writes. Write appends to pending and, unless a flush
// is running, starts one; the flush loop writes everything pending in one
// call until nothing is left. Write order is kept.
//
// Write deadlines: a Write after the deadline fails with
// os.ErrDeadlineExceeded, as does a Write still waiting for room in the
// queue when the deadline passes. Data accepted into the queue is sent
// within the latest deadline in force when any of it was queued (or within
// flushTimeout when there was none): so go-imap's 30 s response deadline
// bounds a client that does not read, while crypto/tls's deadline of "now"
// right after queueing its close_notify does not cut off what was queued
// before.
type batchConn struct {
	net.Conn
	release func() // gives back the ConnLimiter slot; may be nil

	mu         sync.Mutex
	cond       *sync.Cond
	pending    []byte
	flushBy    time.Time // deadline for sending pending (zero: flushTimeout)
	wdeadline  time.Time // from SetWriteDeadline; zero: none
	flushing   bool
	err        error  // sticky write error
	afterReply func() // run once at the next read; see onNextRead
}

func newBatchConn(c net.Conn) *batchConn {
	bc := &batchConn{Conn: c}
	bc.cond = sync.NewCond(&bc.mu)
	return bc
}

// Write queues p in pieces of at most maxPending bytes, so that a large
// write (a literal go-imap's bufio passes through) holds at most
// 2*maxPending bytes pending, not a copy of itself.
func (c *batchConn) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k, err := c.writePiece(p[:min(len(p), maxPending)])
		n += k
		if err != nil {
			return n, err
		}
		p = p[k:]
	}
	return n, nil
}

func (c *batchConn) writePiece(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var timer *time.Timer
	for c.err == nil && len(c.pending) >= maxPending {
		if c.deadlinePassedLocked() {
			return 0, os.ErrDeadlineExceeded
		}
		if timer == nil && !c.wdeadline.IsZero() {
			// Wake the wait below when the deadline passes.
			timer = time.AfterFunc(time.Until(c.wdeadline), func() {
				c.mu.Lock()
				c.cond.Broadcast()
				c.mu.Unlock()
			})
			defer timer.Stop()
		}
		c.cond.Wait()
	}
	if c.err != nil {
		return 0, c.err
	}
	if c.deadlinePassedLocked() {
		return 0, os.ErrDeadlineExceeded
	}
	c.pending = append(c.pending, p...)
	by := c.wdeadline
	if by.IsZero() {
		by = time.Now().Add(flushTimeout)
	}
	if by.After(c.flushBy) {
		c.flushBy = by
	}
	if !c.flushing {
		c.flushing = true
		go c.flush()
	}
	return len(p), nil
}

func (c *batchConn) deadlinePassedLocked() bool {
	return !c.wdeadline.IsZero() && !time.Now().Before(c.wdeadline)
}

func (c *batchConn) flush() {
	c.mu.Lock()
	for len(c.pending) > 0 && c.err == nil {
		buf, by := c.pending, c.flushBy
		c.pending, c.flushBy = nil, time.Time{}
		c.mu.Unlock()
		_ = c.Conn.SetWriteDeadline(by)
		_, err := c.Conn.Write(buf)
		c.mu.Lock()
		if err != nil {
			c.err = err
		}
		if c.pending == nil && cap(buf) <= maxPending {
			c.pending = buf[:0] // reuse the buffer
		}
		c.cond.Broadcast()
	}
	if len(c.pending) == 0 {
		c.pending = nil // an idle connection keeps no buffer
	}
	c.flushing = false
	c.cond.Broadcast()
	c.mu.Unlock()
}

// flushTimeout bounds one write of pending data queued without a deadline.
const flushTimeout = time.Minute

// SetWriteDeadline sets the deadline of Write and of the data it queues;
// see batchConn.
func (c *batchConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.wdeadline = t
	c.cond.Broadcast()
	c.mu.Unlock()
	return nil
}

// SetReadDeadline sets the read deadline of the connection. It is also
// where go-imap shows that it has written its reply to a command and goes
// back to reading (see onNextRead).
func (c *batchConn) SetReadDeadline(t time.Time) error {
	c.runAfterReply()
	return c.Conn.SetReadDeadline(t)
}

// SetDeadline sets both deadlines.
func (c *batchConn) SetDeadline(t time.Time) error {
	c.SetWriteDeadline(t)
	return c.SetReadDeadline(t)
}

// Read reads from the connection.
func (c *batchConn) Read(p []byte) (int, error) {
	c.runAfterReply()
	return c.Conn.Read(p)
}

// onNextRead arranges for fn to run, in its own goroutine, when the
// connection is next read from or given a read deadline: go-imap does that
// right after writing the reply to the command being handled, so fn can
// say "* BYE" after a tagged NO.
func (c *batchConn) onNextRead(fn func()) {
	c.mu.Lock()
	c.afterReply = fn
	c.mu.Unlock()
}

func (c *batchConn) runAfterReply() {
	c.mu.Lock()
	fn := c.afterReply
	c.afterReply = nil
	c.mu.Unlock()
	if fn != nil {
		go fn()
	}
}

// Close sends what is pending (a BYE, say), for at most five seconds, then
// closes and gives back the connection's slot in the ConnLimiter.
func (c *batchConn) Close() error {
	c.mu.Lock()
	deadline := time.Now().Add(5 * time.Second)
	for (c.flushing || len(c.pending) > 0) && c.err == nil && time.Now().Before(deadline) {
		c.mu.Unlock()
		time.Sleep(time.Millisecond)
		c.mu.Lock()
	}
	if c.err == nil {
		c.err = net.ErrClosed
	}
	c.cond.Broadcast()
	release := c.release
	c.release = nil
	c.mu.Unlock()
	if release != nil {
		release()
	}
	return c.Conn.Close()
}
