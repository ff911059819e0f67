package imapd

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
)

// When NOTIFY's responses go out. RFC 5465 lets the server send them at
// any time; this engine sends them
//
//   - at the end of every command, after the selected mailbox's updates
//     and before the tagged reply;
//   - between commands and during IDLE, as soon as the session reports them
//     pending, from a goroutine that exists only while it writes.
//
// A command never sees them in the middle of its responses: the
// connection's goroutine holds cmdMu from the first byte of a command to
// its tagged reply (IDLE lets go of it while it idles), and the writing
// goroutine takes it too. The selected mailbox's updates follow RFC 9051's
// rules: with SELECTED they are pushed between commands too, with
// SELECTED-DELAYED without EXPUNGE (they wait for a command that allows
// them), and the FETCH of MessageNew's attributes follows the EXISTS of
// the new messages.

// idleKeepalive is how often an IDLE the engine runs itself (NOTIFY with
// SELECTED events) sends "* OK Still here".
const idleKeepalive = 2 * time.Minute

// The values of notifyState.push.
const (
	pushNone int32 = iota
	pushBetween
	pushIdle
)

// notifyState is the part of a Conn that NOTIFY uses.
type notifyState struct {
	cmdMu    sync.Mutex    // held by a command (not while it idles) and by an asynchronous flush
	pending  atomic.Bool   // the session reported notifications pending
	flushing atomic.Bool   // a flush goroutine runs
	exists   atomic.Uint32 // the selected mailbox's message count, as the client was told
	// push says whether the flush goroutine writes the selected
	// mailbox's updates: pushNone during a command, pushBetween between
	// commands, pushIdle in an IDLE the engine runs (expunges allowed).
	push atomic.Int32

	setMu sync.Mutex
	set   *NotifySet // guarded by setMu; nil: no NOTIFY
}

func (c *Conn) setNotify(set *NotifySet) {
	c.setMu.Lock()
	c.set = set
	c.setMu.Unlock()
}

func (c *Conn) notifySet() *NotifySet {
	c.setMu.Lock()
	defer c.setMu.Unlock()
	return c.set
}

// beginCommand waits for a flush that is writing, and keeps others out
// until endCommand.
func (c *Conn) beginCommand() {
	c.cmdMu.Lock()
	c.push.Store(pushNone)
}

// endCommand lets the flush goroutine write again and starts it if the
// session reported notifications during the command.
func (c *Conn) endCommand() {
	if c.idling == nil {
		// In an IDLE suspended in the connection's loop (idlewait.go),
		// the session writes the selected mailbox's updates itself.
		c.push.Store(pushBetween)
	}
	c.cmdMu.Unlock()
	if c.pending.Load() {
		c.notifyReady()
	}
}

// expunged records an EXPUNGE written for the selected mailbox.
func (c *Conn) expunged() {
	for {
		n := c.exists.Load()
		if n == 0 || c.exists.CompareAndSwap(n, n-1) {
			return
		}
	}
}

// notifyReady is the ready function handed to SessionNotify.SetNotify:
// it starts the flush goroutine unless one runs. It never blocks.
func (c *Conn) notifyReady() {
	c.pending.Store(true)
	if c.flushing.CompareAndSwap(false, true) {
		go c.flushLoop()
	}
}

// flushLoop writes pending notifications until none is left. It waits for
// a running command to end; the command's own flush usually leaves it
// nothing to do.
func (c *Conn) flushLoop() {
	defer func() {
		if v := recover(); v != nil {
			c.log.Error("panic in NOTIFY", "panic", v)
		}
	}()
	for {
		c.cmdMu.Lock()
		// Pipelined commands may still run (pipeline.go): none may see
		// these responses, or Poll, beside it.
		c.drain()
		err := c.flushNotify(c.push.Load())
		if err == nil {
			err = c.enc.flush()
		}
		c.cmdMu.Unlock()
		if err != nil {
			c.log.Debug("NOTIFY write failed", "err", err)
			c.Bye("Write error")
			c.flushing.Store(false)
			return
		}
		c.flushing.Store(false)
		// A report that came after flushNotify took the pending flag
		// saw this goroutine running: look once more.
		if !c.pending.Load() || !c.flushing.CompareAndSwap(false, true) {
			return
		}
	}
}

// flushNotify writes what the session has pending and, unless push is
// pushNone, the selected mailbox's updates. Called with cmdMu held.
func (c *Conn) flushNotify(push int32) error {
	c.pending.Store(false)
	set := c.notifySet()
	if set == nil {
		return nil
	}
	c.mu.Lock()
	sess, st := c.session, c.state
	c.mu.Unlock()
	sn, ok := sess.(SessionNotify)
	if !ok || (st != imap.ConnStateAuthenticated && st != imap.ConnStateSelected) {
		return nil
	}
	if push != pushNone && set.Selected != nil && st == imap.ConnStateSelected {
		allowExpunge := push == pushIdle || set.Selected.Filter == NotifySelected
		if err := c.pollSelected(sess, allowExpunge); err != nil && err != errNoExpunge {
			return err
		}
	}
	return sn.FlushNotify(&NotifyWriter{c: c})
}

// pollSelected writes the selected mailbox's updates and, when NOTIFY asks
// MessageNew with fetch attributes, the FETCH of the new messages.
func (c *Conn) pollSelected(sess Session, allowExpunge bool) error {
	w := &UpdateWriter{c: c, allowExpunge: allowExpunge}
	if err := sess.Poll(w, allowExpunge); err != nil {
		return err
	}
	set := c.notifySet()
	if set == nil || set.fetch == nil || w.newFrom == 0 || set.Selected.Events&NotifyMessageNew == 0 {
		return nil
	}
	a := set.fetch
	seqs := imap.SeqSet{}
	seqs.AddRange(w.newFrom, c.exists.Load())
	fw := &FetchWriter{c: c, obsolete: a.obsolete, body: a.body, bodyStructure: a.bodyStructure}
	opts := a.opts
	return sess.Fetch(fw, seqs, &opts)
}

// idleNotify is IDLE while NOTIFY asks for the selected mailbox's events:
// the flush goroutine writes everything (the FETCH of MessageNew
// included), and this goroutine waits for DONE.
func idleNotify(c *Conn, cmd *command) error {
	if err := c.continueReq("idling"); err != nil {
		return err
	}
	var mu sync.Mutex
	stopped := false
	var t *time.Timer
	t = time.AfterFunc(idleKeepalive, func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		c.writeUntagged(&imap.StatusResponse{Type: imap.StatusResponseTypeOK, Text: "Still here"})
		c.enc.flush()
		t.Reset(idleKeepalive)
	})
	c.push.Store(pushIdle)
	c.cmdMu.Unlock()
	c.notifyReady() // what came before IDLE
	c.waitDeadline()
	line, readErr := c.readLine()
	c.cmdMu.Lock()
	c.push.Store(pushNone)
	mu.Lock()
	stopped = true
	t.Stop()
	mu.Unlock()
	if readErr != nil {
		return readErr
	}
	return idleDone(cmd, line)
}

// idleUnlocked runs wait (an IDLE of the session's) with cmdMu released,
// so that NOTIFY's responses for other mailboxes go out while it idles.
func (c *Conn) idleUnlocked(wait func()) {
	c.cmdMu.Unlock()
	if c.notifySet() != nil {
		c.notifyReady()
	}
	wait()
	c.cmdMu.Lock()
}
