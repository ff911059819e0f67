package interop

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// This file is the raw IMAP side of the differential test (TestDifferential
// in diff_test.go): a connection that sends commands with LITERAL+ literals
// and reads every response, literals included, and a parser that turns a
// response into values that can be rendered canonically, so that the two
// servers' answers compare whatever quoting or literal form each chose.

// val is one parsed IMAP value.
type val struct {
	k byte // 'a' atom (numbers, flags, section keys), 's' string, 'n' NIL, 'l' list
	s string
	l []val
}

// str returns the text of an atom or string, "" otherwise.
func (v val) str() string {
	if v.k == 'a' || v.k == 's' {
		return v.s
	}
	return ""
}

// render writes v canonically: strings quoted, literals as strings.
func (v val) render() string {
	switch v.k {
	case 'a':
		return v.s
	case 's':
		return strconv.Quote(v.s)
	case 'n':
		return "NIL"
	}
	parts := make([]string, len(v.l))
	for i, x := range v.l {
		parts[i] = x.render()
	}
	return "(" + strings.Join(parts, " ") + ")"
}

// resp is one server response.
type resp struct {
	raw    string // as received, for transcripts
	tag    string // "*" untagged, "+" continuation, or the command's tag
	status string // OK, NO, BAD, BYE, PREAUTH for status responses, else ""
	code   []val  // the response code's values, nil without one
	vals   []val  // the values after the tag (status responses: none)
}

// wconn is a raw IMAP connection.
type wconn struct {
	c      net.Conn
	r      *bufio.Reader
	n      int
	record func(dir, line string) // may be nil: sees every line sent ("C") and received ("S")
	quiet  bool                   // record only untagged responses (sync points)
}

// dialRaw connects to addr, reads the greeting and logs in.
func dialRaw(addr string, record func(dir, line string)) (*wconn, error) {
	c, err := net.DialTimeout("tcp", addr, deadline)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	w := &wconn{c: c, r: bufio.NewReaderSize(c, 64<<10), record: record}
	if _, err := w.read(); err != nil {
		c.Close()
		return nil, fmt.Errorf("greeting of %s: %w", addr, err)
	}
	rs, err := w.cmd(fmt.Sprintf("LOGIN %s %s", testUser, testPass))
	if err == nil && rs[len(rs)-1].status != "OK" {
		err = fmt.Errorf("LOGIN: %s", rs[len(rs)-1].raw)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return w, nil
}

// close sends LOGOUT, without waiting long for the answer, and closes.
func (w *wconn) close() {
	_ = w.c.SetDeadline(time.Now().Add(time.Second))
	_, _ = w.c.Write([]byte("Z LOGOUT\r\n"))
	_ = w.c.Close()
}

// send writes one command line; literals replace each "\x00" in text, in
// order, as LITERAL+ literals.
func (w *wconn) send(tag, text string, lits ...[]byte) error {
	var b bytes.Buffer
	b.WriteString(tag + " ")
	parts := strings.Split(text, "\x00")
	if len(parts) != len(lits)+1 {
		return fmt.Errorf("command %q: %d literals for %d places", text, len(lits), len(parts)-1)
	}
	for i, p := range parts {
		b.WriteString(p)
		if i < len(lits) {
			fmt.Fprintf(&b, "{%d+}\r\n", len(lits[i]))
			b.Write(lits[i])
		}
	}
	b.WriteString("\r\n")
	if w.record != nil && !w.quiet {
		w.record("C", shorten(b.String()))
	}
	_ = w.c.SetDeadline(time.Now().Add(deadline))
	_, err := w.c.Write(b.Bytes())
	return err
}

// cmd sends a command and reads responses up to and including its tagged
// one, which is last.
func (w *wconn) cmd(text string, lits ...[]byte) ([]resp, error) {
	w.n++
	tag := fmt.Sprintf("T%d", w.n)
	if err := w.send(tag, text, lits...); err != nil {
		return nil, err
	}
	return w.readUntil(tag)
}

// readUntil reads responses until the tagged one of tag.
func (w *wconn) readUntil(tag string) ([]resp, error) {
	var out []resp
	for {
		r, err := w.read()
		if err != nil {
			return out, err
		}
		out = append(out, r)
		if r.tag == tag {
			return out, nil
		}
		if r.status == "BYE" {
			// The server closes: the tagged response may never come.
			if r2, err := w.read(); err == nil {
				out = append(out, r2)
				if r2.tag == tag {
					return out, nil
				}
			}
			return out, errBye
		}
	}
}

// errBye is returned by readUntil when the server said BYE and closed.
var errBye = fmt.Errorf("server said BYE")

// idle runs IDLE for about d and returns what the server sent.
func (w *wconn) idle(d time.Duration) ([]resp, error) {
	w.n++
	tag := fmt.Sprintf("T%d", w.n)
	if err := w.send(tag, "IDLE"); err != nil {
		return nil, err
	}
	var out []resp
	for {
		r, err := w.read()
		if err != nil {
			return out, err
		}
		out = append(out, r)
		if r.tag == tag { // IDLE refused
			return out, nil
		}
		if r.tag == "+" {
			break
		}
	}
	time.Sleep(d)
	if w.record != nil {
		w.record("C", "DONE")
	}
	if _, err := w.c.Write([]byte("DONE\r\n")); err != nil {
		return out, err
	}
	rest, err := w.readUntil(tag)
	return append(out, rest...), err
}

// read reads one response, literals included.
func (w *wconn) read() (resp, error) {
	_ = w.c.SetDeadline(time.Now().Add(deadline))
	var buf []byte
	for {
		line, err := w.r.ReadBytes('\n')
		if err != nil {
			return resp{}, fmt.Errorf("read: %w (after %q)", err, shorten(string(buf)))
		}
		buf = append(buf, line...)
		n, ok := literalLen(line)
		if !ok {
			break
		}
		lit := make([]byte, n)
		if _, err := readFull(w.r, lit); err != nil {
			return resp{}, fmt.Errorf("read literal: %w", err)
		}
		buf = append(buf, lit...)
	}
	raw := strings.TrimRight(string(buf), "\r\n")
	if w.record != nil && (!w.quiet || strings.HasPrefix(raw, "* ")) {
		w.record("S", shorten(raw))
	}
	r, err := parseResp(raw)
	if err != nil {
		return r, fmt.Errorf("parse %q: %w", shorten(raw), err)
	}
	return r, nil
}

func readFull(r *bufio.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// literalLen returns n if line ends with a literal announcement {n} or
// ~{n} (BINARY).
func literalLen(line []byte) (int, bool) {
	s := strings.TrimRight(string(line), "\r\n")
	if !strings.HasSuffix(s, "}") {
		return 0, false
	}
	i := strings.LastIndexByte(s, '{')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSuffix(s[i+1:len(s)-1], "+"))
	return n, err == nil && n >= 0
}

// shorten bounds a transcript line.
func shorten(s string) string {
	const max = 300
	s = strings.ReplaceAll(strings.TrimRight(s, "\r\n"), "\r\n", `\r\n`)
	if len(s) > max {
		return fmt.Sprintf("%s…(%d bytes)", s[:max], len(s))
	}
	return s
}

// parseResp parses one response.
func parseResp(raw string) (resp, error) {
	r := resp{raw: raw}
	tag, rest, _ := strings.Cut(raw, " ")
	r.tag = tag
	if tag == "+" {
		return r, nil
	}
	word, after, _ := strings.Cut(rest, " ")
	switch strings.ToUpper(word) {
	case "OK", "NO", "BAD", "BYE", "PREAUTH":
		r.status = strings.ToUpper(word)
		if strings.HasPrefix(after, "[") {
			end := matchBracket(after)
			if end < 0 {
				return r, fmt.Errorf("unterminated response code")
			}
			p := &parser{b: after[1:end]}
			vals, err := p.vals()
			if err != nil {
				return r, fmt.Errorf("response code: %w", err)
			}
			r.code = vals
		}
		return r, nil
	}
	p := &parser{b: rest}
	vals, err := p.vals()
	r.vals = vals
	return r, err
}

// matchBracket returns the index of the ']' closing the '[' at s[0].
func matchBracket(s string) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			depth++
		case ']':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// parser reads values from a response's text.
type parser struct {
	b string
	i int
}

// vals reads space-separated values to the end or to a ')'.
func (p *parser) vals() ([]val, error) {
	var out []val
	for {
		for p.i < len(p.b) && p.b[p.i] == ' ' {
			p.i++
		}
		if p.i >= len(p.b) || p.b[p.i] == ')' {
			return out, nil
		}
		v, err := p.val()
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
}

func (p *parser) val() (val, error) {
	switch c := p.b[p.i]; {
	case c == '(':
		p.i++
		l, err := p.vals()
		if err != nil {
			return val{}, err
		}
		if p.i >= len(p.b) {
			return val{}, fmt.Errorf("unterminated list")
		}
		p.i++
		return val{k: 'l', l: l}, nil
	case c == '"':
		return p.quoted()
	case c == '{' || (c == '~' && p.i+1 < len(p.b) && p.b[p.i+1] == '{'):
		return p.literal()
	}
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c == '[' {
			end := matchBracket(p.b[p.i:])
			if end < 0 {
				return val{}, fmt.Errorf("unterminated section")
			}
			p.i += end + 1
			continue
		}
		if c == ' ' || c == '(' || c == ')' || c == '"' || c == '\r' || c == '\n' {
			break
		}
		p.i++
	}
	if p.i == start {
		return val{}, fmt.Errorf("unexpected %q at %d", p.b[p.i], p.i)
	}
	a := p.b[start:p.i]
	if strings.EqualFold(a, "NIL") {
		return val{k: 'n'}, nil
	}
	return val{k: 'a', s: a}, nil
}

func (p *parser) quoted() (val, error) {
	var b strings.Builder
	for p.i++; p.i < len(p.b); p.i++ {
		switch c := p.b[p.i]; c {
		case '\\':
			p.i++
			if p.i < len(p.b) {
				b.WriteByte(p.b[p.i])
			}
		case '"':
			p.i++
			return val{k: 's', s: b.String()}, nil
		default:
			b.WriteByte(c)
		}
	}
	return val{}, fmt.Errorf("unterminated quoted string")
}

func (p *parser) literal() (val, error) {
	if p.b[p.i] == '~' {
		p.i++
	}
	end := strings.IndexByte(p.b[p.i:], '}')
	if end < 0 {
		return val{}, fmt.Errorf("bad literal")
	}
	n, err := strconv.Atoi(strings.TrimSuffix(p.b[p.i+1:p.i+end], "+"))
	if err != nil {
		return val{}, fmt.Errorf("bad literal length: %w", err)
	}
	p.i += end + 1
	if strings.HasPrefix(p.b[p.i:], "\r\n") {
		p.i += 2
	}
	if p.i+n > len(p.b) {
		return val{}, fmt.Errorf("short literal")
	}
	s := p.b[p.i : p.i+n]
	p.i += n
	return val{k: 's', s: s}, nil
}
