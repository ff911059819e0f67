package imapd

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Limits of the command reader.
const (
	// maxLine bounds a command line without its literals. Dovecot's
	// imap_max_line_length is 64 KiB.
	maxLine = 64 << 10
	// maxArgLiteral bounds one literal that is an argument (a mailbox name,
	// a search string), not a message.
	maxArgLiteral = 64 << 10
	// maxDiscard is how many bytes of rejected non-synchronizing literals
	// a connection may make the server read and throw away; past it the
	// connection is closed.
	maxDiscard = 1 << 30
)

// syntaxError is a command the grammar rejects: a tagged BAD.
type syntaxError struct{ msg string }

func (e *syntaxError) Error() string { return e.msg }

func syntaxf(format string, args ...any) error {
	return &syntaxError{msg: fmt.Sprintf(format, args...)}
}

// errLineTooLong ends the connection: the rest of the line cannot be told
// apart from the next command.
var errLineTooLong = errors.New("command line too long")

// parser reads the arguments of one command from the connection. It reads
// lazily, so that a synchronizing literal is asked for ("+ Ready") only when
// the parser reaches it, and it counts the line's bytes.
type parser struct {
	c       *Conn
	br      *bufio.Reader
	n       int  // bytes of the current line, literals excluded
	lineEnd bool // the CRLF that ends the command has been read
	// pendingSync is set when the line read so far ends with a
	// synchronizing literal announcement that was not answered: the
	// client waits for "+", so the command ends there.
	pendingSync bool
}

func (p *parser) readByte() (byte, error) {
	b, err := p.br.ReadByte()
	if err != nil {
		return 0, err
	}
	p.n++
	if p.n > maxLine {
		return 0, errLineTooLong
	}
	return b, nil
}

func (p *parser) peek() (byte, error) {
	b, err := p.br.Peek(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

// expect reads one byte that must be want.
func (p *parser) expect(want byte, what string) error {
	b, err := p.peek()
	if err != nil {
		return err
	}
	if b != want {
		return syntaxf("expected %s", what)
	}
	_, err = p.readByte()
	return err
}

func (p *parser) sp() error { return p.expect(' ', "SP") }

// crlf reads the end of the command. A bare LF is accepted, as Dovecot
// does.
func (p *parser) crlf() error {
	b, err := p.peek()
	if err != nil {
		return err
	}
	if b == '\r' {
		if _, err := p.readByte(); err != nil {
			return err
		}
		b, err = p.peek()
		if err != nil {
			return err
		}
	}
	if b != '\n' {
		return syntaxf("expected CRLF")
	}
	if _, err := p.readByte(); err != nil {
		return err
	}
	p.lineEnd = true
	return nil
}

// atEnd reports whether the next byte ends the line.
func (p *parser) atEnd() bool {
	b, err := p.peek()
	return err == nil && (b == '\r' || b == '\n')
}

// maybeSP reads a space if one comes next and reports whether it did.
func (p *parser) maybeSP() (bool, error) {
	b, err := p.peek()
	if err != nil {
		return false, err
	}
	if b != ' ' {
		return false, nil
	}
	_, err = p.readByte()
	return true, err
}

// Character classes of RFC 9051's grammar.
func isAtomChar(b byte) bool {
	switch b {
	case '(', ')', '{', ' ', '%', '*', '"', '\\', ']':
		return false
	}
	return b > 0x1f && b < 0x7f
}

func isAStringChar(b byte) bool { return isAtomChar(b) || b == ']' }

func isListChar(b byte) bool { return isAStringChar(b) || b == '%' || b == '*' }

func isTagChar(b byte) bool { return isAStringChar(b) && b != '+' }

// run reads the longest run of bytes in class; what names it in errors.
func (p *parser) run(class func(byte) bool, what string) (string, error) {
	var sb strings.Builder
	for {
		b, err := p.peek()
		if err != nil {
			return "", err
		}
		if !class(b) {
			break
		}
		if _, err := p.readByte(); err != nil {
			return "", err
		}
		sb.WriteByte(b)
	}
	if sb.Len() == 0 {
		return "", syntaxf("expected %s", what)
	}
	return sb.String(), nil
}

func (p *parser) atom() (string, error) { return p.run(isAtomChar, "atom") }

// astring reads an atom (']' allowed), a quoted string or a literal.
func (p *parser) astring() (string, error) {
	b, err := p.peek()
	if err != nil {
		return "", err
	}
	if b == '"' || b == '{' {
		return p.str()
	}
	return p.run(isAStringChar, "astring")
}

// nstring reads NIL or a string; ok is false for NIL.
func (p *parser) nstring() (s string, ok bool, err error) {
	b, err := p.peek()
	if err != nil {
		return "", false, err
	}
	if b == '"' || b == '{' {
		s, err := p.str()
		return s, true, err
	}
	a, err := p.atom()
	if err != nil {
		return "", false, err
	}
	if !strings.EqualFold(a, "NIL") {
		return "", false, syntaxf("expected string or NIL")
	}
	return "", false, nil
}

// str reads a quoted string or a literal.
func (p *parser) str() (string, error) {
	b, err := p.peek()
	if err != nil {
		return "", err
	}
	switch b {
	case '"':
		return p.quoted()
	case '{':
		return p.argLiteral()
	}
	return "", syntaxf("expected string")
}

// quoted reads a quoted string. A CR or LF inside ends it with an error:
// a quoted string never spans lines.
func (p *parser) quoted() (string, error) {
	if err := p.expect('"', "'\"'"); err != nil {
		return "", err
	}
	var sb strings.Builder
	for {
		b, err := p.peek()
		if err != nil {
			return "", err
		}
		if b == '\r' || b == '\n' || b == 0 {
			return "", syntaxf("unterminated quoted string")
		}
		p.readByte()
		switch b {
		case '"':
			return sb.String(), nil
		case '\\':
			e, err := p.peek()
			if err != nil {
				return "", err
			}
			if e != '\\' && e != '"' {
				return "", syntaxf("bad escape in quoted string")
			}
			p.readByte()
			sb.WriteByte(e)
		default:
			sb.WriteByte(b)
		}
	}
}

// literalHeader reads "{n}", "{n+}" or, when binary, "~{n}", and the CRLF
// after it. It does not ask for the data.
func (p *parser) literalHeader(binary bool) (size int64, sync bool, err error) {
	if binary {
		if b, err := p.peek(); err == nil && b == '~' {
			p.readByte()
		}
	}
	if err := p.expect('{', "literal"); err != nil {
		return 0, false, err
	}
	digits, err := p.run(func(b byte) bool { return b >= '0' && b <= '9' }, "literal size")
	if err != nil {
		return 0, false, err
	}
	size, perr := strconv.ParseInt(digits, 10, 64)
	if perr != nil || size < 0 {
		return 0, false, syntaxf("bad literal size")
	}
	sync = true
	if b, err := p.peek(); err == nil && (b == '+' || b == '-') {
		p.readByte()
		sync = false
	}
	if err := p.expect('}', "'}'"); err != nil {
		return 0, false, err
	}
	if err := p.literalCRLF(); err != nil {
		return 0, false, err
	}
	return size, sync, nil
}

// literalCRLF reads the CRLF after a literal's announcement; unlike crlf it
// does not end the command.
func (p *parser) literalCRLF() error {
	b, err := p.peek()
	if err != nil {
		return err
	}
	if b == '\r' {
		p.readByte()
	}
	if err := p.expect('\n', "CRLF after literal size"); err != nil {
		return err
	}
	p.n = 0 // the line budget starts again after each literal
	return nil
}

// acceptLiteral is called once a literal's size is known. A literal over
// max is refused: a synchronizing one is never asked for (the command ends
// with the client waiting), a non-synchronizing one is read and thrown away
// so that its bytes are never run as commands.
func (p *parser) acceptLiteral(size int64, sync bool, max int64) error {
	if size > max {
		if sync {
			p.pendingSync = true
		} else if err := p.c.discard(p.br, size); err != nil {
			return err
		}
		return &tooBigError{max: max}
	}
	if sync {
		return p.c.continueReq("Ready for literal data")
	}
	return nil
}

// tooBigError is a literal over its limit: NO [TOOBIG].
type tooBigError struct{ max int64 }

func (e *tooBigError) Error() string {
	return fmt.Sprintf("literal larger than %d bytes", e.max)
}

// argLiteral reads a literal that is a command argument.
func (p *parser) argLiteral() (string, error) {
	size, sync, err := p.literalHeader(false)
	if err != nil {
		return "", err
	}
	if err := p.acceptLiteral(size, sync, maxArgLiteral); err != nil {
		return "", err
	}
	p.c.literalDeadline()
	buf := make([]byte, size)
	if _, err := io.ReadFull(p.br, buf); err != nil {
		return "", err
	}
	p.c.lineDeadline()
	return string(buf), nil
}

// number reads a non-zero-padded decimal number that fits in 32 bits.
func (p *parser) number() (uint32, error) {
	s, err := p.run(func(b byte) bool { return b >= '0' && b <= '9' }, "number")
	if err != nil {
		return 0, err
	}
	n, perr := strconv.ParseUint(s, 10, 32)
	if perr != nil {
		return 0, syntaxf("number out of range")
	}
	return uint32(n), nil
}

// number64 reads a decimal number that fits in 63 bits.
func (p *parser) number64() (int64, error) {
	s, err := p.run(func(b byte) bool { return b >= '0' && b <= '9' }, "number")
	if err != nil {
		return 0, err
	}
	n, perr := strconv.ParseInt(s, 10, 64)
	if perr != nil {
		return 0, syntaxf("number out of range")
	}
	return n, nil
}

// list reads a parenthesized list, calling item for each element.
func (p *parser) list(item func() error) error {
	if err := p.expect('(', "'('"); err != nil {
		return err
	}
	if b, err := p.peek(); err != nil {
		return err
	} else if b == ')' {
		p.readByte()
		return nil
	}
	for {
		if err := item(); err != nil {
			return err
		}
		b, err := p.peek()
		if err != nil {
			return err
		}
		if b == ')' {
			p.readByte()
			return nil
		}
		if err := p.sp(); err != nil {
			return err
		}
	}
}

// flag reads one flag: a system flag ("\Seen") or a keyword atom.
func (p *parser) flag() (string, error) {
	b, err := p.peek()
	if err != nil {
		return "", err
	}
	if b == '\\' {
		p.readByte()
		if b, err := p.peek(); err == nil && b == '*' {
			p.readByte()
			return `\*`, nil // flag-perm; the session decides where it is valid
		}
		a, err := p.flagAtom()
		if err != nil {
			return "", err
		}
		return `\` + a, nil
	}
	return p.flagAtom()
}

// flagAtom reads a flag's atom, naming 8-bit bytes in the error as Dovecot
// does.
func (p *parser) flagAtom() (string, error) {
	a, err := p.atom()
	if b, perr := p.peek(); perr == nil && b >= 0x80 {
		return "", syntaxf("8bit data in atom")
	}
	return a, err
}

// flagList reads "(" [flag *(SP flag)] ")".
func (p *parser) flagList() ([]string, error) {
	var flags []string
	err := p.list(func() error {
		f, err := p.flag()
		flags = append(flags, f)
		return err
	})
	return flags, err
}

var monthNames = []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// date reads date = date-text / DQUOTE date-text DQUOTE, date-text being
// "1-Feb-2024".
func (p *parser) date() (time.Time, error) {
	b, err := p.peek()
	if err != nil {
		return time.Time{}, err
	}
	var s string
	if b == '"' {
		s, err = p.quoted()
	} else {
		s, err = p.run(func(b byte) bool { return isAtomChar(b) }, "date")
	}
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse("2-Jan-2006", s)
	if err != nil {
		return time.Time{}, syntaxf("bad date %q", s)
	}
	return t, nil
}

// dateTime reads a quoted date-time: "17-Jul-1996 02:44:25 -0700".
func (p *parser) dateTime() (time.Time, error) {
	s, err := p.quoted()
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse("_2-Jan-2006 15:04:05 -0700", s)
	if err != nil {
		return time.Time{}, syntaxf("bad date-time %q", s)
	}
	return t, nil
}

// discardLine reads the rest of a rejected command, skipping the data of
// non-synchronizing literals so that none of it is ever run as a command.
// A synchronizing literal announced at the end of a line is not asked for:
// the client waits for "+" and reads our tagged reply instead.
func (p *parser) discardLine() error {
	if p.lineEnd || p.pendingSync {
		return nil
	}
	var tail []byte // the last bytes of the line, to spot "{n+}"
	for {
		b, err := p.br.ReadByte()
		if err != nil {
			return err
		}
		p.n++
		if p.n > maxLine {
			return errLineTooLong
		}
		if b != '\n' {
			if len(tail) == 32 {
				copy(tail, tail[1:])
				tail = tail[:31]
			}
			tail = append(tail, b)
			continue
		}
		size, sync, ok := literalAnnouncement(tail)
		if !ok {
			p.lineEnd = true
			return nil
		}
		if sync {
			p.pendingSync = true
			return nil
		}
		if err := p.c.discard(p.br, size); err != nil {
			return err
		}
		tail, p.n = tail[:0], 0
	}
}

// literalAnnouncement parses "{n}" or "{n+}" (with an optional CR) at the end
// of line.
func literalAnnouncement(line []byte) (size int64, sync, ok bool) {
	s := strings.TrimSuffix(string(line), "\r")
	if !strings.HasSuffix(s, "}") {
		return 0, false, false
	}
	i := strings.LastIndexByte(s, '{')
	if i < 0 {
		return 0, false, false
	}
	num := s[i+1 : len(s)-1]
	sync = true
	if strings.HasSuffix(num, "+") || strings.HasSuffix(num, "-") {
		num, sync = num[:len(num)-1], false
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return 0, false, false
	}
	return n, sync, true
}
