package imapmsg

import (
	"bytes"
	"strings"
)

// field is one header field as stored: raw holds the name, the colon, the
// value and every continuation line, including the final line ending.
type field struct {
	name  string // as written, not case-folded
	off   int    // offset of raw in the bytes given to parseHeader
	raw   []byte
	value []byte // after the colon, continuation lines still included
}

// header is the ordered list of fields of a message or MIME part.
type header []field

// parseHeader splits b into fields up to the first empty line. It returns the
// fields and the offset of the body (just past the empty line, or len(b) if
// there is none). Lines without a colon are skipped, as Dovecot does.
func parseHeader(b []byte) (header, int) {
	var h header
	start, colon := -1, -1 // current field
	flush := func(end int) {
		if start >= 0 {
			h = append(h, field{
				name:  strings.TrimRight(string(b[start:colon]), " \t"),
				off:   start,
				raw:   b[start:end],
				value: b[colon+1 : end],
			})
		}
		start = -1
	}
	i := 0
	for i < len(b) {
		next := len(b)
		if end := bytes.IndexByte(b[i:], '\n'); end >= 0 {
			next = i + end + 1
		}
		line := b[i:next]
		switch {
		case isBlankLine(line):
			flush(i)
			return h, next
		case line[0] == ' ' || line[0] == '\t':
			// continuation of the current field (or junk before any field)
		default:
			flush(i)
			if c := bytes.IndexByte(line, ':'); c > 0 {
				start, colon = i, i+c
			}
		}
		i = next
	}
	flush(len(b))
	return h, len(b)
}

func isBlankLine(line []byte) bool {
	return len(line) == 1 && line[0] == '\n' || len(line) == 2 && line[0] == '\r' && line[1] == '\n'
}

// get returns the unfolded, trimmed value of the first field named name
// (case-insensitive) and whether the field exists.
func (h header) get(name string) (string, bool) {
	for i := range h {
		if strings.EqualFold(h[i].name, name) {
			return unfold(h[i].value), true
		}
	}
	return "", false
}

// unfold removes CR and LF (RFC 5322 section 2.2.3), turns NUL into a space
// and trims surrounding white space.
func unfold(v []byte) string {
	if bytes.IndexAny(v, "\r\n\x00") < 0 {
		return strings.TrimSpace(string(v))
	}
	out := make([]byte, 0, len(v))
	for _, c := range v {
		switch c {
		case '\r', '\n':
		case 0:
			out = append(out, ' ')
		default:
			out = append(out, c)
		}
	}
	return strings.TrimSpace(string(out))
}
