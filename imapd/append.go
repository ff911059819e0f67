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
	multi, _ := c.session.(SessionMultiAppend)
	var (
		stored      []imap.UID
		uidValidity uint32
	)
	// cancel takes back the messages stored before err (MULTIAPPEND: all
	// or none).
	cancel := func(err error) error {
		if len(stored) > 0 && multi != nil {
			if cerr := multi.CancelAppend(name, stored); cerr != nil {
				c.log.Error("MULTIAPPEND: cannot take back the messages stored before a failure", "mailbox", name, "err", cerr)
			}
		}
		return err
	}
	for {
		if err := p.sp(); err != nil {
			return cancel(err)
		}
		data, err := appendOne(c, p, name)
		if err != nil {
			return cancel(err)
		}
		if data != nil && data.UID != 0 {
			stored = append(stored, data.UID)
			uidValidity = data.UIDValidity
		}
		more := multi != nil && !p.atEnd()
		if !more {
			break
		}
	}
	if err := p.crlf(); err != nil {
		return cancel(err)
	}
	if len(stored) > 0 {
		set := imap.UIDSetNum(stored...)
		cmd.ok = &imap.StatusResponse{Type: imap.StatusResponseTypeOK,
			Code: imap.ResponseCode(fmt.Sprintf("APPENDUID %d %s", uidValidity, set)),
			Text: "Append completed."}
	}
	return nil
}

// appendOne reads one message of an APPEND ([flags] [date-time] literal,
// or UTF8 (literal)) and stores it.
func appendOne(c *Conn, p *parser, name string) (*imap.AppendData, error) {
	var opts imap.AppendOptions
	b, err := p.peek()
	if err != nil {
		return nil, err
	}
	if b == '(' {
		if opts.Flags, err = p.imapFlags(); err != nil {
			return nil, err
		}
		if err := p.sp(); err != nil {
			return nil, err
		}
		if b, err = p.peek(); err != nil {
			return nil, err
		}
	}
	if b == '"' {
		if opts.Time, err = p.dateTime(); err != nil {
			return nil, err
		}
		if err := p.sp(); err != nil {
			return nil, err
		}
		if b, err = p.peek(); err != nil {
			return nil, err
		}
	}
	utf8 := false
	if b == 'U' || b == 'u' {
		a, err := p.atom()
		if err != nil {
			return nil, err
		}
		if !strings.EqualFold(a, "UTF8") {
			return nil, syntaxf("unknown APPEND data extension %s", a)
		}
		if err := p.sp(); err != nil {
			return nil, err
		}
		if err := p.expect('(', "'('"); err != nil {
			return nil, err
		}
		utf8 = true
	}
	size, sync, err := p.literalHeader(true)
	if err != nil {
		return nil, err
	}
	limit := int64(defaultAppendLimit)
	if s, ok := c.session.(SessionAppendLimit); ok {
		limit = int64(s.AppendLimit())
	}
	if c.badName {
		if sync {
			p.pendingSync = true
		} else if err := c.discard(c.br, size); err != nil {
			return nil, err
		}
		return nil, errBadMUTF7
	}
	if err := p.acceptLiteral(size, sync, limit); err != nil {
		if _, ok := err.(*tooBigError); ok {
			return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTooBig,
				Text: fmt.Sprintf("Message larger than the APPEND limit of %d bytes", limit)}
		}
		return nil, err
	}
	lit := &literalReader{c: c, r: io.LimitedReader{R: c.br, N: size}, size: size}
	data, appendErr := c.session.Append(name, lit, &opts)
	if _, err := io.Copy(io.Discard, &lit.r); err != nil {
		return nil, err
	}
	c.nc.SetReadDeadline(time.Now().Add(lineTimeout))
	p.n = 0
	if utf8 {
		if err := p.expect(')', "')'"); err != nil {
			return nil, err
		}
	}
	return data, appendErr
}
