package imapd

import (
	"bufio"
	"bytes"
	"compress/flate"
	"io"
	"net"
	"strings"
	"sync"

	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/internal/inflate"
)

// COMPRESS=DEFLATE (RFC 4978): after "OK", both directions are a raw
// DEFLATE stream (no zlib header), flushed at the end of each response
// burst.

func init() {
	register(authed, handleCompress, "COMPRESS")
}

func handleCompress(c *Conn, cmd *command) error {
	p := cmd.p
	if err := p.sp(); err != nil {
		return err
	}
	alg, err := p.atom()
	if err != nil {
		return err
	}
	if err := p.crlf(); err != nil {
		return err
	}
	if !strings.EqualFold(alg, "DEFLATE") {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Text: "Unknown compression algorithm"}
	}
	c.mu.Lock()
	active := c.compress
	c.mu.Unlock()
	if active {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: "COMPRESSIONACTIVE", Text: "Compression is already active"}
	}
	if err := c.writeTagged(cmd.tag, &imap.StatusResponse{Type: imap.StatusResponseTypeOK, Text: "DEFLATE active"}); err != nil {
		return err
	}
	cmd.done = true
	// Whatever the client sent after the command is already compressed.
	buffered, _ := c.br.Peek(c.br.Buffered())
	pending := append([]byte(nil), buffered...)
	cc, err := newDeflateConn(c.nc, pending)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.compress = true
	c.mu.Unlock()
	c.setTransport(cc)
	return nil
}

// deflateConn is a net.Conn whose data is compressed with DEFLATE. Its
// read side is internal/inflate, which hands out a command as soon as it
// is decoded even if the client leaves its deflate block open (mbsync
// does); compress/flate would hold it until the block ends.
//
// Its write side holds a compressor (about 1.1 MiB with compress/flate)
// only from the first write of a burst of responses to the flush that ends
// it; between bursts the compressor goes back to a pool, so that an idle
// compressed connection does not keep one. The stream stays one DEFLATE
// stream: a sync flush ends on a byte boundary with no final block, and
// the next compressor starts new blocks there, only without references to
// the data of earlier bursts (RFC 1951 requires none).
type deflateConn struct {
	net.Conn
	r *inflate.Reader
	w *flate.Writer // nil between bursts
}

var deflateWriters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.BestSpeed) // fails only for a bad level
	return w
}}

func newDeflateConn(nc net.Conn, pending []byte) (*deflateConn, error) {
	var src io.Reader = nc
	if len(pending) > 0 {
		src = io.MultiReader(bytes.NewReader(pending), nc)
	}
	return &deflateConn{Conn: nc, r: inflate.NewReader(bufio.NewReaderSize(src, 1024))}, nil
}

func (d *deflateConn) Read(b []byte) (int, error) { return d.r.Read(b) }

func (d *deflateConn) Write(b []byte) (int, error) {
	if d.w == nil {
		d.w = deflateWriters.Get().(*flate.Writer)
		d.w.Reset(d.Conn)
	}
	return d.w.Write(b)
}

// Flush sends what has been compressed so far (a sync flush) and gives the
// compressor back.
func (d *deflateConn) Flush() error {
	if d.w == nil {
		return nil
	}
	err := d.w.Flush()
	d.w.Reset(nil)
	deflateWriters.Put(d.w)
	d.w = nil
	return err
}

// NetConn returns the connection under the compression.
func (d *deflateConn) NetConn() net.Conn { return d.Conn }
