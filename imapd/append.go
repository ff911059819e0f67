package imapd

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
)

// APPEND (RFC 9051 section 6.3.12), with binary literals (RFC 3516),
// UTF8 (RFC 6855), LITERAL+ and APPENDLIMIT (RFC 7889).

func init() {
	register(authed, handleAppend, "APPEND")
}

// defaultAppendLimit applies when the session has no SessionAppendLimit.
const defaultAppendLimit = 64 << 20

// literalReader streams a message literal to the session, extending the
// read deadline as data arrives.
type literalReader struct {
	c    *Conn
	r    io.LimitedReader
	size int64
}

func (l *literalReader) Read(b []byte) (int, error) {
	l.c.literalDeadline()
	return l.r.Read(b)
}

func (l *literalReader) Size() int64 { return l.size }

func handleAppend(c *Conn, cmd *command) error {
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
	var opts imap.AppendOptions
	b, err := p.peek()
	if err != nil {
		return err
	}
	if b == '(' {
		if opts.Flags, err = p.imapFlags(); err != nil {
			return err
		}
		if err := p.sp(); err != nil {
			return err
		}
		if b, err = p.peek(); err != nil {
			return err
		}
	}
	if b == '"' {
		if opts.Time, err = p.dateTime(); err != nil {
			return err
		}
		if err := p.sp(); err != nil {
			return err
		}
		if b, err = p.peek(); err != nil {
			return err
		}
	}
	utf8 := false
	if b == 'U' || b == 'u' {
		a, err := p.atom()
		if err != nil {
			return err
		}
		if !strings.EqualFold(a, "UTF8") {
			return syntaxf("unknown APPEND data extension %s", a)
		}
		if err := p.sp(); err != nil {
			return err
		}
		if err := p.expect('(', "'('"); err != nil {
			return err
		}
		utf8 = true
	}
	size, sync, err := p.literalHeader(true)
	if err != nil {
		return err
	}
	limit := int64(defaultAppendLimit)
	if s, ok := c.session.(SessionAppendLimit); ok {
		limit = int64(s.AppendLimit())
	}
	if c.badName {
		if sync {
			p.pendingSync = true
		} else if err := c.discard(c.br, size); err != nil {
			return err
		}
		return errBadMUTF7
	}
	if err := p.acceptLiteral(size, sync, limit); err != nil {
		if _, ok := err.(*tooBigError); ok {
			return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTooBig,
				Text: fmt.Sprintf("Message larger than the APPEND limit of %d bytes", limit)}
		}
		return err
	}
	lit := &literalReader{c: c, r: io.LimitedReader{R: c.br, N: size}, size: size}
	data, appendErr := c.session.Append(name, lit, &opts)
	if _, err := io.Copy(io.Discard, &lit.r); err != nil {
		return err
	}
	c.nc.SetReadDeadline(time.Now().Add(lineTimeout))
	p.n = 0
	if utf8 {
		if err := p.expect(')', "')'"); err != nil {
			return err
		}
	}
	if err := p.crlf(); err != nil {
		return err
	}
	if appendErr != nil {
		return appendErr
	}
	if data != nil && data.UID != 0 {
		cmd.ok = &imap.StatusResponse{Type: imap.StatusResponseTypeOK,
			Code: imap.ResponseCode(fmt.Sprintf("APPENDUID %d %d", data.UIDValidity, data.UID)),
			Text: "Append completed."}
	}
	return nil
}
