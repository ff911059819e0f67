package imapd

import (
	"fmt"

	"github.com/emersion/go-imap/v2"
)

// COPY and MOVE (RFC 9051 sections 6.4.7 and 6.4.8, RFC 6851), with
// UIDPLUS's COPYUID (RFC 4315).

func init() {
	register(selected, handleCopy, "COPY", "UID COPY")
	register(selected, handleMove, "MOVE", "UID MOVE")
}

// setAndMailbox reads " sequence-set mailbox CRLF".
func setAndMailbox(c *Conn, cmd *command) (imap.NumSet, string, error) {
	p := cmd.p
	if err := p.sp(); err != nil {
		return nil, "", err
	}
	set, err := p.numSet(cmd.kind)
	if err != nil {
		return nil, "", err
	}
	if err := p.sp(); err != nil {
		return nil, "", err
	}
	name, err := p.mailbox()
	if err != nil {
		return nil, "", err
	}
	if err := p.crlf(); err != nil {
		return nil, "", err
	}
	if c.badName {
		return nil, "", errBadMUTF7
	}
	return set, name, nil
}

func handleCopy(c *Conn, cmd *command) error {
	set, name, err := setAndMailbox(c, cmd)
	if err != nil {
		return err
	}
	data, err := c.session.Copy(set, name)
	if err != nil {
		return err
	}
	if data != nil && len(data.SourceUIDs) > 0 {
		cmd.ok = &imap.StatusResponse{Type: imap.StatusResponseTypeOK,
			Code: imap.ResponseCode(fmt.Sprintf("COPYUID %d %s %s", data.UIDValidity, data.SourceUIDs, data.DestUIDs)),
			Text: "Copy completed."}
	}
	return nil
}

func handleMove(c *Conn, cmd *command) error {
	set, name, err := setAndMailbox(c, cmd)
	if err != nil {
		return err
	}
	return c.session.Move(&MoveWriter{c: c}, set, name)
}
