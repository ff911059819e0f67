package imapd

import (
	"io"
	"strings"

	"github.com/emersion/go-imap/v2"
)

// SETMETADATA (RFC 5464 section 4.3): values as strings, literals or binary
// literals (literal8), NIL to remove. The whole command is read before the
// session sees it, so that it sets every entry or none; the session's
// limits are applied while reading, so a value over them is never read
// into memory.

func init() {
	register(authed, handleSetMetadata, "SETMETADATA")
}

func handleSetMetadata(c *Conn, cmd *command) error {
	sess, ok := c.session.(SessionMetadata)
	if !ok {
		return &imap.Error{Type: imap.StatusResponseTypeBad, Text: "Unknown command SETMETADATA"}
	}
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
	r := metadataReader{p: p, lim: sess.MetadataLimits().withDefaults()}
	if err := p.list(r.entryValue); err != nil {
		return err
	}
	if err := p.crlf(); err != nil {
		return err
	}
	if c.badName {
		return errBadMUTF7
	}
	return sess.SetMetadata(name, r.entries)
}

// metadataReader reads the entry-value pairs of one SETMETADATA within the
// session's limits.
type metadataReader struct {
	p       *parser
	lim     MetadataLimits // with defaults
	entries []MetadataEntry
	size    int64 // names and values read so far
}

// entryValue reads "entry SP value".
func (r *metadataReader) entryValue() error {
	if len(r.entries) >= r.lim.MaxEntries {
		return errMetadataTooMany
	}
	name, err := r.p.entryName()
	if err != nil {
		return err
	}
	r.size += int64(len(name))
	if err := r.p.sp(); err != nil {
		if b, perr := r.p.peek(); perr == nil && (b == ')' || b == '\r' || b == '\n') {
			return syntaxf("Entry value missing")
		}
		return err
	}
	value, err := r.value()
	if err != nil {
		return err
	}
	r.size += int64(len(value))
	if r.size > r.lim.MaxCommandSize {
		return errMetadataTooMany
	}
	r.entries = append(r.entries, MetadataEntry{Name: name, Value: value})
	return nil
}

// value reads value = nstring / literal8 (RFC 5464 section 5); an atom is
// taken as its text, as Dovecot does. NIL is a nil slice.
func (r *metadataReader) value() ([]byte, error) {
	p := r.p
	b, err := p.peek()
	if err != nil {
		return nil, err
	}
	switch b {
	case '"':
		s, err := p.quoted()
		if err != nil {
			return nil, err
		}
		if max := r.lim.MaxValueSize; int64(len(s)) > max {
			return nil, errMetadataMaxSize(max)
		}
		return []byte(s), nil
	case '{', '~':
		return r.literal()
	case '(':
		return nil, syntaxf("Entry value can't be a list")
	}
	a, err := p.atom()
	if err != nil {
		return nil, err
	}
	if strings.EqualFold(a, "NIL") {
		return nil, nil
	}
	return []byte(a), nil
}

// literal reads a literal or a binary literal, refusing one over the
// value limit or over what is left of the command's before asking for it
// (a synchronizing literal) or by reading it to nowhere (LITERAL+).
func (r *metadataReader) literal() ([]byte, error) {
	p := r.p
	size, sync, err := p.literalHeader(true)
	if err != nil {
		return nil, err
	}
	lim := r.lim
	limit, over := size, error(nil)
	switch left := max(lim.MaxCommandSize-r.size, 0); {
	case size > lim.MaxValueSize:
		limit, over = lim.MaxValueSize, errMetadataMaxSize(lim.MaxValueSize)
	case size > left:
		limit, over = left, errMetadataTooMany
	}
	if err := p.acceptLiteral(size, sync, limit); err != nil {
		if _, ok := err.(*tooBigError); ok && over != nil {
			return nil, over
		}
		return nil, err
	}
	p.c.literalDeadline()
	buf := make([]byte, size)
	if _, err := io.ReadFull(p.br, buf); err != nil {
		return nil, err
	}
	p.c.lineDeadline()
	return buf, nil
}
