package imapd

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
)

// Pipelining (RFC 9051 section 5.5, RFC 3501 section 5.5): a client may send
// commands without waiting for the completion of the ones before, and the
// server may run them concurrently unless that would be ambiguous.
//
// The engine runs a pipelined command in a goroutine of its own when all of
// these hold:
//
//   - the session implements [SessionConcurrent] (it allows its read-only
//     methods to run beside one another);
//   - the command reads and changes nothing a neighbour could see: FETCH
//     without an item that sets \Seen, SEARCH, SORT and THREAD without SAVE
//     (RFC 5182), STATUS, LIST, LSUB, NOOP, CHECK, CAPABILITY, NAMESPACE;
//   - its whole line is already in the input buffer and announces no
//     literal, so that no continuation request is ever needed.
//
// Any other command waits until every running one has finished and its
// responses are out ([Conn.drain]), then runs alone in the connection's
// goroutine as before. Such a command is a barrier: a STORE, an EXPUNGE, a
// SELECT, IDLE, STARTTLS, AUTHENTICATE or COMPRESS never overlaps another.
//
// Responses keep the order of the commands: the first running command (the
// head) writes through to the connection; the others hold their output
// until they are the head, up to maxHeld bytes for the whole connection,
// then wait (backpressure: while the head runs, nothing more is read once
// maxInFlight commands run). The updates of the selected mailbox (EXISTS,
// EXPUNGE, FETCH FLAGS) are written only when no command runs, right
// before the tagged reply of the last one, as Dovecot syncs once for a batch
// of commands (src/imap/imap-sync.c): so no EXPUNGE is ever sent while a
// command that uses sequence numbers runs (RFC 9051 section 7.5.1), and the
// sequence numbers of every response are those the client knows.

// Limits of the commands a connection runs at once.
const (
	// maxInFlight bounds the commands of one connection that run or wait
	// to write their responses; the next one is not read until one ends.
	maxInFlight = 4
	// maxHeld bounds the response bytes that commands behind the head
	// hold for one connection; a command that would exceed it waits.
	maxHeld = 128 << 10
)

// SessionConcurrent is a Session whose read-only methods may run
// concurrently with one another for one connection: Fetch (with no item
// that sets \Seen), Search, Sort and Thread (without SAVE), Status, List
// and Namespace. The engine never runs them beside any other method of the
// session, Poll included. ConcurrentReads reports whether it may do so
// now; a session that returns false keeps every command serial.
type SessionConcurrent interface {
	ConcurrentReads() bool
}

// concurrentCommands are the commands that may run beside one another; see
// concurrentLine for the checks of their arguments.
var concurrentCommands = map[string]bool{
	"FETCH": true, "UID FETCH": true,
	"SEARCH": true, "UID SEARCH": true,
	"SORT": true, "UID SORT": true,
	"THREAD": true, "UID THREAD": true,
	"STATUS": true, "LIST": true, "LSUB": true,
	"NOOP": true, "CHECK": true, "CAPABILITY": true, "NAMESPACE": true,
}

// pipeline is the state of a connection's concurrent commands. Lock order:
// pipeline.mu, then the connection's encoder.
type pipeline struct {
	mu    sync.Mutex
	cond  sync.Cond // signalled when the head changes or a slot ends
	queue []*slot   // in command order; queue[0] is the head
	held  int       // bytes held by slots behind the head
}

// slot is one concurrent command: its output while it is not the head, and
// its tagged reply once it has finished.
type slot struct {
	c    *Conn // the connection (not the command's view of it)
	name string
	tag  string
	buf  []byte
	done bool
	resp *imap.StatusResponse
}

// concurrentLine returns the rest of the command line that p is reading,
// taken out of the input buffer, when cmd may run concurrently (see the
// package comment above); else nil, and nothing is consumed.
func (c *Conn) concurrentLine(cmd *command) []byte {
	if !concurrentCommands[cmd.name] {
		return nil
	}
	if s, ok := c.session.(SessionConcurrent); !ok || !s.ConcurrentReads() {
		return nil
	}
	st := c.State()
	if st != imap.ConnStateAuthenticated && st != imap.ConnStateSelected {
		return nil
	}
	buf, _ := cmd.p.br.Peek(cmd.p.br.Buffered())
	i := bytes.IndexByte(buf, '\n')
	if i < 0 {
		return nil
	}
	line := buf[:i+1]
	if _, _, lit := literalAnnouncement(bytes.TrimSuffix(line[:i], []byte("\r"))); lit {
		return nil
	}
	if changesState(cmd.name, line) {
		return nil
	}
	out := bytes.Clone(line)
	cmd.p.br.Discard(len(out))
	return out
}

// changesState reports whether a command's arguments make it change what a
// neighbour may read: a FETCH of a body section without PEEK, RFC822 or
// RFC822.TEXT sets \Seen (RFC 9051 section 6.4.5), and SAVE sets the
// search result that "$" refers to (RFC 5182). It errs on the safe side: a
// mailbox or string that merely contains these words makes the command
// serial, which is only slower.
func changesState(name string, line []byte) bool {
	u := bytes.ToUpper(line)
	switch name {
	case "FETCH", "UID FETCH":
		if bytes.Contains(u, []byte("BODY[")) || bytes.Contains(u, []byte("BINARY[")) {
			return true
		}
		for rest := u; ; {
			i := bytes.Index(rest, []byte("RFC822"))
			if i < 0 {
				return false
			}
			rest = rest[i+len("RFC822"):]
			if !bytes.HasPrefix(rest, []byte(".HEADER")) && !bytes.HasPrefix(rest, []byte(".SIZE")) {
				return true
			}
		}
	case "SEARCH", "UID SEARCH", "SORT", "UID SORT", "THREAD", "UID THREAD":
		return bytes.Contains(u, []byte("SAVE"))
	}
	return false
}

// startConcurrent runs cmd, whose line is line, in a goroutine of its own.
// It waits while maxInFlight commands run.
func (c *Conn) startConcurrent(h handler, cmd *command, line []byte) {
	pl := &c.pipe
	pl.mu.Lock()
	for len(pl.queue) >= maxInFlight {
		pl.cond.Wait()
	}
	s := &slot{c: c, name: cmd.name, tag: cmd.tag}
	pl.queue = append(pl.queue, s)
	pl.mu.Unlock()

	cc := c.commandConn(s)
	cmd.p = &parser{c: cc, br: bufio.NewReaderSize(bytes.NewReader(line), len(line))}
	go cc.runConcurrent(h, cmd, s)
}

// commandConn returns the view of c that a concurrent command runs on: the
// same session and state, and an encoder of its own that writes to s.
func (c *Conn) commandConn(s *slot) *Conn {
	c.mu.Lock()
	cc := &Conn{
		srv: c.srv, nc: noDeadlines{c.nc}, raw: c.raw, log: c.log,
		state: c.state, enabled: c.enabled, session: c.session,
		tls: c.tls, compress: c.compress, readOnly: c.readOnly,
	}
	c.mu.Unlock()
	c.enc.mu.Lock()
	cc.enc.utf8, cc.enc.rev2 = c.enc.utf8, c.enc.rev2
	c.enc.mu.Unlock()
	cc.enc.dst = s
	return cc
}

// runConcurrent runs a concurrent command on cc (see commandConn) and hands
// its tagged reply to the pipeline.
func (cc *Conn) runConcurrent(h handler, cmd *command, s *slot) {
	start := time.Now()
	err := cc.runHandler(h, cmd)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		// The line is complete: a handler that reads past it met a
		// command it did not expect to end there.
		err = syntaxf("unexpected end of command")
	}
	if ferr := cc.enc.flush(); ferr != nil && err == nil {
		err = ferr
	}
	if hook := cc.srv.opts.CommandDone; hook != nil {
		hook(cmd.name, time.Since(start), outcome(cmd.name, err))
	}
	resp := cmd.ok
	switch {
	case err != nil && isFatal(err):
		// The connection is gone; the reader ends it.
		cc.log.Debug("connection ended", "err", err)
		resp = &imap.StatusResponse{Type: imap.StatusResponseTypeNo, Text: "Connection error"}
	case err != nil:
		resp = cc.statusFor(cmd.name, err)
	case resp == nil:
		resp = &imap.StatusResponse{Type: imap.StatusResponseTypeOK, Text: cmd.name + " completed"}
	}
	s.c.pipe.finish(s, resp)
}

// runHandler calls a handler, turning a panic into an error.
func (c *Conn) runHandler(h handler, cmd *command) (err error) {
	defer func() {
		if v := recover(); v != nil {
			c.log.Error("panic in command", "command", cmd.name, "panic", v)
			err = errPanic
		}
	}()
	return h.fn(c, cmd)
}

var errPanic = errors.New("panic in command handler")

// Write takes the output of the slot's command: straight to the
// connection when it is the head, else held, waiting while the connection
// holds maxHeld bytes.
func (s *slot) Write(b []byte) (int, error) {
	pl := &s.c.pipe
	pl.mu.Lock()
	defer pl.mu.Unlock()
	for {
		if pl.queue[0] == s {
			e := &s.c.enc
			e.lock()
			e.rawBytes(b)
			err := e.err
			e.unlock()
			if err != nil {
				return 0, err
			}
			return len(b), nil
		}
		if pl.held+len(b) <= maxHeld {
			s.buf = append(s.buf, b...)
			pl.held += len(b)
			return len(b), nil
		}
		pl.cond.Wait()
	}
}

// finish records the tagged reply of s and writes what can be written.
func (pl *pipeline) finish(s *slot, resp *imap.StatusResponse) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	s.done, s.resp = true, resp
	pl.emitLocked()
}

// emitLocked writes, in command order, the responses of the commands that
// have finished at the head of the queue; the last one of a batch (no
// other command left) also writes the mailbox's updates. The output is
// flushed once.
func (pl *pipeline) emitLocked() {
	if len(pl.queue) == 0 || !pl.queue[0].done {
		return
	}
	c := pl.queue[0].c
	for len(pl.queue) > 0 && pl.queue[0].done {
		s := pl.queue[0]
		if len(pl.queue) == 1 && s.resp.Type == imap.StatusResponseTypeOK {
			if err := c.poll(s.name); err != nil {
				s.resp = c.statusFor(s.name, err)
			}
		}
		e := &c.enc
		e.lock()
		if s.resp.Type == imap.StatusResponseTypeBye {
			e.statusLine("", s.resp)
		} else {
			e.statusLine(s.tag, s.resp)
		}
		e.unlock()
		if s.resp.Type == imap.StatusResponseTypeBye {
			c.close()
		}
		pl.queue[0] = nil
		pl.queue = pl.queue[1:]
		if len(pl.queue) > 0 {
			next := pl.queue[0]
			e.lock()
			e.rawBytes(next.buf)
			e.unlock()
			pl.held -= len(next.buf)
			next.buf = nil
		}
	}
	if len(pl.queue) == 0 {
		pl.queue = nil
	}
	c.enc.flush()
	pl.cond.Broadcast()
}

// drain waits until every concurrent command has finished and its
// responses are written. Commands that are not concurrent call it before
// they run, so that they never overlap one.
func (c *Conn) drain() {
	pl := &c.pipe
	pl.mu.Lock()
	for len(pl.queue) > 0 {
		pl.cond.Wait()
	}
	pl.mu.Unlock()
}

// noDeadlines is the network connection as a concurrent command sees it:
// it reads from its own copy of its line, so it never moves the
// connection's read deadline.
type noDeadlines struct{ net.Conn }

func (noDeadlines) SetReadDeadline(time.Time) error { return nil }
