package imapd

import (
	"strings"

	"github.com/emersion/go-imap/v2"
)

// IDLE (RFC 2177): the session writes updates as they happen until the
// client sends DONE.

func init() {
	register(authed, handleIdle, "IDLE")
}

func handleIdle(c *Conn, cmd *command) error {
	if err := cmd.p.crlf(); err != nil {
		return err
	}
	if set := c.notifySet(); set != nil && set.Selected != nil && c.State() == imap.ConnStateSelected {
		return idleNotify(c, cmd)
	}
	if s, ok := c.session.(SessionIdleFunc); ok {
		return idleFunc(c, cmd, s)
	}
	if err := c.continueReq("idling"); err != nil {
		return err
	}
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				c.log.Error("panic in IDLE", "panic", v)
				done <- nil
			}
		}()
		w := &UpdateWriter{c: c, allowExpunge: true}
		w.idle.Store(true)
		done <- c.session.Idle(w, stop)
	}()
	var line string
	var readErr error
	c.idleUnlocked(func() {
		c.waitDeadline()
		line, readErr = c.readLine()
	})
	close(stop)
	idleErr := <-done
	if readErr != nil {
		return readErr
	}
	if idleErr != nil {
		c.log.Debug("IDLE ended with an error", "err", idleErr)
	}
	return idleDone(cmd, line)
}

// idleDone ends IDLE with the client's line, which must be DONE.
func idleDone(cmd *command, line string) error {
	if !strings.EqualFold(strings.TrimSpace(line), "DONE") {
		return &imap.Error{Type: imap.StatusResponseTypeBad, Text: "Expected DONE"}
	}
	cmd.ok = &imap.StatusResponse{Type: imap.StatusResponseTypeOK, Text: "Idle completed"}
	return nil
}

// idleFunc idles with a SessionIdleFunc: the connection's goroutine waits
// for DONE while the session writes updates from its own.
func idleFunc(c *Conn, cmd *command, s SessionIdleFunc) error {
	// The session starts idling before "+ idling" goes out, so that a
	// client that has read it finds the session idling; the updates
	// pending until then are buffered and leave with it.
	w := &UpdateWriter{c: c, allowExpunge: true}
	stop, err := s.StartIdle(w)
	if err != nil {
		return err
	}
	w.idle.Store(true)
	if err := c.continueReq("idling"); err != nil {
		stop()
		return err
	}
	// DONE is waited for in the connection's loop (idlewait.go), where
	// the goroutine's stack is shallow. NOTIFY's responses for other
	// mailboxes go out meanwhile (endCommand leaves the selected
	// mailbox's updates to the session while it idles).
	c.suspendIdle(cmd, stop)
	if c.notifySet() != nil {
		c.notifyReady()
	}
	return nil
}

// readLine reads one line (without its CRLF) of at most maxLine bytes.
func (c *Conn) readLine() (string, error) {
	p := &parser{c: c, br: c.br}
	var sb strings.Builder
	for {
		b, err := p.readByte()
		if err != nil {
			return "", err
		}
		if b == '\n' {
			return strings.TrimSuffix(sb.String(), "\r"), nil
		}
		sb.WriteByte(b)
	}
}
