package imapmsg

import (
	"strings"

	"github.com/emersion/go-imap/v2"
)

// maxDepth bounds MIME nesting (multipart and message/rfc822 levels). Deeper
// parts are treated as opaque leaves, so hostile input cannot exhaust the
// stack.
const maxDepth = 64

// part is one node of the MIME tree of a message. Offsets are file offsets
// (raw) and offsets in the CRLF form (suffix C); the header itself is not
// kept, only what the ENVELOPE and BODYSTRUCTURE need of it.
type part struct {
	start, startC         int64 // first byte of the header
	bodyStart, bodyStartC int64 // first byte of the body (after the empty line)
	bodyStartLFs          int64 // LF bytes before bodyStart (parse only)
	end, endC             int64 // one past the last byte of the body
	lines                 int64 // LF bytes in the body

	typ, subtype string  // as written (case kept); defaulted when absent
	params       []param // Content-Type parameters in header order
	encoding     string  // Content-Transfer-Encoding as written; "" if absent
	multipart    bool    // has children (possibly zero of them)
	children     []*part // multipart children
	msg          *part   // message/rfc822: the embedded message

	id, description string                         // Content-ID, Content-Description
	disposition     *imap.BodyStructureDisposition // Content-Disposition
	language        []string                       // Content-Language
	location        string                         // Content-Location
	envelope        *imap.Envelope                 // the root and embedded messages only
}

type param struct{ key, value string }

func (p *part) setStart(at pos) { p.start, p.startC = at.raw, at.crlf }

func (p *part) setBodyStart(at pos) {
	p.bodyStart, p.bodyStartC, p.bodyStartLFs = at.raw, at.crlf, at.lfs
}

func (p *part) bodyStartPos() pos { return pos{p.bodyStart, p.bodyStartC, p.bodyStartLFs} }

// setFields sets what p keeps of its header h; message says p is a
// message (the root or an embedded one), which has an envelope.
func (p *part) setFields(h header, message bool) {
	if v, ok := h.get("Content-Type"); ok {
		if t, s, params, ok := parseContentType(v); ok {
			p.typ, p.subtype, p.params = t, s, params
		}
	}
	if v, ok := h.get("Content-Transfer-Encoding"); ok {
		p.encoding = v
	}
	p.id, _ = h.get("Content-ID")
	p.description, _ = h.get("Content-Description")
	p.disposition, p.language, p.location = extFields(h)
	if message {
		p.envelope = buildEnvelope(h)
	}
}

// isText reports whether p is a text/* leaf.
func (p *part) isText() bool { return !p.multipart && strings.EqualFold(p.typ, "text") }

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
