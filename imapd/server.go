package imapd

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
)

// Options configures a [Server].
type Options struct {
	// NewSession is called for each new connection, before the greeting.
	// An *imap.Error of type BYE is sent to the client as the reason.
	NewSession func(c *Conn) (Session, error)
	// TLSConfig enables STARTTLS (and is what the caller uses for an
	// implicit-TLS listener).
	TLSConfig *tls.Config
	// InsecureAuth allows LOGIN and AUTHENTICATE without TLS. Without it,
	// a plaintext connection advertises LOGINDISABLED until STARTTLS.
	InsecureAuth bool
	// Caps lists extensions the backend offers beyond those the engine
	// knows from the Session's interfaces (advertised after login).
	Caps []imap.Cap
	// Greeting is the text of the greeting. Empty means "maildir-imapd
	// ready".
	Greeting string
	// ID is what the server says of itself to the ID command (RFC 2971),
	// such as "name" and "version". Nil answers "* ID NIL".
	ID map[string]string
	// Logger receives the engine's logs. Nil means slog.Default().
	Logger *slog.Logger
	// DebugWriter, when set, receives the wire trace, passwords included.
	DebugWriter io.Writer
	// CommandDone, when set, is called after each command with its name
	// ("UID FETCH"), how long it took and its outcome: "ok", "no", "bad"
	// or "error" (a server failure). For metrics.
	CommandDone func(name string, d time.Duration, status string)
}

// Server serves IMAP connections.
type Server struct {
	opts Options
	log  *slog.Logger

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*Conn]struct{}
	closed    bool
}

// New returns a server. Options.NewSession is required.
func New(opts *Options) *Server {
	s := &Server{opts: *opts, listeners: map[net.Listener]struct{}{}, conns: map[*Conn]struct{}{}}
	s.log = s.opts.Logger
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}

// ErrServerClosed is returned by Serve after Close.
var ErrServerClosed = errors.New("imapd: server closed")

// Serve accepts connections on ln until ln fails or the server is closed.
// Each connection is served in its own goroutine.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("accept: %w", err)
		}
		go s.ServeConn(nc)
	}
}

// ServeConn serves one connection and returns when it ends.
func (s *Server) ServeConn(nc net.Conn) {
	c := newConn(s, nc)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		nc.Close()
		return
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	c.serve()
}

// Close closes the listeners and every connection.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	lns := make([]net.Listener, 0, len(s.listeners))
	for ln := range s.listeners {
		lns = append(lns, ln)
	}
	conns := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	var err error
	for _, ln := range lns {
		err = errors.Join(err, ln.Close())
	}
	for _, c := range conns {
		c.close()
	}
	return err
}

func (s *Server) greeting() string {
	if s.opts.Greeting != "" {
		return s.opts.Greeting
	}
	return "maildir-imapd ready"
}

// stateMask is a set of connection states.
type stateMask uint8

const (
	notAuth  stateMask = 1 << iota // not authenticated
	auth                           // authenticated
	selected                       // a mailbox selected
	anyState = notAuth | auth | selected
	authed   = auth | selected
)

func (m stateMask) has(s imap.ConnState) bool {
	switch s {
	case imap.ConnStateNotAuthenticated:
		return m&notAuth != 0
	case imap.ConnStateAuthenticated:
		return m&auth != 0
	case imap.ConnStateSelected:
		return m&selected != 0
	}
	return false
}

// handler runs one command: it reads the command's arguments through
// cmd.p (up to and including the final CRLF), then acts.
type handler struct {
	states stateMask
	fn     func(c *Conn, cmd *command) error
}

// handlers maps command names ("UID FETCH" for the UID forms) to their
// handlers; each command's file registers its own.
var handlers = map[string]handler{}

func register(states stateMask, fn func(c *Conn, cmd *command) error, names ...string) {
	for _, n := range names {
		handlers[n] = handler{states: states, fn: fn}
	}
}

// caps returns the capabilities to advertise in the current state.
func (c *Conn) caps() []imap.Cap {
	c.mu.Lock()
	st, isTLS, sess, compressed := c.state, c.tls, c.session, c.compress
	c.mu.Unlock()
	caps := []imap.Cap{imap.CapIMAP4rev1, imap.CapIMAP4rev2, imap.CapSASLIR, imap.CapLiteralPlus, imap.CapID, imap.CapEnable, imap.CapIdle}
	if st == imap.ConnStateNotAuthenticated {
		if !isTLS && c.srv.opts.TLSConfig != nil {
			caps = append(caps, imap.CapStartTLS)
		}
		if isTLS || c.srv.opts.InsecureAuth {
			caps = append(caps, "AUTH=PLAIN", "AUTH=LOGIN")
		} else {
			caps = append(caps, imap.CapLoginDisabled)
		}
		return caps
	}
	caps = append(caps,
		imap.CapNamespace, imap.CapUnselect, imap.CapUIDPlus, imap.CapESearch, imap.CapSearchRes,
		imap.CapListExtended, imap.CapListStatus, imap.CapMove, imap.CapStatusSize, imap.CapBinary,
		imap.CapChildren, imap.CapSpecialUse, imap.CapCreateSpecialUse, imap.CapUTF8Accept,
		imap.CapUnauthenticate)
	if !compressed {
		caps = append(caps, "COMPRESS=DEFLATE")
	}
	if _, ok := sess.(SessionMultiAppend); ok {
		caps = append(caps, imap.CapMultiAppend)
	}
	if _, ok := sess.(SessionSort); ok {
		caps = append(caps, imap.CapSort, imap.CapSortDisplay, imap.CapESort)
	}
	if t, ok := sess.(SessionThread); ok {
		for _, alg := range t.ThreadAlgorithms() {
			caps = append(caps, imap.Cap("THREAD="+string(alg)))
		}
	}
	if q, ok := sess.(SessionQuota); ok && len(q.QuotaResources()) > 0 {
		caps = append(caps, imap.CapQuota)
		for _, r := range q.QuotaResources() {
			caps = append(caps, imap.Cap("QUOTA=RES-"+string(r)))
		}
	}
	if _, ok := sess.(SessionMetadata); ok {
		caps = append(caps, imap.CapMetadata, imap.CapMetadataServer)
	}
	if _, ok := sess.(SessionNotify); ok {
		caps = append(caps, "NOTIFY")
	}
	if al, ok := sess.(SessionAppendLimit); ok {
		caps = append(caps, imap.Cap(fmt.Sprintf("APPENDLIMIT=%d", al.AppendLimit())))
	}
	caps = append(caps, c.srv.opts.Caps...)
	return caps
}
