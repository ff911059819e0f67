package imapd

import (
	"github.com/emersion/go-imap/v2"
)

// STATUS (RFC 9051 section 6.3.11), with STATUS=SIZE (RFC 8438) and
// APPENDLIMIT (RFC 7889).

func init() {
	register(authed, handleStatus, "STATUS")
}

func handleStatus(c *Conn, cmd *command) error {
	p := cmd.p
	if err := p.sp(); err != nil {
		return err
	}
	name, err := p.mailbox()
	if err != nil {
		return err
	}
	if err := p.sp(); err != nil {
		return err
	}
	opts, err := p.statusItems()
	if err != nil {
		return err
	}
	if err := p.crlf(); err != nil {
		return err
	}
	if c.badName {
		return errBadMUTF7
	}
	data, err := c.session.Status(name, opts)
	if err != nil {
		return err
	}
	c.enc.lock()
	defer c.enc.unlock()
	writeStatusData(&c.enc, data, opts)
	return c.enc.err
}

// writeStatusData writes "* STATUS name (items)" with the items asked for.
func writeStatusData(e *encoder, d *imap.StatusData, o *imap.StatusOptions) {
	e.raw("* STATUS ").mailbox(d.Mailbox).raw(" (")
	sep := ""
	item := func(name string) *encoder {
		e.raw(sep).raw(name).sp()
		sep = " "
		return e
	}
	if o.NumMessages && d.NumMessages != nil {
		item("MESSAGES").num(*d.NumMessages)
	}
	if o.NumRecent && d.NumRecent != nil {
		item("RECENT").num(*d.NumRecent)
	}
	if o.UIDNext {
		item("UIDNEXT").num(uint32(d.UIDNext))
	}
	if o.UIDValidity {
		item("UIDVALIDITY").num(d.UIDValidity)
	}
	if o.NumUnseen && d.NumUnseen != nil {
		item("UNSEEN").num(*d.NumUnseen)
	}
	if o.NumDeleted && d.NumDeleted != nil {
		item("DELETED").num(*d.NumDeleted)
	}
	if o.Size && d.Size != nil {
		item("SIZE").num64(*d.Size)
	}
	if o.AppendLimit {
		if d.AppendLimit != nil {
			item("APPENDLIMIT").num(*d.AppendLimit)
		} else {
			item("APPENDLIMIT").raw("NIL")
		}
	}
	if o.DeletedStorage && d.DeletedStorage != nil {
		item("DELETED-STORAGE").num64(*d.DeletedStorage)
	}
	if o.HighestModSeq {
		item("HIGHESTMODSEQ").num64(int64(d.HighestModSeq))
	}
	e.byte(')').crlf()
}
