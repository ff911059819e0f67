package maildirbackend

import (
	"net"
	"sync"
	"time"
)

// maxPending is how many bytes a connection buffers before Write waits for
// the network.
const maxPending = 256 << 10

// NewListener wraps ln for an imapserver.Server. go-imap flushes its buffer
// after every response line, so a FETCH of 10,000 messages costs 10,000
// write system calls; the connections NewListener returns hand writes to a
// flushing goroutine that sends whatever has accumulated in one call. The
// goroutine exists only while data is pending, so an idle connection costs
// nothing extra. Accepted TCP connections also get TCP keepalive (60 s idle,
// then every 30 s), so that long IDLE sessions survive NAT.
func NewListener(ln net.Listener) net.Listener {
	return &listener{Listener: ln}
}

type listener struct {
	net.Listener
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: 60 * time.Second, Interval: 30 * time.Second, Count: 4})
	}
	return newBatchConn(c), nil
}

// batchConn coalesces writes. Write appends to pending and, unless a flush
// is running, starts one; the flush loop writes everything pending in one
// call until nothing is left. Write order is kept.
type batchConn struct {
	net.Conn

	mu       sync.Mutex
	cond     *sync.Cond
	pending  []byte
	flushing bool
	err      error // sticky write error
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
	for c.err == nil && len(c.pending) >= maxPending {
		c.cond.Wait()
	}
	if c.err != nil {
		return 0, c.err
	}
	c.pending = append(c.pending, p...)
	if !c.flushing {
		c.flushing = true
		go c.flush()
	}
	return len(p), nil
}

func (c *batchConn) flush() {
	c.mu.Lock()
	for len(c.pending) > 0 && c.err == nil {
		buf := c.pending
		c.pending = nil
		c.mu.Unlock()
		c.Conn.SetWriteDeadline(time.Now().Add(flushTimeout))
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

// flushTimeout bounds one write of pending data to a client that does not
// read.
const flushTimeout = time.Minute

// SetWriteDeadline is accepted and ignored: a Write only queues, so a
// deadline cannot apply to it, and applying it to the queue would cut off
// data already accepted (crypto/tls sets a deadline of "now" right after
// queueing its close_notify). The flushing goroutine bounds each write by
// flushTimeout instead.
func (c *batchConn) SetWriteDeadline(t time.Time) error { return nil }

// SetDeadline sets the read deadline; see SetWriteDeadline.
func (c *batchConn) SetDeadline(t time.Time) error { return c.Conn.SetReadDeadline(t) }

// Close sends what is pending (a BYE, say), for at most five seconds, then
// closes.
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
	c.mu.Unlock()
	return c.Conn.Close()
}
