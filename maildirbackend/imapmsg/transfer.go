package imapmsg

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
)

// The streaming writers of section output: each holds a bounded buffer,
// whatever the size of what passes through.

// errWindowFull stops a copy once a partial section has been written.
var errWindowFull = errors.New("imapmsg: window full")

// chunks recycles the copy buffers of the streaming passes.
var chunks = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}

// copyRegion copies src[from:to) to w in 64 KiB reads. A write returning
// errWindowFull ends the copy without error.
func copyRegion(w io.Writer, src io.ReaderAt, from, to int64) error {
	bp := chunks.Get().(*[]byte)
	defer chunks.Put(bp)
	buf := *bp
	for from < to {
		n, err := src.ReadAt(buf[:min(int64(len(buf)), to-from)], from)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				if werr == errWindowFull {
					return nil
				}
				return werr
			}
			from += int64(n)
		}
		if err == io.EOF {
			return nil // the file shrank: the window pads
		}
		if err != nil {
			return fmt.Errorf("imapmsg: reading message: %w", err)
		}
	}
	return nil
}

// crlfWriter writes what it is given with every bare LF turned into CRLF.
// A region must start at a line start (or at a byte that is not LF).
type crlfWriter struct {
	w      io.Writer
	prevCR bool
	out    []byte
}

func (c *crlfWriter) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		chunk := b[:min(len(b), readBufSize)]
		b = b[len(chunk):]
		c.out = c.out[:0]
		if chunk[0] == '\n' && c.prevCR {
			c.out = append(c.out, '\n')
			chunk = chunk[1:]
		}
		c.out = appendCRLF(c.out, chunk)
		if len(c.out) > 0 {
			c.prevCR = c.out[len(c.out)-1] == '\r'
		}
		if _, err := c.w.Write(c.out); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// window passes on the bytes of [skip, skip+left) of what is written to
// it, then returns errWindowFull.
type window struct {
	w          io.Writer
	skip, left int64
}

func (wd *window) Write(b []byte) (int, error) {
	n := len(b)
	if wd.skip > 0 {
		k := min(wd.skip, int64(len(b)))
		wd.skip -= k
		b = b[k:]
	}
	if int64(len(b)) > wd.left {
		b = b[:wd.left]
	}
	if len(b) > 0 {
		if _, err := wd.w.Write(b); err != nil {
			return 0, err
		}
		wd.left -= int64(len(b))
	}
	if wd.left == 0 {
		return n, errWindowFull
	}
	return n, nil
}

// pad fills what the window still owes with spaces, so that a literal
// announced with its size is complete even if the file shrank meanwhile.
func (wd *window) pad() error {
	spaces := bytes.Repeat([]byte{' '}, int(min(wd.left, 4096)))
	for wd.left > 0 {
		k := min(wd.left, int64(len(spaces)))
		if _, err := wd.w.Write(spaces[:k]); err != nil {
			return err
		}
		wd.left -= k
	}
	return nil
}

// counter counts what is written to it.
type counter struct{ n int64 }

func (c *counter) Write(b []byte) (int, error) {
	c.n += int64(len(b))
	return len(b), nil
}

// flusher is a streaming decoder: Flush writes what a partial input held
// back at the end.
type flusher interface {
	io.Writer
	Flush() error
}

// base64Writer decodes base64 leniently, as decodeBase64 does: characters
// outside the alphabet are skipped, decoding stops at '=' padding, a
// trailing partial group yields the bytes it completes.
type base64Writer struct {
	w    io.Writer
	acc  uint32
	n    int
	done bool
	out  []byte
}

func (d *base64Writer) Write(src []byte) (int, error) {
	if d.done {
		return len(src), nil
	}
	d.out = d.out[:0]
	for _, c := range src {
		v := base64Value(c)
		if v == padding {
			d.done = true
			break
		}
		if v == invalid {
			continue
		}
		d.acc = d.acc<<6 | uint32(v)
		d.n++
		if d.n == 4 {
			d.out = append(d.out, byte(d.acc>>16), byte(d.acc>>8), byte(d.acc))
			d.acc, d.n = 0, 0
		}
	}
	if d.done {
		d.out = flushBase64(d.out, d.acc, d.n)
		d.n = 0
	}
	if _, err := d.w.Write(d.out); err != nil {
		return 0, err
	}
	return len(src), nil
}

func (d *base64Writer) Flush() error {
	out := flushBase64(nil, d.acc, d.n)
	d.n = 0
	_, err := d.w.Write(out)
	return err
}

const (
	padding = 0xfe
	invalid = 0xff
)

func base64Value(c byte) byte {
	switch {
	case c >= 'A' && c <= 'Z':
		return c - 'A'
	case c >= 'a' && c <= 'z':
		return c - 'a' + 26
	case c >= '0' && c <= '9':
		return c - '0' + 52
	case c == '+':
		return 62
	case c == '/':
		return 63
	case c == '=':
		return padding
	}
	return invalid
}

// maxQPLine bounds the line a qpWriter holds; a longer line is decoded in
// pieces.
const maxQPLine = 64 << 10

// qpWriter decodes quoted-printable line by line, as decodeQP does. A line
// longer than maxQPLine is decoded in pieces; white space at the end of a
// piece, which only the rest of the line can tell trailing (dropped) or
// not, is held as runs, so that a line of spaces costs no memory.
type qpWriter struct {
	w    io.Writer
	line []byte
	out  []byte
	held []wsRun
}

type wsRun struct {
	c byte
	n int
}

func (d *qpWriter) Write(src []byte) (int, error) {
	n := len(src)
	for len(src) > 0 {
		i := bytes.IndexByte(src, '\n')
		if i < 0 {
			d.line = append(d.line, src...)
			if len(d.line) > maxQPLine {
				if err := d.spill(); err != nil {
					return 0, err
				}
			}
			return n, nil
		}
		d.line = append(d.line, src[:i+1]...)
		src = src[i+1:]
		if err := d.endLine(); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// endLine decodes the held line (ended by LF or by the end of the input).
func (d *qpWriter) endLine() error {
	if len(bytes.TrimRight(d.line, " \t\r\n")) > 0 {
		if err := d.writeHeld(); err != nil {
			return err
		}
	}
	d.held = d.held[:0]
	err := d.emit(decodeQP(d.out[:0], d.line))
	d.line = d.line[:0]
	return err
}

// spill decodes most of an over-long line, keeping back its end: trailing
// white space (as runs) and a possibly cut "=XX" or soft break.
func (d *qpWriter) spill() error {
	ws := len(d.line)
	for ws > 0 && (d.line[ws-1] == ' ' || d.line[ws-1] == '\t') {
		ws--
	}
	cut := ws
	for cut > 0 && cut > ws-3 {
		if d.line[cut-1] == '=' || d.line[cut-1] == '\r' {
			cut--
		} else if cut >= 2 && d.line[cut-2] == '=' {
			cut -= 2
		} else {
			break
		}
	}
	if cut > 0 {
		if err := d.writeHeld(); err != nil {
			return err
		}
		if err := d.emit(decodeQP(d.out[:0], d.line[:cut])); err != nil {
			return err
		}
	}
	if cut == ws {
		for _, c := range d.line[ws:] {
			if k := len(d.held); k > 0 && d.held[k-1].c == c {
				d.held[k-1].n++
			} else {
				d.held = append(d.held, wsRun{c, 1})
			}
		}
		d.line = d.line[:0]
		return nil
	}
	d.line = append(d.line[:0], d.line[cut:]...)
	return nil
}

// writeHeld writes the held white space: what followed it was not the end
// of the line.
func (d *qpWriter) writeHeld() error {
	for _, r := range d.held {
		for r.n > 0 {
			k := min(r.n, 4096)
			if err := d.emit(append(d.out[:0], bytes.Repeat([]byte{r.c}, k)...)); err != nil {
				return err
			}
			r.n -= k
		}
	}
	d.held = d.held[:0]
	return nil
}

func (d *qpWriter) emit(out []byte) error {
	d.out = out
	_, err := d.w.Write(out)
	return err
}

func (d *qpWriter) Flush() error { return d.endLine() }

// identityWriter is the decoder of the identity encodings: CRLF form.
type identityWriter struct{ crlfWriter }

func (*identityWriter) Flush() error { return nil }

// newDecoder returns the streaming decoder of a Content-Transfer-Encoding
// writing to w, or nil for an unknown encoding.
func newDecoder(encoding string, w io.Writer) flusher {
	switch lowerASCII(encoding) {
	case "", "7bit", "8bit", "binary":
		return &identityWriter{crlfWriter{w: w}}
	case "base64":
		return &base64Writer{w: w}
	case "quoted-printable":
		return &qpWriter{w: w}
	}
	return nil
}

func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
