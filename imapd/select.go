package imapd

import (
	"strings"

	"github.com/emersion/go-imap/v2"
)

// SELECT, EXAMINE, CLOSE and UNSELECT (RFC 9051 sections 6.3.2, 6.3.3,
// 6.4.1, 6.4.2).

func init() {
	register(authed, handleSelect, "SELECT", "EXAMINE")
	register(selected, handleClose, "CLOSE")
	register(selected, handleUnselect, "UNSELECT")
}

func handleSelect(c *Conn, cmd *command) error {
	p := cmd.p
	if err := p.sp(); err != nil {
		return err
	}
	name, err := p.mailbox()
	if err != nil {
		return err
	}
	if err := p.crlf(); err != nil {
		return err
	}
	if c.State() == imap.ConnStateSelected {
		// The previous mailbox is closed first, whatever comes next
		// (RFC 9051 section 6.3.2).
		if err := c.session.Unselect(); err != nil {
			return err
		}
		c.setState(imap.ConnStateAuthenticated)
		c.setReadOnly(false)
		c.writeUntagged(&imap.StatusResponse{Type: imap.StatusResponseTypeOK, Code: "CLOSED", Text: "Previous mailbox closed."})
	}
	if c.badName {
		return errBadMUTF7
	}
	opts := &imap.SelectOptions{ReadOnly: cmd.name == "EXAMINE"}
	data, err := c.session.Select(name, opts)
	if err != nil {
		return err
	}
	// A backend may set opts.ReadOnly: a mailbox it cannot write.
	c.setReadOnly(opts.ReadOnly)
	c.writeSelectData(data)
	c.exists.Store(data.NumMessages)
	c.setState(imap.ConnStateSelected)
	code := imap.ResponseCode("READ-WRITE")
	if opts.ReadOnly {
		code = "READ-ONLY"
	}
	cmd.ok = &imap.StatusResponse{Type: imap.StatusResponseTypeOK, Code: code, Text: cmd.name[:1] + strings.ToLower(cmd.name[1:]) + " completed"}
	cmd.noPoll = true
	return nil
}

// writeSelectData writes the untagged part of a SELECT answer in
// Dovecot's order: FLAGS first, so that no FETCH shows a keyword the
// client was not told of.
func (c *Conn) writeSelectData(d *imap.SelectData) {
	e := &c.enc
	e.lock()
	defer e.unlock()
	e.raw("* FLAGS ").flags(d.Flags).crlf()
	e.raw("* OK [PERMANENTFLAGS ").flags(d.PermanentFlags).raw("] Flags permitted.").crlf()
	e.raw("* ").num(d.NumMessages).raw(" EXISTS").crlf()
	if !e.rev2 {
		e.raw("* ").num(d.NumRecent).raw(" RECENT").crlf()
		if d.FirstUnseenSeqNum != 0 {
			e.raw("* OK [UNSEEN ").num(d.FirstUnseenSeqNum).raw("] First unseen.").crlf()
		}
	}
	e.raw("* OK [UIDVALIDITY ").num(d.UIDValidity).raw("] UIDs valid").crlf()
	e.raw("* OK [UIDNEXT ").num(uint32(d.UIDNext)).raw("] Predicted next UID").crlf()
	if d.List != nil && e.rev2 {
		lw := &ListWriter{c: c, options: &imap.ListOptions{}}
		e.unlock()
		lw.WriteList(d.List)
		e.lock()
	}
}

func (c *Conn) setReadOnly(ro bool) {
	c.mu.Lock()
	c.readOnly = ro
	c.mu.Unlock()
}

func (c *Conn) isReadOnly() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.readOnly
}

// handleClose expunges (unless the mailbox is read-only) and unselects,
// sending no EXPUNGE responses (RFC 9051 section 6.4.1).
func handleClose(c *Conn, cmd *command) error {
	if err := cmd.p.crlf(); err != nil {
		return err
	}
	if !c.isReadOnly() {
		if err := c.session.Expunge(&ExpungeWriter{c: c, silent: true}, nil); err != nil {
			return err
		}
	}
	return unselect(c, cmd)
}

func handleUnselect(c *Conn, cmd *command) error {
	if err := cmd.p.crlf(); err != nil {
		return err
	}
	return unselect(c, cmd)
}

func unselect(c *Conn, cmd *command) error {
	if err := c.session.Unselect(); err != nil {
		return err
	}
	c.setState(imap.ConnStateAuthenticated)
	c.setReadOnly(false)
	cmd.noPoll = true
	return nil
}
