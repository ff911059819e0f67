package maildirbackend_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
)

// fxConn is a minimal IMAP client that returns responses as the exact
// bytes the server wrote, so that they can be compared with the raw text
// Dovecot's fixture recorded.
type fxConn struct {
	t   testing.TB
	c   net.Conn
	r   *bufio.Reader
	tag int
}

// fxDial connects to s and logs in.
func fxDial(t testing.TB, s *maildirtest.Server) *fxConn {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	// A generous deadline so that a hung server fails the test instead of
	// the whole run; it is not a timing assertion.
	c.SetDeadline(time.Now().Add(2 * time.Minute))
	rc := &fxConn{t: t, c: c, r: bufio.NewReader(c)}
	if g := rc.readResponse(); !strings.HasPrefix(g, "* OK") {
		t.Fatalf("greeting: %q", g)
	}
	rc.cmd("LOGIN %s %s", maildirtest.User, maildirtest.Password)
	return rc
}

// cmd sends one command and returns its untagged responses (literals kept
// inline as {n}CRLF<data>, the final CRLF removed). It fails the test
// unless the command completes with OK.
func (rc *fxConn) cmd(format string, args ...any) []string {
	rc.t.Helper()
	rc.tag++
	tag := "t" + strconv.Itoa(rc.tag)
	line := fmt.Sprintf(format, args...)
	if _, err := fmt.Fprintf(rc.c, "%s %s\r\n", tag, line); err != nil {
		rc.t.Fatalf("write %q: %v", line, err)
	}
	var untagged []string
	for {
		resp := rc.readResponse()
		switch {
		case strings.HasPrefix(resp, tag+" OK"):
			return untagged
		case strings.HasPrefix(resp, tag+" "):
			rc.t.Fatalf("%s: %s", line, resp)
		default:
			untagged = append(untagged, resp)
		}
	}
}

// readResponse reads one response line, following literals.
func (rc *fxConn) readResponse() string {
	rc.t.Helper()
	var b strings.Builder
	for {
		line, err := rc.r.ReadString('\n')
		if err != nil {
			rc.t.Fatalf("read: %v (after %q)", err, b.String()+line)
		}
		line = strings.TrimSuffix(line, "\r\n")
		b.WriteString(line)
		n, ok := fxLiteralSize(line)
		if !ok {
			return b.String()
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(rc.r, buf); err != nil {
			rc.t.Fatalf("read literal: %v", err)
		}
		b.WriteString("\r\n")
		b.Write(buf)
	}
}

// fxLiteralSize reports whether line ends in a literal marker {n} or {n+}.
func fxLiteralSize(line string) (int, bool) {
	if !strings.HasSuffix(line, "}") {
		return 0, false
	}
	i := strings.LastIndexByte(line, '{')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSuffix(line[i+1:len(line)-1], "+"))
	return n, err == nil && n >= 0
}

// fxNode is a parsed IMAP value; raw is its exact source text.
type fxNode struct {
	kind byte // '(' list, '"' string (quoted or literal), 'n' NIL, 'a' atom or number
	s    string
	kids []fxNode
	raw  string
}

// fxParseValue parses one IMAP value at s[i:].
func fxParseValue(s string, i int) (fxNode, int, error) {
	if i >= len(s) {
		return fxNode{}, i, fmt.Errorf("unexpected end at %d", i)
	}
	start := i
	switch c := s[i]; {
	case c == '(':
		n := fxNode{kind: '('}
		i++
		for {
			for i < len(s) && s[i] == ' ' {
				i++
			}
			if i >= len(s) {
				return fxNode{}, i, fmt.Errorf("unclosed list at %d", start)
			}
			if s[i] == ')' {
				i++
				n.raw = s[start:i]
				return n, i, nil
			}
			k, j, err := fxParseValue(s, i)
			if err != nil {
				return fxNode{}, j, err
			}
			n.kids = append(n.kids, k)
			i = j
		}
	case c == '"':
		var b strings.Builder
		for i++; i < len(s); i++ {
			switch s[i] {
			case '\\':
				i++
				if i < len(s) {
					b.WriteByte(s[i])
				}
			case '"':
				i++
				return fxNode{kind: '"', s: b.String(), raw: s[start:i]}, i, nil
			default:
				b.WriteByte(s[i])
			}
		}
		return fxNode{}, i, fmt.Errorf("unclosed string at %d", start)
	case c == '{':
		end := strings.Index(s[i:], "}\r\n")
		if end < 0 {
			return fxNode{}, i, fmt.Errorf("bad literal at %d", i)
		}
		n, err := strconv.Atoi(strings.TrimSuffix(s[i+1:i+end], "+"))
		if err != nil || i+end+3+n > len(s) {
			return fxNode{}, i, fmt.Errorf("bad literal at %d", i)
		}
		i += end + 3
		return fxNode{kind: '"', s: s[i : i+n], raw: s[start : i+n]}, i + n, nil
	default:
		for i < len(s) && s[i] != ' ' && s[i] != '(' && s[i] != ')' {
			if s[i] == '[' { // BODY[...] style keys contain spaces inside brackets
				if j := strings.IndexByte(s[i:], ']'); j >= 0 {
					i += j
				}
			}
			i++
		}
		a := s[start:i]
		if strings.EqualFold(a, "NIL") {
			return fxNode{kind: 'n', raw: a}, i, nil
		}
		return fxNode{kind: 'a', s: a, raw: a}, i, nil
	}
}

// fxParseAll parses a whole string as a single value.
func fxParseAll(s string) (fxNode, error) {
	n, i, err := fxParseValue(s, 0)
	if err == nil && i != len(s) {
		err = fmt.Errorf("trailing data %q", s[i:])
	}
	return n, err
}

// canonical renders n with every string quoted, atoms upper-cased only
// where IMAP says case does not matter (NIL), and one space between list
// items: the form two servers agree on when they differ only in how they
// put the same values on the wire.
func (n fxNode) canonical() string {
	switch n.kind {
	case '(':
		parts := make([]string, len(n.kids))
		for i, k := range n.kids {
			parts[i] = k.canonical()
		}
		return "(" + strings.Join(parts, " ") + ")"
	case '"':
		return strconv.Quote(n.s)
	case 'n':
		return "NIL"
	default:
		return n.s
	}
}

// spaced renders n from its leaves' exact wire text with exactly one space
// between list items: it differs from raw only where a server puts a
// space between adjacent parenthesised items, or does not.
func (n fxNode) spaced() string {
	if n.kind != '(' {
		return n.raw
	}
	parts := make([]string, len(n.kids))
	for i, k := range n.kids {
		parts[i] = k.spaced()
	}
	return "(" + strings.Join(parts, " ") + ")"
}

// fxFetchItems parses the "* n FETCH (...)" response resp into its items,
// keyed by upper-case item name, valued by their exact wire text.
func fxFetchItems(resp string) (map[string]string, error) {
	_, rest, ok := strings.Cut(resp, " FETCH ")
	if !ok || !strings.HasPrefix(resp, "* ") {
		return nil, fmt.Errorf("not a FETCH response: %q", resp)
	}
	l, err := fxParseAll(rest)
	if err != nil {
		return nil, err
	}
	if l.kind != '(' || len(l.kids)%2 != 0 {
		return nil, fmt.Errorf("bad FETCH item list %q", rest)
	}
	items := make(map[string]string)
	for i := 0; i < len(l.kids); i += 2 {
		items[strings.ToUpper(l.kids[i].raw)] = l.kids[i+1].raw
	}
	return items, nil
}

// fxListEntry is one LIST/LSUB response: attributes (a sorted set), the
// delimiter and the mailbox name as the wire carried it.
type fxListEntry struct {
	attrs []string
	delim string
	name  string
}

// sameAs reports whether e and o have the same name, delimiter and
// attribute set (attributes are case-insensitive).
func (e fxListEntry) sameAs(o fxListEntry) bool {
	return e.name == o.name && e.delim == o.delim &&
		strings.EqualFold(strings.Join(e.attrs, " "), strings.Join(o.attrs, " "))
}

func (e fxListEntry) String() string {
	return fmt.Sprintf("(%s) %q %s", strings.Join(e.attrs, " "), e.delim, e.name)
}

// fxParseListData parses `(\A \B) "." Name` (the text after "* LIST ").
// Attributes are compared case-insensitively and in any order, as IMAP
// allows; the name is its decoded string value (still modified UTF-7).
func fxParseListData(s string) (fxListEntry, error) {
	var e fxListEntry
	attrs, i, err := fxParseValue(s, 0)
	if err != nil || attrs.kind != '(' {
		return e, fmt.Errorf("bad attributes in %q: %v", s, err)
	}
	for _, a := range attrs.kids {
		e.attrs = append(e.attrs, a.raw)
	}
	sort.Slice(e.attrs, func(i, j int) bool { return strings.ToLower(e.attrs[i]) < strings.ToLower(e.attrs[j]) })
	delim, j, err := fxParseValue(s, i+1)
	if err != nil {
		return e, fmt.Errorf("bad delimiter in %q: %v", s, err)
	}
	e.delim = delim.s
	name, k, err := fxParseValue(s, j+1)
	if err != nil || k != len(s) {
		return e, fmt.Errorf("bad name in %q: %v", s, err)
	}
	e.name = name.s
	if strings.EqualFold(e.name, "INBOX") {
		e.name = "INBOX"
	}
	return e, nil
}

// fxListSet parses LIST/LSUB data lines into a name-keyed map.
func fxListSet(t testing.TB, lines []string) map[string]fxListEntry {
	t.Helper()
	m := make(map[string]fxListEntry)
	for _, l := range lines {
		e, err := fxParseListData(l)
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := m[e.name]; dup {
			t.Errorf("mailbox %s listed twice", e.name)
		}
		m[e.name] = e
	}
	return m
}

// fxUntagged returns the data of the untagged responses named kind
// ("LIST", "LSUB", "STATUS"), without the "* KIND " prefix.
func fxUntagged(resps []string, kind string) []string {
	var out []string
	for _, r := range resps {
		if d, ok := strings.CutPrefix(r, "* "+kind+" "); ok {
			out = append(out, d)
		}
	}
	return out
}
