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
		done <- c.session.Idle(&UpdateWriter{c: c, allowExpunge: true, idle: true}, stop)
	}()
	c.waitDeadline()
	line, readErr := c.readLine()
	close(stop)
	idleErr := <-done
	if readErr != nil {
		return readErr
	}
	if idleErr != nil {
		c.log.Debug("IDLE ended with an error", "err", idleErr)
	}
	if !strings.EqualFold(strings.TrimSpace(line), "DONE") {
		return &imap.Error{Type: imap.StatusResponseTypeBad, Text: "Expected DONE"}
	}
	cmd.ok = &imap.StatusResponse{Type: imap.StatusResponseTypeOK, Text: "Idle completed"}
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
