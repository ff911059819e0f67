package imapmsg

import (
	"bytes"
	"strings"
)

// maxDepth bounds MIME nesting (multipart and message/rfc822 levels). Deeper
// parts are treated as opaque leaves, so hostile input cannot exhaust the
// stack.
const maxDepth = 64

// part is one node of the MIME tree of a message held in memory. Offsets
// index the message bytes given to parseMessage.
type part struct {
	header    header
	start     int // first byte of the header
	bodyStart int // first byte of the body (after the empty line)
	end       int // one past the last byte of the body

	typ, subtype string  // as written (case kept); defaulted when absent
	params       []param // Content-Type parameters in header order
	encoding     string  // Content-Transfer-Encoding as written; "" if absent
	multipart    bool    // has children (possibly zero of them)
	children     []*part // multipart children
	msg          *part   // message/rfc822: the embedded message
}

type param struct{ key, value string }

// parseMessage parses b[start:end] as a message or MIME part whose default
// type is defType/defSub.
func parseMessage(b []byte, start, end int, defType, defSub string, depth int) *part {
	h, off := parseHeader(b[start:end])
	p := &part{header: h, start: start, bodyStart: start + off, end: end}
	p.typ, p.subtype, p.params = defType, defSub, nil
	if v, ok := h.get("Content-Type"); ok {
		if t, s, params, ok := parseContentType(v); ok {
			p.typ, p.subtype, p.params = t, s, params
		}
	}
	if v, ok := h.get("Content-Transfer-Encoding"); ok {
		p.encoding = v
	}
	if depth >= maxDepth {
		return p
	}
	switch {
	case strings.EqualFold(p.typ, "multipart"):
		boundary := paramValue(p.params, "boundary")
		if boundary == "" {
			// RFC 2046 section 5.1.1: the boundary is mandatory. Without
			// one, Dovecot treats the body as a leaf.
			return p
		}
		p.multipart = true
		childType, childSub := "text", "plain"
		if strings.EqualFold(p.subtype, "digest") {
			childType, childSub = "message", "rfc822"
		}
		for _, r := range splitMultipart(b, p.bodyStart, p.end, boundary) {
			p.children = append(p.children, parseMessage(b, r[0], r[1], childType, childSub, depth+1))
		}
	case strings.EqualFold(p.typ, "message") && strings.EqualFold(p.subtype, "rfc822"):
		p.msg = parseMessage(b, p.bodyStart, p.end, "text", "plain", depth+1)
	}
	return p
}

// isText reports whether p is a text/* leaf.
func (p *part) isText() bool { return !p.multipart && strings.EqualFold(p.typ, "text") }

// splitMultipart returns the [start, end) ranges of the body parts of a
// multipart body b[start:end]. RFC 2046 section 5.1.1: the line ending before
// a delimiter line belongs to the delimiter. Parts after the close delimiter
// (epilogue) and before the first delimiter (preamble) are not parts.
func splitMultipart(b []byte, start, end int, boundary string) [][2]int {
	var ranges [][2]int
	partStart := -1
	i := start
	for i < end {
		next := end
		if n := bytes.IndexByte(b[i:end], '\n'); n >= 0 {
			next = i + n + 1
		}
		if closing, ok := delimiterLine(b[i:next], boundary); ok {
			if partStart >= 0 {
				ranges = append(ranges, [2]int{partStart, trimLineEnd(b, partStart, i)})
			}
			if closing {
				return ranges
			}
			partStart = next
		}
		i = next
	}
	if partStart >= 0 {
		// Missing close delimiter: the last part runs to the end.
		ranges = append(ranges, [2]int{partStart, end})
	}
	return ranges
}

// trimLineEnd drops the LF or CRLF just before pos (not before min).
func trimLineEnd(b []byte, min, pos int) int {
	if pos > min && b[pos-1] == '\n' {
		pos--
		if pos > min && b[pos-1] == '\r' {
			pos--
		}
	}
	return pos
}

// delimiterLine reports whether line is "--boundary" or "--boundary--",
// followed only by white space and the line ending.
func delimiterLine(line []byte, boundary string) (closing, ok bool) {
	if len(line) < 2+len(boundary) || line[0] != '-' || line[1] != '-' ||
		string(line[2:2+len(boundary)]) != boundary {
		return false, false
	}
	rest := line[2+len(boundary):]
	if len(rest) >= 2 && rest[0] == '-' && rest[1] == '-' {
		closing = true
		rest = rest[2:]
	}
	for _, c := range rest {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return false, false
		}
	}
	return closing, true
}

func paramValue(params []param, key string) string {
	for _, p := range params {
		if p.key == key {
			return p.value
		}
	}
	return ""
}

// parseContentType parses "type/subtype; params". ok is false when the type
// or subtype is missing, in which case the caller keeps the default, as
// Dovecot does.
func parseContentType(v string) (typ, sub string, params []param, ok bool) {
	s := &scanner{s: v}
	s.skipCFWS()
	typ = s.token()
	s.skipCFWS()
	if typ == "" || !s.consume('/') {
		return "", "", nil, false
	}
	s.skipCFWS()
	sub = s.token()
	if sub == "" {
		return "", "", nil, false
	}
	return typ, sub, parseParams(s), true
}

// parseDisposition parses a Content-Disposition value.
func parseDisposition(v string) (string, []param) {
	s := &scanner{s: v}
	s.skipCFWS()
	value := s.token()
	if value == "" {
		return "", nil
	}
	return value, parseParams(s)
}

// parseParams parses "; key=value" pairs. Keys are lower-cased. RFC 2231
// continuations (key*0, key*1*, ...) are joined into one "key" parameter, or
// "key*" if the first segment is extended; the value is kept encoded, as
// Dovecot 2.3 does (see the fixture's filename*). Duplicate keys keep the
// first value.
func parseParams(s *scanner) []param {
	var params []param
	type cont struct {
		idx      int
		extended bool
		value    string
	}
	conts := map[string][]cont{}
	var order []string
	for {
		s.skipCFWS()
		if s.eof() {
			break
		}
		if !s.consume(';') {
			// Garbage: skip to the next ';'.
			s.skipTo(';')
			continue
		}
		s.skipCFWS()
		key := strings.ToLower(s.token())
		s.skipCFWS()
		if key == "" || !s.consume('=') {
			s.skipTo(';')
			continue
		}
		s.skipCFWS()
		var value string
		if s.peek() == '"' {
			value = s.quoted()
		} else {
			value = s.paramValue()
		}
		if star := strings.IndexByte(key, '*'); star > 0 && star < len(key)-1 {
			name, rest := key[:star], key[star+1:]
			ext := strings.HasSuffix(rest, "*")
			rest = strings.TrimSuffix(rest, "*")
			n := 0
			valid := rest != ""
			for _, c := range rest {
				if c < '0' || c > '9' || n > 1000 {
					valid = false
					break
				}
				n = n*10 + int(c-'0')
			}
			if valid {
				if _, seen := conts[name]; !seen {
					order = append(order, name)
				}
				conts[name] = append(conts[name], cont{n, ext, value})
				continue
			}
		}
		if paramIndex(params, key) < 0 {
			params = append(params, param{key, value})
		}
	}
	for _, name := range order {
		segs := map[int]cont{}
		for _, c := range conts[name] {
			if _, dup := segs[c.idx]; !dup {
				segs[c.idx] = c
			}
		}
		var sb strings.Builder
		key := name
		for want := 0; ; want++ {
			c, ok := segs[want]
			if !ok {
				break
			}
			if want == 0 && c.extended {
				key = name + "*"
			}
			sb.WriteString(c.value)
		}
		if sb.Len() > 0 && paramIndex(params, key) < 0 {
			params = append(params, param{key, sb.String()})
		}
	}
	return params
}

func paramIndex(params []param, key string) int {
	for i, p := range params {
		if p.key == key {
			return i
		}
	}
	return -1
}
