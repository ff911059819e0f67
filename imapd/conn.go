package imapd

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
)

// readBufSize is the size of a connection's input buffer, which it holds
// only while it reads and runs commands (idlewait.go).
const readBufSize = 4096

// Read timeouts, as RFC 9051 section 5.4 asks (at least 30 minutes once
// authenticated) and as Dovecot does before login.
const (
	unauthTimeout  = 60 * time.Second
	authTimeout    = 30 * time.Minute
	lineTimeout    = 60 * time.Second // the rest of a line once it began
	literalTimeout = 5 * time.Minute  // without progress, within a literal
)

// Conn is one client connection. Its methods other than Bye are for the
// engine and for a Session during its own calls.
type Conn struct {
	srv  *Server
	nc   net.Conn      // current transport, TLS or compressed included
	raw  net.Conn      // the accepted connection
	br   *bufio.Reader // nil while waiting for input (idlewait.go)
	src  inputSource
	enc  encoder
	log  *slog.Logger
	once sync.Once // close

	// Guarded by mu: read by Bye and by capability listings from other
	// goroutines.
	mu       sync.Mutex
	state    imap.ConnState
	enabled  imap.CapSet
	session  Session
	tls      bool
	compress bool
	badName  bool // the command named a mailbox that is not valid mUTF-7
	readOnly bool // the selected mailbox is read-only (EXAMINE, or the backend said so)

	// byeAfter, when set, is sent as BYE once the current command's
	// tagged reply is written; then the connection closes.
	byeAfter string

	pipe   pipeline   // pipelined commands running concurrently (pipeline.go)
	idling *idleState // IDLE waiting for DONE in the loop (idlewait.go)

	notifyState // NOTIFY's asynchronous responses (notifyasync.go)
}

// ByeAfterReply arranges for "* BYE text" to be sent, and the connection
// closed, right after the tagged reply of the command being run: a
// session uses it when it refuses a login for good (too many failures).
func (c *Conn) ByeAfterReply(text string) {
	c.mu.Lock()
	c.byeAfter = text
	c.mu.Unlock()
}

func newConn(srv *Server, nc net.Conn) *Conn {
	c := &Conn{srv: srv, nc: nc, raw: nc, state: imap.ConnStateNotAuthenticated, enabled: imap.CapSet{}}
	c.pipe.cond.L = &c.pipe.mu
	_, c.tls = nc.(*tls.Conn)
	c.log = srv.log.With("remote", nc.RemoteAddr().String())
	c.setTransport(nc)
	return c
}

// setTransport makes t the connection's reader and writer.
func (c *Conn) setTransport(t net.Conn) {
	c.mu.Lock()
	c.nc = t
	c.mu.Unlock()
	var r io.Reader = t
	w := deadlineWriter{nc: t}
	if d := c.srv.opts.DebugWriter; d != nil {
		r = io.TeeReader(r, prefixWriter{w: d, prefix: "C: "})
		w.debug = prefixWriter{w: d, prefix: "S: "}
	}
	c.src.r = r
	if c.br == nil {
		c.br = readBufs.Get().(*bufio.Reader)
	}
	c.br.Reset(&c.src)
	c.enc.setDst(w)
}

// NetConn returns the accepted network connection (under TLS, if any).
func (c *Conn) NetConn() net.Conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.raw
}

// State returns the connection's state.
func (c *Conn) State() imap.ConnState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Enabled returns the extensions the client turned on with ENABLE.
func (c *Conn) Enabled() imap.CapSet {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.enabled.Copy()
}

func (c *Conn) setState(s imap.ConnState) {
	c.mu.Lock()
	c.state = s
	c.mu.Unlock()
}

// Bye sends "* BYE text" and closes the connection. It may be called from
// any goroutine.
func (c *Conn) Bye(text string) error {
	c.enc.lock()
	c.enc.statusLine("", &imap.StatusResponse{Type: imap.StatusResponseTypeBye, Text: text})
	err := c.enc.flushLocked()
	c.enc.unlock()
	c.close()
	return err
}

func (c *Conn) close() {
	c.once.Do(func() {
		c.mu.Lock()
		nc, raw := c.nc, c.raw
		c.mu.Unlock()
		nc.Close()
		if nc != raw {
			raw.Close()
		}
	})
}

// serve runs the connection until it ends.
func (c *Conn) serve() {
	defer c.close()
	defer func() {
		if v := recover(); v != nil {
			c.log.Error("panic in IMAP connection", "panic", v)
		}
		c.drain()
		// Not while NOTIFY's goroutine writes (notifyasync.go).
		c.cmdMu.Lock()
		defer c.cmdMu.Unlock()
		c.mu.Lock()
		s := c.session
		c.session = nil
		c.mu.Unlock()
		if s != nil {
			s.Close()
		}
	}()
	s, err := c.srv.opts.NewSession(c)
	if err != nil {
		var ie *imap.Error
		text := "Service unavailable"
		if errors.As(err, &ie) {
			text = ie.Text
		}
		c.Bye(text)
		return
	}
	c.mu.Lock()
	c.session = s
	c.mu.Unlock()

	c.onWorker(c.greet)
	for c.State() != imap.ConnStateLogout {
		err := c.next()
		c.mu.Lock()
		bye := c.byeAfter
		c.mu.Unlock()
		if bye != "" && err == nil {
			c.Bye(bye)
			return
		}
		if err != nil {
			if !isNetClosed(err) {
				c.log.Debug("connection ended", "err", err)
			}
			return
		}
	}
}

// greet sends the greeting.
func (c *Conn) greet() error {
	c.enc.lock()
	defer c.enc.unlock()
	c.enc.raw("* OK [CAPABILITY")
	for _, cp := range c.caps() {
		c.enc.sp().raw(string(cp))
	}
	c.enc.raw("] ").raw(c.srv.greeting()).crlf()
	return c.enc.flushLocked()
}

func isNetClosed(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// next waits for the client and runs its next command, or ends IDLE.
func (c *Conn) next() error {
	c.waitDeadline()
	if err := c.waitInput(); err != nil {
		return err
	}
	if c.idling != nil {
		return c.onWorker(c.endIdle)
	}
	return c.onWorker(c.readCommand)
}

// waitDeadline sets the read deadline for the next command.
func (c *Conn) waitDeadline() {
	d := authTimeout
	if c.State() == imap.ConnStateNotAuthenticated {
		d = unauthTimeout
	}
	c.nc.SetReadDeadline(time.Now().Add(d))
}

func (c *Conn) lineDeadline()    { c.nc.SetReadDeadline(time.Now().Add(lineTimeout)) }
func (c *Conn) literalDeadline() { c.nc.SetReadDeadline(time.Now().Add(literalTimeout)) }

// command is one command being run.
type command struct {
	tag  string
	name string // upper case, "UID FETCH" for the UID form
	kind NumKind
	p    *parser
	// ok, when set by the handler, is the tagged OK to send; done means
	// the handler has already sent the tagged reply.
	ok     *imap.StatusResponse
	done   bool
	noPoll bool
	// suspended means the command goes on after its handler returned
	// (IDLE waiting for DONE): it answers and reports itself.
	suspended bool
}

// readCommand reads and runs one command.
func (c *Conn) readCommand() error {
	c.waitDeadline()
	p := &parser{c: c, br: c.br}
	c.badName = false
	b, err := p.peek()
	if err != nil {
		return err
	}
	c.lineDeadline()
	c.beginCommand()
	defer c.endCommand()
	if b == '\r' || b == '\n' {
		// An empty line: ignored, as Dovecot does.
		return p.crlf()
	}
	tag, err := p.run(isTagChar, "tag")
	if err == nil {
		err = p.sp()
	}
	var name string
	if err == nil {
		name, err = p.atom()
	}
	if err != nil {
		return c.reply(p, "*", "", err)
	}
	name = strings.ToUpper(name)
	cmd := &command{tag: tag, name: name, kind: NumKindSeq, p: p}
	if name == "UID" {
		sub := ""
		if err = p.sp(); err == nil {
			sub, err = p.atom()
		}
		if err != nil {
			return c.reply(p, tag, name, err)
		}
		cmd.name, cmd.kind = "UID "+strings.ToUpper(sub), NumKindUID
	}
	h, ok := handlers[cmd.name]
	if !ok {
		if c.State() == imap.ConnStateNotAuthenticated {
			// One unknown command before login ends the connection: an
			// HTTP request or an SMTP session sent to the IMAP port.
			c.reply(p, tag, cmd.name, &imap.Error{Type: imap.StatusResponseTypeBad, Text: "Unknown command"})
			return c.Bye("Unknown command before login")
		}
		return c.reply(p, tag, cmd.name, &imap.Error{Type: imap.StatusResponseTypeBad, Text: "Unknown command " + cmd.name})
	}
	if err := c.checkState(h.states); err != nil {
		return c.reply(p, tag, cmd.name, err)
	}
	if line := c.concurrentLine(cmd); line != nil {
		c.startConcurrent(h, cmd, line)
		return nil
	}
	c.drain()
	start := time.Now()
	err = c.run(h, cmd)
	if cmd.suspended && err == nil {
		return nil
	}
	if hook := c.srv.opts.CommandDone; hook != nil {
		hook(cmd.name, time.Since(start), outcome(cmd.name, err))
	}
	if cmd.done && err == nil {
		return nil
	}
	return c.reply(p, tag, cmd.name, err)
}

// outcome names a command's result for Options.CommandDone: "ok", "no",
// "bad" or "error" (a server failure), from the reply statusFor gives.
func outcome(name string, err error) string {
	if err == nil {
		return "ok"
	}
	r, fault := response(name, err)
	switch {
	case fault:
		return "error"
	case r.Type == imap.StatusResponseTypeNo:
		return "no"
	case r.Type == imap.StatusResponseTypeBad:
		return "bad"
	}
	return "error"
}

// run calls a handler, turning a panic into an error.
func (c *Conn) run(h handler, cmd *command) (err error) {
	defer func() {
		if v := recover(); v != nil {
			c.log.Error("panic in command", "command", cmd.name, "panic", v)
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	if err := h.fn(c, cmd); err != nil {
		return err
	}
	if cmd.done || cmd.suspended {
		return nil
	}
	if !cmd.noPoll {
		if err := c.poll(cmd.name); err != nil {
			return err
		}
	}
	if err := c.flushNotify(pushNone); err != nil {
		return err
	}
	resp := cmd.ok
	if resp == nil {
		resp = &imap.StatusResponse{Type: imap.StatusResponseTypeOK, Text: cmd.name + " completed"}
	}
	return c.writeTagged(cmd.tag, resp)
}

// reply ends a command: it reads and drops what remains of a failed
// command, then sends the tagged reply err calls for. It returns an error
// only when the connection must end.
func (c *Conn) reply(p *parser, tag, name string, err error) error {
	if err == nil {
		return nil
	}
	c.drain()
	if isFatal(err) {
		if errors.Is(err, errLineTooLong) {
			c.Bye("Command line too long")
		}
		return err
	}
	if derr := p.discardLine(); derr != nil {
		if errors.Is(derr, errLineTooLong) {
			c.Bye("Command line too long")
		}
		return derr
	}
	resp := c.statusFor(name, err)
	if resp.Type == imap.StatusResponseTypeBye {
		c.Bye(resp.Text)
		return io.EOF
	}
	return c.writeTagged(tag, resp)
}

// isFatal reports whether err ends the connection: a network error or a
// line that cannot be resynchronised.
func isFatal(err error) bool {
	var se *syntaxError
	var ie *imap.Error
	var tb *tooBigError
	if errors.As(err, &se) || errors.As(err, &ie) || errors.As(err, &tb) {
		return false
	}
	var ne net.Error
	return errors.Is(err, errLineTooLong) || errors.As(err, &ne) || isNetClosed(err) || errors.Is(err, errDiscardTooMuch)
}

// statusFor maps a handler's error to its tagged response, logging a
// server failure.
func (c *Conn) statusFor(name string, err error) *imap.StatusResponse {
	r, fault := response(name, err)
	if fault {
		c.log.Error("command failed", "command", name, "err", err)
	}
	return r
}

// response is the tagged response for a handler's error; fault reports a
// server failure (NO [SERVERBUG]) rather than the client's.
func response(name string, err error) (r *imap.StatusResponse, fault bool) {
	var se *syntaxError
	var ie *imap.Error
	var tb *tooBigError
	switch {
	case errors.As(err, &ie):
		return (*imap.StatusResponse)(ie), false
	case errors.As(err, &se):
		return &imap.StatusResponse{Type: imap.StatusResponseTypeBad, Code: imap.ResponseCodeClientBug,
			Text: "Error in IMAP command " + name + ": " + se.msg}, false
	case errors.As(err, &tb):
		return &imap.StatusResponse{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTooBig, Text: "Literal too big"}, false
	}
	return &imap.StatusResponse{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeServerBug,
		Text: "Internal error occurred. Refer to server log for more information."}, true
}

// checkState answers a command sent in a state that does not allow it.
func (c *Conn) checkState(allowed stateMask) error {
	st := c.State()
	if allowed.has(st) {
		return nil
	}
	switch st {
	case imap.ConnStateNotAuthenticated:
		return &imap.Error{Type: imap.StatusResponseTypeBad, Text: "Command not permitted when not authenticated"}
	case imap.ConnStateAuthenticated:
		if allowed.has(imap.ConnStateSelected) {
			return &imap.Error{Type: imap.StatusResponseTypeBad, Text: "No mailbox selected"}
		}
	}
	return &imap.Error{Type: imap.StatusResponseTypeBad, Text: "Command not permitted in this state"}
}

// writeTagged sends a tagged status response and flushes.
func (c *Conn) writeTagged(tag string, r *imap.StatusResponse) error {
	c.enc.lock()
	defer c.enc.unlock()
	c.enc.statusLine(tag, r)
	return c.enc.flushLocked()
}

// writeUntagged sends an untagged status response (not flushed).
func (c *Conn) writeUntagged(r *imap.StatusResponse) error {
	c.enc.lock()
	defer c.enc.unlock()
	c.enc.statusLine("", r)
	return c.enc.err
}

// continueReq sends "+ text" and flushes.
func (c *Conn) continueReq(text string) error {
	c.enc.lock()
	defer c.enc.unlock()
	c.enc.raw("+ ").raw(text).crlf()
	return c.enc.flushLocked()
}

// errDiscardTooMuch ends a connection that sent too many rejected literal
// bytes.
var errDiscardTooMuch = errors.New("too many bytes of rejected literals")

// discard reads and drops n bytes of a rejected non-synchronizing literal.
func (c *Conn) discard(br *bufio.Reader, n int64) error {
	if n > maxDiscard {
		c.Bye("Literal too big")
		return errDiscardTooMuch
	}
	for n > 0 {
		c.literalDeadline()
		k := int64(br.Buffered())
		if k == 0 {
			k = 1
		}
		if k > n {
			k = n
		}
		d, err := br.Discard(int(k))
		n -= int64(d)
		if err != nil {
			return err
		}
	}
	c.lineDeadline()
	return nil
}

// poll sends the updates of the selected mailbox after a command. After
// FETCH, STORE and SEARCH by sequence number, expunges wait (RFC 9051
// section 7.5.1).
func (c *Conn) poll(name string) error {
	st := c.State()
	if st != imap.ConnStateAuthenticated && st != imap.ConnStateSelected {
		return nil
	}
	allowExpunge := true
	switch name {
	case "FETCH", "STORE", "SEARCH", "SORT", "THREAD":
		allowExpunge = false
	}
	return c.pollSelected(c.session, allowExpunge)
}

// prefixWriter writes each chunk to w after a prefix (the wire trace).
type prefixWriter struct {
	w      io.Writer
	prefix string
}

func (w prefixWriter) Write(b []byte) (int, error) {
	w.w.Write(append([]byte(w.prefix), b...))
	return len(b), nil
}
