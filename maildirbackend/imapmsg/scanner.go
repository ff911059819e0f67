package imapmsg

import "strings"

// scanner is a lenient RFC 5322 / RFC 2045 tokenizer over an unfolded header
// value. It never fails: malformed input yields empty tokens and the callers
// skip ahead.
type scanner struct {
	s           string
	i           int
	lastComment string // text of the last comment skipped by skipCFWS
}

func (s *scanner) eof() bool { return s.i >= len(s.s) }

func (s *scanner) peek() byte {
	if s.eof() {
		return 0
	}
	return s.s[s.i]
}

func (s *scanner) consume(c byte) bool {
	if s.peek() == c && !s.eof() {
		s.i++
		return true
	}
	return false
}

func (s *scanner) skipTo(c byte) {
	for !s.eof() && s.s[s.i] != c {
		if s.s[s.i] == '"' {
			s.quoted()
			continue
		}
		s.i++
	}
}

// skipCFWS skips white space and (nested) comments.
func (s *scanner) skipCFWS() {
	for !s.eof() {
		switch s.s[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		case '(':
			s.comment()
		default:
			return
		}
	}
}

func (s *scanner) comment() {
	depth := 0
	var sb strings.Builder
	for !s.eof() {
		c := s.s[s.i]
		s.i++
		switch c {
		case '(':
			if depth > 0 {
				sb.WriteByte(c)
			}
			depth++
		case ')':
			depth--
			if depth == 0 {
				s.lastComment = strings.TrimSpace(sb.String())
				return
			}
			sb.WriteByte(c)
		case '\\':
			if !s.eof() {
				sb.WriteByte(s.s[s.i])
				s.i++
			}
		default:
			sb.WriteByte(c)
		}
	}
	s.lastComment = strings.TrimSpace(sb.String())
}

// quoted reads a quoted string starting at '"' and returns its content with
// quoted-pairs resolved. An unterminated string runs to the end.
func (s *scanner) quoted() string {
	s.i++ // opening quote
	var sb strings.Builder
	for !s.eof() {
		c := s.s[s.i]
		s.i++
		switch c {
		case '"':
			return sb.String()
		case '\\':
			if !s.eof() {
				sb.WriteByte(s.s[s.i])
				s.i++
			}
		case '\r', '\n':
		default:
			sb.WriteByte(c)
		}
	}
	return sb.String()
}

// token reads a MIME token (RFC 2045 section 5.1), leniently: it stops only
// at white space, controls, '"', '(', ')', ',', '/', ';', '=' and '<', '>'.
func (s *scanner) token() string {
	start := s.i
	for !s.eof() {
		c := s.s[s.i]
		if c <= ' ' || c == 0x7f || strings.IndexByte("\"(),/;=<>", c) >= 0 {
			break
		}
		s.i++
	}
	return s.s[start:s.i]
}

// atom reads RFC 5322 atext characters plus '.', so that a dot-atom (and an
// obsolete local-part or domain with dots) is one word. Bytes >= 0x80 are
// accepted (RFC 6532).
func (s *scanner) atom() string {
	start := s.i
	for !s.eof() {
		c := s.s[s.i]
		if c <= ' ' || c == 0x7f || strings.IndexByte("\"(),:;<>@[\\]", c) >= 0 {
			break
		}
		s.i++
	}
	return s.s[start:s.i]
}

// domainLiteral reads "[...]" including the brackets.
func (s *scanner) domainLiteral() string {
	start := s.i
	for !s.eof() {
		c := s.s[s.i]
		s.i++
		if c == '\\' && !s.eof() {
			s.i++
			continue
		}
		if c == ']' {
			break
		}
	}
	return s.s[start:s.i]
}

// paramValue reads an unquoted parameter value. It is laxer than a token:
// unquoted values with '=' or '/' are common (boundary==_abc), so it stops
// only at white space, controls and ';'.
func (s *scanner) paramValue() string {
	start := s.i
	for !s.eof() {
		c := s.s[s.i]
		if c <= ' ' || c == 0x7f || c == ';' {
			break
		}
		s.i++
	}
	return s.s[start:s.i]
}
