package imapd

import (
	"bufio"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/internal/mutf7"
)

// writeTimeout bounds every write to the network: a client that stops
// reading is dropped instead of holding a goroutine and its buffers.
const writeTimeout = 60 * time.Second

// writeBufSize is the size of a connection's output buffer while it has
// something to say. The buffer is returned to a pool when the connection
// waits, so an idle connection holds none.
const writeBufSize = 16 << 10

var writeBufs = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, writeBufSize) }}

// deadlineWriter sets a write deadline before each write.
// It also copies what it writes to the wire trace, when there is one.
type deadlineWriter struct {
	nc    net.Conn
	debug io.Writer
}

func (w deadlineWriter) Write(b []byte) (int, error) {
	if w.debug != nil {
		w.debug.Write(b)
	}
	_ = w.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	return w.nc.Write(b)
}

// Flush flushes a transport that buffers (COMPRESS).
func (w deadlineWriter) Flush() error {
	if f, ok := w.nc.(interface{ Flush() error }); ok {
		_ = w.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
		return f.Flush()
	}
	return nil
}

// encoder writes responses. Every method that writes takes mu first
// through lock; the writers handed to the session do so per response, so
// that a keepalive or BYE from another goroutine never lands inside one.
type encoder struct {
	mu  sync.Mutex
	dst io.Writer // the connection (maybe compressed), through deadlineWriter
	bw  *bufio.Writer
	err error // first write error; later writes are dropped
	// utf8 is set once the client enabled UTF8=ACCEPT or IMAP4rev2:
	// mailbox names go out in UTF-8 instead of modified UTF-7.
	utf8 bool
	rev2 bool
}

// lock takes the encoder and a buffer.
func (e *encoder) lock() {
	e.mu.Lock()
	if e.bw == nil {
		e.bw = writeBufs.Get().(*bufio.Writer)
		e.bw.Reset(e.dst)
	}
}

// unlock releases the encoder, keeping the buffered bytes for the next
// flush.
func (e *encoder) unlock() { e.mu.Unlock() }

// flushLocked sends what is buffered and gives the buffer back.
func (e *encoder) flushLocked() error {
	if e.bw == nil {
		return e.err
	}
	if err := e.bw.Flush(); err != nil && e.err == nil {
		e.err = err
	}
	if f, ok := e.dst.(interface{ Flush() error }); ok && e.err == nil {
		if err := f.Flush(); err != nil {
			e.err = err
		}
	}
	e.bw.Reset(nil)
	writeBufs.Put(e.bw)
	e.bw = nil
	return e.err
}

// flush sends what is buffered.
func (e *encoder) flush() error {
	e.lock()
	defer e.unlock()
	return e.flushLocked()
}

// setDst replaces the destination (STARTTLS, COMPRESS); the buffer must be
// flushed.
func (e *encoder) setDst(w io.Writer) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.dst = w
}

func (e *encoder) raw(s string) *encoder {
	e.bw.WriteString(s)
	return e
}

func (e *encoder) rawBytes(b []byte) *encoder {
	e.bw.Write(b)
	return e
}

func (e *encoder) sp() *encoder { return e.byte(' ') }

func (e *encoder) byte(b byte) *encoder {
	e.bw.WriteByte(b)
	return e
}

func (e *encoder) crlf() *encoder { return e.raw("\r\n") }

func (e *encoder) num(n uint32) *encoder {
	// AvailableBuffer: the digits go straight into the output buffer.
	e.bw.Write(strconv.AppendUint(e.bw.AvailableBuffer(), uint64(n), 10))
	return e
}

func (e *encoder) num64(n int64) *encoder {
	e.bw.Write(strconv.AppendInt(e.bw.AvailableBuffer(), n, 10))
	return e
}

// quotable reports whether s can be sent as a quoted string.
func quotable(s string, utf8ok bool) bool {
	if len(s) > 1024 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\r' || c == '\n' || c == 0 || (c >= 0x80 && !utf8ok) {
			return false
		}
	}
	return true
}

// string writes s as a quoted string, or as a literal when it cannot be
// quoted.
func (e *encoder) string(s string) *encoder {
	if quotable(s, e.utf8) {
		return e.quoted(s)
	}
	e.byte('{').num64(int64(len(s))).raw("}\r\n")
	return e.raw(s)
}

func (e *encoder) quoted(s string) *encoder {
	e.byte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			e.byte('\\')
		}
		e.byte(s[i])
	}
	return e.byte('"')
}

// nstring writes s, or NIL when s is empty.
func (e *encoder) nstring(s string) *encoder {
	if s == "" {
		return e.raw("NIL")
	}
	return e.string(s)
}

// astring writes s as an atom when it is one, else as a string.
func (e *encoder) astring(s string) *encoder {
	if s == "" {
		return e.raw(`""`)
	}
	for i := 0; i < len(s); i++ {
		if !isAStringChar(s[i]) {
			return e.string(s)
		}
	}
	return e.raw(s)
}

// listHead writes "* verb (attrs) delim name" of a LIST or LSUB response,
// without the extended data or CRLF.
func (e *encoder) listHead(verb string, d *imap.ListData) {
	e.raw("* ").raw(verb).raw(" (")
	for i, a := range d.Attrs {
		if i > 0 {
			e.sp()
		}
		e.raw(string(a))
	}
	e.raw(") ")
	if d.Delim == 0 {
		e.raw("NIL")
	} else {
		e.quoted(string(d.Delim))
	}
	e.sp().mailbox(d.Mailbox)
}

// mailbox writes a mailbox name: modified UTF-7 unless the client enabled
// UTF-8.
func (e *encoder) mailbox(name string) *encoder {
	if strings.EqualFold(name, "INBOX") {
		return e.raw("INBOX")
	}
	if !e.utf8 {
		name = mutf7.Encode(name)
	}
	return e.astring(name)
}

func (e *encoder) flags(flags []imap.Flag) *encoder {
	e.byte('(')
	for i, f := range flags {
		if i > 0 {
			e.sp()
		}
		e.raw(string(f))
	}
	return e.byte(')')
}

func (e *encoder) dateTime(t time.Time) *encoder {
	return e.byte('"').raw(t.Format("02-Jan-2006 15:04:05 -0700")).byte('"')
}

func (e *encoder) numSet(s imap.NumSet) *encoder {
	return e.raw(s.String())
}

// statusLine writes "tag TYPE [CODE args] text" ("*" for untagged).
func (e *encoder) statusLine(tag string, r *imap.StatusResponse) *encoder {
	if tag == "" {
		tag = "*"
	}
	e.raw(tag).sp().raw(string(r.Type)).sp()
	if r.Code != "" {
		e.byte('[').raw(string(r.Code)).byte(']').sp()
	}
	text := r.Text
	if text == "" {
		text = string(r.Type)
	}
	return e.raw(sanitizeText(text)).crlf()
}

// sanitizeText keeps a human-readable text on one line.
func sanitizeText(s string) string {
	if !strings.ContainsAny(s, "\r\n\x00") {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == 0 {
			return ' '
		}
		return r
	}, s)
}
