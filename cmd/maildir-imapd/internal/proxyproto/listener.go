package proxyproto

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// DefaultHeaderTimeout bounds the wait for the header of a trusted proxy's
// connection when [Options].HeaderTimeout is zero.
const DefaultHeaderTimeout = 5 * time.Second

// maxReading bounds the connections whose header is being read at once; past
// it, new trusted connections wait in the kernel's accept queue.
const maxReading = 256

// Options configures [NewListener].
type Options struct {
	// Trusted are the networks of the proxies. A connection from one of
	// them must start with a PROXY header; one from anywhere else must
	// not. Empty means no proxy is trusted: every connection is served as
	// it is, and one that sends a header is closed.
	Trusted []netip.Prefix
	// HeaderTimeout bounds the wait for a trusted connection's header.
	// Zero means DefaultHeaderTimeout.
	HeaderTimeout time.Duration
	// Logger receives refused connections (at Info) and accept errors.
	// Nil means slog.Default().
	Logger *slog.Logger
}

// NewListener wraps ln. Accept returns the connections of trusted proxies
// once their header is read, with RemoteAddr (and LocalAddr) replaced by
// the addresses the header gives, and other connections at once, wrapped
// so that their first Read fails and closes them if they begin with a
// PROXY header. Closing the returned listener closes ln.
func NewListener(ln net.Listener, opts *Options) net.Listener {
	l := &listener{
		ln:      ln,
		ready:   make(chan net.Conn),
		done:    make(chan struct{}),
		reading: make(chan struct{}, maxReading),
	}
	if opts != nil {
		l.opts = *opts
	}
	if l.opts.HeaderTimeout <= 0 {
		l.opts.HeaderTimeout = DefaultHeaderTimeout
	}
	if l.opts.Logger == nil {
		l.opts.Logger = slog.Default()
	}
	go l.acceptLoop()
	return l
}

type listener struct {
	ln      net.Listener
	opts    Options
	ready   chan net.Conn
	reading chan struct{} // semaphore of header readers

	done      chan struct{} // closed by Close or when acceptLoop fails
	closeOnce sync.Once
	errMu     sync.Mutex
	err       error // why acceptLoop stopped; nil: closed
}

// Accept waits for the next connection ready to serve.
func (l *listener) Accept() (net.Conn, error) {
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

// Addr returns the address of the wrapped listener.
func (l *listener) Addr() net.Addr { return l.ln.Addr() }

// Close closes the wrapped listener. Connections already accepted stay open.
func (l *listener) Close() error {
	err := l.ln.Close()
	l.stop(nil)
	return err
}

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

// acceptLoop accepts connections and sorts them: trusted ones go to a
// header reader, others straight to Accept.
func (l *listener) acceptLoop() {
	var delay time.Duration
	for {
		c, err := l.ln.Accept()
		if err != nil {
			var t interface{ Temporary() bool }
			if errors.As(err, &t) && t.Temporary() {
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
		if !l.trusted(c.RemoteAddr()) {
			l.hand(&guardConn{Conn: c, log: l.opts.Logger})
			continue
		}
		select {
		case l.reading <- struct{}{}:
		case <-l.done:
			c.Close()
			return
		}
		go func() {
			defer func() { <-l.reading }()
			if pc := l.readHeader(c); pc != nil {
				l.hand(pc)
			}
		}()
	}
}

// hand gives c to Accept, or closes it if the listener closes first.
func (l *listener) hand(c net.Conn) {
	select {
	case l.ready <- c:
	case <-l.done:
		c.Close()
	}
}

// trusted reports whether a is in one of the proxies' networks.
func (l *listener) trusted(a net.Addr) bool {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return false
	}
	ip := ap.Addr().Unmap()
	for _, p := range l.opts.Trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// readHeader reads the header of a trusted proxy's connection within the
// header timeout. It returns the connection to serve, or nil after closing
// c when there is no valid header.
func (l *listener) readHeader(c net.Conn) net.Conn {
	_ = c.SetReadDeadline(time.Now().Add(l.opts.HeaderTimeout))
	br := bufio.NewReaderSize(c, 256)
	h, err := readHeader(br)
	if err != nil {
		l.opts.Logger.Info("connection refused", "conn", c.RemoteAddr().String(),
			"reason", fmt.Errorf("from a trusted proxy: %w", err).Error())
		c.Close()
		return nil
	}
	_ = c.SetReadDeadline(time.Time{})
	pc := &conn{Conn: c, remote: c.RemoteAddr(), local: c.LocalAddr()}
	if h.Source.IsValid() {
		pc.remote, pc.local = tcpAddr(h.Source), tcpAddr(h.Destination)
	}
	if n := br.Buffered(); n > 0 {
		pc.rest, _ = br.Peek(n) // sent right after the header
	}
	return pc
}

// conn is a trusted proxy's connection after its header.
type conn struct {
	net.Conn
	remote, local net.Addr
	rest          []byte // read past the header; served first
}

func (c *conn) RemoteAddr() net.Addr { return c.remote }
func (c *conn) LocalAddr() net.Addr  { return c.local }

// NetConn returns the proxy's connection, for code that unwraps.
func (c *conn) NetConn() net.Conn { return c.Conn }

func (c *conn) Read(p []byte) (int, error) {
	if len(c.rest) > 0 {
		n := copy(p, c.rest)
		c.rest = c.rest[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// guardConn is a connection from an address that is not a trusted proxy.
// Its first bytes are checked: a PROXY header there means someone tries to
// choose the address the server sees, and the connection is closed.
type guardConn struct {
	net.Conn
	log *slog.Logger

	mu      sync.Mutex
	checked bool
	head    []byte // first bytes read, while undecided
}

// errUntrusted is the read error of a connection closed by guardConn.
var errUntrusted = errors.New("proxyproto: PROXY header from an untrusted address")

// NetConn returns the underlying connection, for code that unwraps.
func (c *guardConn) NetConn() net.Conn { return c.Conn }

func (c *guardConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.checked {
		return c.Conn.Read(p)
	}
	for {
		n, err := c.Conn.Read(p)
		if n == 0 && len(c.head) == 0 {
			return 0, err // nothing to look at yet (a deadline, say)
		}
		c.head = append(c.head, p[:n]...)
		match, undecided := startsWithSignature(c.head)
		switch {
		case match:
			c.log.Info("connection refused", "conn", c.RemoteAddr().String(), "reason", errUntrusted.Error())
			c.Conn.Close()
			return 0, errUntrusted
		case undecided && err == nil && len(c.head) < len(sigV2):
			continue // too few bytes to tell; read on
		}
		// Not a header: hand over what was read, which fits in p unless
		// several reads were needed to decide.
		c.checked = true
		k := copy(p, c.head)
		if k < len(c.head) {
			c.Conn = &prefixConn{Conn: c.Conn, rest: c.head[k:]}
		}
		c.head = nil
		if k > 0 {
			return k, nil
		}
		return 0, err
	}
}

// prefixConn serves rest before reading from the connection.
type prefixConn struct {
	net.Conn
	rest []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.rest) > 0 {
		n := copy(p, c.rest)
		c.rest = c.rest[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}
