package imapd

import (
	"fmt"
	"github.com/emersion/go-imap/v2"
)

// EXPUNGE and UID EXPUNGE (RFC 9051 section 6.4.3, RFC 4315).

func init() {
	register(selected, handleExpunge, "EXPUNGE", "UID EXPUNGE")
}

func handleExpunge(c *Conn, cmd *command) error {
	p := cmd.p
	var uids *imap.UIDSet
	if cmd.kind == NumKindUID {
		if err := p.sp(); err != nil {
			return err
		}
		set, err := p.numSet(NumKindUID)
		if err != nil {
			return err
		}
		u := set.(imap.UIDSet)
		uids = &u
	}
	if err := p.crlf(); err != nil {
		return err
	}
	if err := c.session.Expunge(&ExpungeWriter{c: c}, uids); err != nil {
		return err
	}
	// RFC 7162 3.2.10: with QRESYNC the tagged OK carries the mailbox's
	// HIGHESTMODSEQ after the expunge, as Dovecot sends it.
	if _, q := c.modSeqsOn(); q {
		if cs := c.condStore(); cs != nil {
			cmd.ok = &imap.StatusResponse{Type: imap.StatusResponseTypeOK,
				Code: imap.ResponseCode(fmt.Sprintf("HIGHESTMODSEQ %d", cs.HighestModSeq())),
				Text: cmd.name + " completed"}
		}
	}
	return nil
}
