package imapd

import (
	"bufio"
	"bytes"
	"compress/flate"
	"io"
	"net"
	"strings"

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
type deflateConn struct {
	net.Conn
	r *inflate.Reader
	w *flate.Writer
}

func newDeflateConn(nc net.Conn, pending []byte) (*deflateConn, error) {
	w, err := flate.NewWriter(nc, flate.BestSpeed)
	if err != nil {
		return nil, err
	}
	var src io.Reader = nc
	if len(pending) > 0 {
		src = io.MultiReader(bytes.NewReader(pending), nc)
	}
	return &deflateConn{Conn: nc, r: inflate.NewReader(bufio.NewReader(src)), w: w}, nil
}

func (d *deflateConn) Read(b []byte) (int, error)  { return d.r.Read(b) }
func (d *deflateConn) Write(b []byte) (int, error) { return d.w.Write(b) }

// Flush sends what has been compressed so far (a sync flush).
func (d *deflateConn) Flush() error { return d.w.Flush() }

// NetConn returns the connection under the compression.
func (d *deflateConn) NetConn() net.Conn { return d.Conn }
