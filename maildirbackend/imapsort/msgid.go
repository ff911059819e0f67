package imapsort

import "strings"

// msgIDs returns the valid message IDs of a Message-ID, In-Reply-To or
// References field value, in order and normalized (see msgID), skipping
// text between them and invalid ones.
func msgIDs(v string) []string {
	var ids []string
	for {
		id, rest, ok := nextMsgID(v)
		if !ok {
			return ids
		}
		ids = append(ids, id)
		v = rest
	}
}

// firstMsgID returns the first valid message ID of v, "" if none.
func firstMsgID(v string) string {
	id, _, _ := nextMsgID(v)
	return id
}

// nextMsgID finds the first valid msg-id in v and returns it normalized, the
// text after it, and whether there was one. A candidate starts at each "<";
// an invalid candidate is skipped and the search goes on after its "<".
func nextMsgID(v string) (id, rest string, ok bool) {
	for {
		i := strings.IndexByte(v, '<')
		if i < 0 {
			return "", "", false
		}
		v = v[i+1:]
		if id, n, ok := msgID(v); ok {
			return id, v[n:], true
		}
	}
}

// msgID parses the text after the "<" of a msg-id (RFC 5322 section 3.6.4)
// and returns its normalized form, the length consumed including the ">",
// and whether it is valid.
//
// RFC 5256 section 3 (REFERENCES): msg-ids are normalized so that quoting
// differences do not matter: <"a.b"@host> is <a.b@host>. The normal form
// drops quotes, backslashes of quoted pairs, comments and white space
// (but not the spaces inside a quoted string). Like
// Dovecot (src/lib-mail/message-id.c), a simple id with no quote, comment or
// bracket is valid when it has an "@" (obsolete forms with spaces pass);
// otherwise it must be a quoted string or dot-atom, "@", and a dot-atom or
// domain literal.
func msgID(v string) (id string, n int, ok bool) {
	if end := strings.IndexAny(v, ">\"(["); end >= 0 && v[end] == '>' {
		raw := v[:end]
		if !strings.Contains(raw, "@") {
			return "", 0, false
		}
		return stripSpace(raw), end + 1, true
	}
	p := &idParser{s: v}
	p.cfws()
	var b strings.Builder
	if !p.local(&b) {
		return "", 0, false
	}
	p.cfws()
	if !p.take('@') {
		return "", 0, false
	}
	b.WriteByte('@')
	p.cfws()
	if !p.domain(&b) {
		return "", 0, false
	}
	p.cfws()
	if !p.take('>') {
		return "", 0, false
	}
	return b.String(), p.i, true
}

// stripSpace removes spaces, tabs, CRs and LFs from s.
func stripSpace(s string) string {
	if !strings.ContainsAny(s, " \t\r\n") {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n':
			return -1
		}
		return r
	}, s)
}

// idParser scans the tokens of a msg-id.
type idParser struct {
	s string
	i int
}

func (p *idParser) take(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// cfws skips white space and (nested) comments.
func (p *idParser) cfws() {
	depth := 0
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case c == '\\' && depth > 0 && p.i+1 < len(p.s):
			p.i++
		case depth == 0:
			return
		}
		p.i++
	}
}

// local reads a quoted string (unquoted into b, keeping its spaces, as
// Dovecot does) or a dot-atom.
func (p *idParser) local(b *strings.Builder) bool {
	if !p.take('"') {
		return p.dotAtom(b)
	}
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		switch c {
		case '"':
			return true
		case '\\':
			if p.i < len(p.s) {
				b.WriteByte(p.s[p.i])
				p.i++
			}
		case '\r', '\n': // folding; the white space after it stays
		default:
			b.WriteByte(c)
		}
	}
	return false
}

// domain reads a dot-atom or a domain literal ("[...]", kept with its
// brackets).
func (p *idParser) domain(b *strings.Builder) bool {
	if p.i >= len(p.s) || p.s[p.i] != '[' {
		return p.dotAtom(b)
	}
	end := strings.IndexByte(p.s[p.i:], ']')
	if end < 0 {
		return false
	}
	b.WriteString(stripSpace(p.s[p.i : p.i+end+1]))
	p.i += end + 1
	return true
}

// dotAtom reads atext and dots, with white space or comments allowed around
// the dots (obs-id-left, obs-id-right), into b.
func (p *idParser) dotAtom(b *strings.Builder) bool {
	start := b.Len()
	for {
		for p.i < len(p.s) && isAtext(p.s[p.i]) {
			b.WriteByte(p.s[p.i])
			p.i++
		}
		save := p.i
		p.cfws()
		if !p.take('.') {
			p.i = save
			break
		}
		b.WriteByte('.')
		p.cfws()
	}
	return b.Len() > start
}

// isAtext reports whether c is atext (RFC 5322 section 3.2.3); octets over
// 127 count, for UTF-8 ids (RFC 6532).
func isAtext(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c >= 0x80:
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}
