package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/cmd/maildir-imapd/internal/metrics"
	"github.com/maildir-imapd/maildir-imapd/imapd"
	"github.com/maildir-imapd/maildir-imapd/lmtp"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend"
	"github.com/maildir-imapd/maildir-imapd/watch"
)

const (
	// byeTimeout bounds the write of "* BYE" to one client at shutdown.
	byeTimeout = 5 * time.Second
	// drainTimeout bounds the wait for sessions to close at shutdown before
	// the backend is closed under them.
	drainTimeout = 10 * time.Second
)

// keepAlive is set on every accepted connection: a dead peer of an IDLE
// client (mobile NAT, suspended laptop) is found within about 3 minutes.
var keepAlive = net.KeepAliveConfig{Enable: true, Idle: 60 * time.Second, Interval: 30 * time.Second, Count: 4}

// runServe is the `serve` subcommand.
func runServe(args []string) error {
	cfg, err := parseConfig("serve", args)
	if err != nil {
		return err
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	logger, err := newLogger(os.Stderr, cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, cfg, logger, nil)
}

// run serves cfg until ctx is done or a listener fails, then shuts down:
// it stops accepting, sends "* BYE Server shutting down" to every client,
// and closes the backend. ready, if not nil, is called once the listeners
// are bound (tests listen on port 0 and read the addresses from it).
func run(ctx context.Context, cfg *Config, logger *slog.Logger, ready func(*daemon)) error {
	d, err := startDaemon(cfg, logger)
	if err != nil {
		return err
	}
	if ready != nil {
		ready(d)
	}
	select {
	case <-ctx.Done():
		logger.Info("shutting down")
	case err = <-d.serveErr:
		logger.Error("listener failed; shutting down", "err", err)
	}
	if cerr := d.shutdown(); err == nil {
		err = cerr
	}
	return err
}

// daemon is a running server: the backend, the two imapd.Servers and
// their listeners. Create it with startDaemon and stop it with shutdown.
type daemon struct {
	log       *slog.Logger
	backend   *maildirbackend.Backend
	watcher   *watch.Watcher
	open      *imapd.Server // InsecureAuth: loopback and --allow-insecure-auth listeners
	secure    *imapd.Server // LOGINDISABLED until STARTTLS; also serves implicit TLS
	listeners []net.Listener
	limits    *maildirbackend.ConnLimiter
	plainAddr string         // bound address of --listen, "" if none
	tlsAddr   string         // bound address of --listen-tls, "" if none
	lmtp      *lmtp.Server   // nil without --lmtp-listen (lmtp.go)
	lmtpAddr  string         // bound address of --lmtp-listen, "" if none
	locations *mailLocations // users' Maildirs and control directories (location.go)
	serveErr  chan error
	serving   sync.WaitGroup
	metrics   *metrics.Metrics // nil: metrics off
	ops       []*http.Server   // auth_http and metrics; see serve_ops.go
	opsAddrs  map[string]string

	mu      sync.Mutex
	conns   map[*imapd.Conn]*trackedSession // connections; nil until the session exists
	closing bool
	drained chan struct{} // closed by markDrainedLocked
	isDrain bool          // drained is closed
}

// startDaemon validates cfg, opens the users, the backend and the listeners,
// and starts serving.
func startDaemon(cfg *Config, logger *slog.Logger) (_ *daemon, err error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	locations := newMailLocations(cfg, logger)
	users, err := newAuthenticator(cfg, logger, locations)
	if err != nil {
		return nil, err
	}
	plan, err := planIdentity(os.Geteuid(), users.owners)
	if err != nil {
		return nil, err
	}
	if plan.warn != "" {
		logger.Warn(plan.warn)
	}
	var tlsConfig *tls.Config
	if cfg.TLSCert != "" {
		if tlsConfig, err = loadTLS(cfg.TLSCert, cfg.TLSKey); err != nil {
			return nil, err
		}
	}
	d := &daemon{
		log:       logger,
		locations: locations,
		conns:     make(map[*imapd.Conn]*trackedSession),
		drained:   make(chan struct{}),
		serveErr:  make(chan error, 4),
	}
	defer func() {
		if err != nil {
			d.closeListeners()
			d.closeBackend()
		}
	}()
	d.watcher, err = watch.New(&watch.Options{Logger: logger, PollInterval: cfg.PollInterval})
	if err != nil {
		return nil, fmt.Errorf("start watcher: %w", err)
	}
	serverMetadata, err := cfg.serverMetadata()
	if err != nil {
		return nil, err
	}
	d.backend, err = maildirbackend.New(&maildirbackend.Options{
		Logger:          logger,
		Authenticate:    users.auth,
		Prefix:          cfg.Prefix,
		UTF8FolderNames: cfg.utf8Names(),
		ControlDir:      locations.controlDir,
		Quota:           locations.quotaFunc(),
		NoFullTextIndex: !cfg.FullTextIndex,
		AppendLimit:     cfg.AppendLimit,
		Watcher:         d.watcher,

		AuthFailureDelay: libDuration(cfg.AuthFailureDelay),
		MaxUserIPConns:   cfg.MaxUserIPConnections,
		LoginTimeout:     cfg.LoginTimeout,
		Metrics:          d.newMetrics(cfg),
		Metadata:         maildirbackend.MetadataOptions{Server: serverMetadata},
	})
	if err != nil {
		return nil, fmt.Errorf("start backend: %w", err)
	}
	var debug io.Writer
	if cfg.DebugWire {
		logger.Warn("--debug-wire: the IMAP wire trace on stderr includes passwords")
		debug = &lockedWriter{w: os.Stderr}
	}
	d.open = d.newServer(true, tlsConfig, debug)
	d.secure = d.newServer(false, tlsConfig, debug)

	limits := newConnLimiter(cfg, logger)
	d.limits = limits
	lc := net.ListenConfig{KeepAliveConfig: keepAlive}
	// d.serve of each listener, after the identity is set
	pending, err := d.listenOps(cfg, users)
	if err != nil {
		return nil, err
	}
	if cfg.Listen != "" {
		ln, err := lc.Listen(context.Background(), "tcp", cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("listen: %w", err)
		}
		d.listeners = append(d.listeners, ln)
		ln = d.withProxyProtocol(ln, cfg)
		d.plainAddr = ln.Addr().String()
		srv, policy := d.secure, "LOGINDISABLED until STARTTLS"
		if cfg.AllowInsecureAuth || (isLoopbackAddr(cfg.Listen) && !cfg.requireTLS) {
			srv, policy = d.open, "plaintext login allowed"
		}
		if srv == d.secure && tlsConfig == nil {
			return nil, fmt.Errorf("listen %s: plaintext login is refused and there is no TLS certificate", cfg.Listen)
		}
		pending = append(pending, func() {
			logger.Info("listening", "addr", d.plainAddr, "tls", tlsMode(tlsConfig, "starttls"), "auth", policy)
			d.serve(srv, maildirbackend.NewListenerWith(ln, &maildirbackend.ListenerOptions{Limits: limits, Logger: logger, Unbatched: true}))
		})
	}
	if cfg.ListenTLS != "" && tlsConfig != nil {
		ln, err := lc.Listen(context.Background(), "tcp", cfg.ListenTLS)
		if err != nil {
			return nil, fmt.Errorf("listen-tls: %w", err)
		}
		d.listeners = append(d.listeners, ln)
		d.tlsAddr = ln.Addr().String()
		ln = d.withProxyProtocol(ln, cfg)
		pending = append(pending, func() {
			logger.Info("listening", "addr", d.tlsAddr, "tls", "implicit")
			d.serve(d.secure, maildirbackend.NewListenerWith(ln, &maildirbackend.ListenerOptions{
				Limits: limits, Logger: logger, TLSConfig: tlsConfig, HandshakeTimeout: cfg.TLSHandshakeTimeout, Unbatched: true,
			}))
		})
	}
	if cfg.LMTPListen != "" {
		serveLMTP, err := d.startLMTP(cfg)
		if err != nil {
			return nil, err
		}
		pending = append(pending, serveLMTP)
	}
	// Ports are bound and the TLS key is read: no client is served
	// before the process has the identity it keeps (privileges.go).
	if plan.drop != nil {
		if err := dropTo(*plan.drop, logger); err != nil {
			return nil, err
		}
		if cfg.Users != "" {
			if _, err := os.ReadFile(cfg.Users); err != nil {
				return nil, fmt.Errorf("users file after dropping root: %w (make it readable by uid %d, or it cannot be re-read when it changes)", err, plan.drop.UID)
			}
		}
	}
	for _, serve := range pending {
		serve()
	}
	return d, nil
}

// newConnLimiter returns the connection caps of cfg, shared by both
// listeners.
func newConnLimiter(cfg *Config, logger *slog.Logger) *maildirbackend.ConnLimiter {
	total := cfg.MaxConnections
	if total == 0 {
		total = defaultMaxConnections()
	}
	logger.Info("connection limits", "max_connections", total, "max_connections_per_ip", cfg.MaxConnectionsPerIP,
		"max_userip_connections", cfg.MaxUserIPConnections)
	return maildirbackend.NewConnLimiter(total, cfg.MaxConnectionsPerIP)
}

// libDuration maps a configured duration, where 0 means none, to the
// backend's convention, where 0 means its default and negative none.
func libDuration(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

func tlsMode(c *tls.Config, mode string) string {
	if c == nil {
		return "none"
	}
	return mode
}

// loadTLS loads a certificate and key for STARTTLS and implicit TLS.
func loadTLS(certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("tls-cert/tls-key: %w", err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}, nil
}

// newServer returns an imapd.Server on the shared backend. InsecureAuth is
// per server, hence one server per policy.
func (d *daemon) newServer(insecureAuth bool, tlsConfig *tls.Config, debug io.Writer) *imapd.Server {
	return imapd.New(&imapd.Options{
		NewSession:   d.newSession,
		Logger:       d.log,
		TLSConfig:    tlsConfig,
		InsecureAuth: insecureAuth,
		DebugWriter:  debug,
		ID:           map[string]string{"name": "maildir-imapd"},
		CommandDone:  d.metrics.Command,
	})
}

// serve runs srv on ln in a goroutine; an accept failure goes to serveErr.
func (d *daemon) serve(srv *imapd.Server, ln net.Listener) {
	d.serving.Add(1)
	go func() {
		defer d.serving.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, imapd.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			d.serveErr <- fmt.Errorf("serve %s: %w", ln.Addr(), err)
		}
	}()
}

// Addrs returns the bound addresses of --listen and --listen-tls ("" for a
// disabled listener).
func (d *daemon) Addrs() (plain, implicitTLS string) { return d.plainAddr, d.tlsAddr }

// trackedSession is the backend's session with a Close that tells the
// daemon the connection is gone. It embeds the concrete type so that
// imapd still finds the optional Session interfaces.
type trackedSession struct {
	*maildirbackend.EngineSession
	d     *daemon
	conn  *imapd.Conn
	state atomic.Int32 // stateNotAuthenticated...; sessionmetrics.go
}

// Close closes the backend session and forgets the connection.
func (s *trackedSession) Close() error {
	err := s.EngineSession.Close()
	s.d.untrack(s.conn)
	return err
}

// newSession is imapd.Options.NewSession: the backend's, plus the
// connection tracking that shutdown needs to say BYE.
func (d *daemon) newSession(conn *imapd.Conn) (imapd.Session, error) {
	d.mu.Lock()
	if d.closing {
		d.mu.Unlock()
		return nil, &imap.Error{Type: imap.StatusResponseTypeBye, Text: "Server shutting down"}
	}
	d.conns[conn] = nil
	d.mu.Unlock()
	sess, err := d.backend.NewEngineSession(conn)
	if err != nil {
		d.untrack(conn)
		return nil, err
	}
	ms, ok := sess.(*maildirbackend.EngineSession)
	if !ok {
		sess.Close()
		d.untrack(conn)
		return nil, fmt.Errorf("unexpected session type %T", sess)
	}
	ts := &trackedSession{EngineSession: ms, d: d, conn: conn}
	d.mu.Lock()
	if _, ok := d.conns[conn]; ok {
		d.conns[conn] = ts
	}
	d.mu.Unlock()
	return ts, nil
}

// isClosing reports whether shutdown has begun.
func (d *daemon) isClosing() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.closing
}

func (d *daemon) untrack(conn *imapd.Conn) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.conns[conn]; !ok {
		return
	}
	delete(d.conns, conn)
	d.markDrainedLocked()
}

// markDrainedLocked closes drained once shutdown has begun and no
// connection is left.
func (d *daemon) markDrainedLocked() {
	if d.closing && len(d.conns) == 0 && !d.isDrain {
		d.isDrain = true
		close(d.drained)
	}
}

// shutdown stops accepting, says BYE to every client, closes the servers
// and, once the sessions are closed (or after drainTimeout), the backend.
// The tracking lets every client hear BYE before its connection closes.
func (d *daemon) shutdown() error {
	d.mu.Lock()
	if d.closing {
		d.mu.Unlock()
		return nil
	}
	d.closing = true
	d.mu.Unlock()

	d.closeListeners()
	d.closeOps()
	d.serving.Wait()

	d.mu.Lock()
	conns := make([]*imapd.Conn, 0, len(d.conns))
	for c := range d.conns {
		conns = append(conns, c)
	}
	d.markDrainedLocked()
	d.mu.Unlock()

	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			if nc := c.NetConn(); nc != nil {
				_ = nc.SetWriteDeadline(time.Now().Add(byeTimeout))
			}
			_ = c.Bye("Server shutting down")
		})
	}
	wg.Wait()
	d.log.Info("sent BYE", "conns", len(conns))

	if d.lmtp != nil {
		if err := d.lmtp.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			d.log.Warn("closing lmtp server", "err", err)
		}
	}
	// No listeners remain in the servers, so Close only closes the
	// connections that got no BYE (accepted during the shutdown).
	for _, s := range []*imapd.Server{d.open, d.secure} {
		if err := s.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			d.log.Warn("closing server", "err", err)
		}
	}
	select {
	case <-d.drained:
	case <-time.After(drainTimeout):
		d.log.Warn("sessions still open at shutdown; closing the backend anyway")
	}
	err := d.closeBackend()
	d.log.Info("stopped")
	return err
}

func (d *daemon) closeListeners() {
	for _, ln := range d.listeners {
		_ = ln.Close()
	}
}

func (d *daemon) closeBackend() error {
	var errs []error
	if d.backend != nil {
		if err := d.backend.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close backend: %w", err))
		}
	}
	if d.watcher != nil {
		if err := d.watcher.Close(); err != nil && !errors.Is(err, watch.ErrClosed) {
			errs = append(errs, fmt.Errorf("close watcher: %w", err))
		}
	}
	return errors.Join(errs...)
}

// lockedWriter serialises the wire traces of concurrent connections.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
