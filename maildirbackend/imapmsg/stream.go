package imapmsg

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Limits of the structure parse. Like Dovecot's message parser, which
// bounds nesting and the number of MIME parts, they keep a hostile message
// from costing unbounded memory: the parse holds one header at a time and
// the part tree, never a body.
const (
	// maxParts bounds the MIME parts of one message; the content after the
	// last one counted belongs to that part's parent (as an epilogue).
	maxParts = 10000
	// maxKeptHeader bounds the header fields kept per part while its
	// header is read: only those the ENVELOPE and BODYSTRUCTURE use
	// (see keptField); other fields, however long, cost nothing.
	maxKeptHeader = 1 << 20
	// checkpointEvery is how far apart (in file bytes) the parse records
	// the CRLF offset of a line start, so that a partial FETCH can seek.
	checkpointEvery = 256 << 10
	// readBufSize is the read buffer of every streaming pass.
	readBufSize = 64 << 10
)

// readers recycles the streaming passes' read buffers.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufSize) }}

func getReader(r io.Reader) *bufio.Reader {
	br := readers.Get().(*bufio.Reader)
	br.Reset(r)
	return br
}

func putReader(br *bufio.Reader) {
	br.Reset(nil)
	readers.Put(br)
}

// checkpoint is a line start: its file offset and its offset in the CRLF
// form.
type checkpoint struct{ raw, crlf int64 }

// pos is a position in the file: its offset, its offset in the CRLF form
// and the number of LF bytes before it.
type pos struct{ raw, crlf, lfs int64 }

// frame is a part being parsed.
type frame struct {
	p        *part
	depth    int
	message  bool   // the root or the body of a message/rfc822 part
	inHeader bool   // its header is being read
	hdr      []byte // the kept fields of that header so far
	keep     bool   // the current header field is kept
	boundary string // a multipart in its body: its boundary
	child    bool   // a child part is open (a delimiter was seen)
	closed   bool   // its close delimiter was seen: the rest is epilogue
	closedAt int64  // LFs before its close delimiter line
}

// structParser builds the part tree of a message in one streaming pass.
type structParser struct {
	// treeOnly: the tree is for SEARCH (the MIME types, encodings and
	// charsets): no ENVELOPE is built and only Content-* fields are kept.
	treeOnly    bool
	stack       []*frame
	at          pos  // position of the next byte
	eol         int  // line ending length (1 or 2) of the last complete line
	lastCR      bool // the last byte read was CR
	inDelimiter bool // the rest of the current line is a delimiter line
	afterLine   func()
	parts       int
	nextCheck   int64
	checkpoints []checkpoint
}

// parseStructure reads a message and returns its part tree, with offsets
// into the stream, and the CRLF checkpoints. It holds at most one header's
// kept fields and a 64 KiB buffer.
// With headerOnly, it stops after the top-level header: the tree is then
// the root alone, ending where its body starts.
func parseStructure(r io.Reader, headerOnly bool) (*part, []checkpoint, error) {
	return (&structParser{nextCheck: checkpointEvery}).parse(r, headerOnly)
}

// parseTree is parseStructure for SEARCH: the part tree, without
// ENVELOPEs or checkpoints.
func parseTree(r io.Reader) (*part, error) {
	root, _, err := (&structParser{nextCheck: 1<<63 - 1, treeOnly: true}).parse(r, false)
	return root, err
}

func (ps *structParser) parse(r io.Reader, headerOnly bool) (*part, []checkpoint, error) {
	root := &part{typ: "text", subtype: "plain"}
	ps.stack = []*frame{{p: root, message: true, inHeader: true}}
	br := getReader(r)
	defer putReader(br)
	atStart := true
	for {
		frag, err := br.ReadSlice('\n')
		if len(frag) > 0 {
			complete := frag[len(frag)-1] == '\n'
			ps.fragment(frag, atStart, complete)
			ps.advance(frag, complete)
			if complete && ps.afterLine != nil {
				ps.afterLine()
				ps.afterLine = nil
			}
			atStart = complete
		}
		if headerOnly && !ps.stack[0].inHeader {
			ps.stack = ps.stack[:1]
			break
		}
		if err == io.EOF {
			break
		}
		if err != nil && err != bufio.ErrBufferFull {
			return nil, nil, fmt.Errorf("imapmsg: reading message: %w", err)
		}
	}
	if ps.afterLine != nil { // a last line without LF
		ps.afterLine()
	}
	for len(ps.stack) > 0 {
		ps.endTop(ps.at)
	}
	return root, ps.checkpoints, nil
}

// advance moves the position past frag.
func (ps *structParser) advance(frag []byte, complete bool) {
	n := int64(len(frag))
	ps.at.raw += n
	ps.at.crlf += n
	if complete {
		ps.at.lfs++
		cr := len(frag) >= 2 && frag[len(frag)-2] == '\r' || len(frag) == 1 && ps.lastCR
		ps.eol = 1
		if cr {
			ps.eol = 2
		} else {
			ps.at.crlf++ // a bare LF is CRLF in the CRLF form
		}
		if ps.at.raw >= ps.nextCheck {
			ps.checkpoints = append(ps.checkpoints, checkpoint{ps.at.raw, ps.at.crlf})
			ps.nextCheck = ps.at.raw + checkpointEvery
		}
	}
	ps.lastCR = frag[len(frag)-1] == '\r'
}

// fragment handles a piece of a line: all of it, or up to 64 KiB of a
// longer one. atStart says it begins a line.
func (ps *structParser) fragment(frag []byte, atStart, complete bool) {
	if atStart {
		ps.inDelimiter = false
		if len(frag) >= 2 && frag[0] == '-' && frag[1] == '-' && ps.delimiter(frag) {
			ps.inDelimiter = true
			return
		}
	} else if ps.inDelimiter {
		return
	}
	top := ps.stack[len(ps.stack)-1]
	if !top.inHeader {
		return
	}
	if atStart && complete && isBlankLine(frag) {
		ps.afterLine = func() { ps.endHeader(top) }
		return
	}
	top.addHeader(frag, atStart, ps.treeOnly)
}

// delimiter checks a line against the boundaries of the open multiparts,
// outermost first (an outer boundary ends the parts inside it), and acts
// on a match.
func (ps *structParser) delimiter(line []byte) bool {
	for k, f := range ps.stack {
		if f.boundary == "" || f.closed {
			continue
		}
		closing, ok := delimiterLine(line, f.boundary)
		if !ok {
			continue
		}
		if f.child {
			// RFC 2046 section 5.1.1: the line ending before a
			// delimiter line belongs to the delimiter.
			// Except, as Dovecot parses it, after the close
			// delimiter of a multipart child with no epilogue: that
			// line ending is the close delimiter line's own.
			end := ps.at
			c := ps.stack[k+1]
			afterClose := c.closed && c.boundary != "" && c.closedAt+1 == ps.at.lfs
			if first := c.p.start; end.raw > first && !afterClose {
				end.raw -= int64(ps.eol)
				end.crlf -= 2
				end.lfs--
			}
			for len(ps.stack) > k+1 {
				ps.endTop(end)
			}
			f.child = false
		}
		if closing || ps.parts >= maxParts {
			f.closed, f.closedAt = true, ps.at.lfs
			return true
		}
		ps.afterLine = func() { ps.startChild(f) }
		return true
	}
	return false
}

// startChild opens the next part of the multipart f, at the current
// position.
func (ps *structParser) startChild(f *frame) {
	ps.parts++
	c := &part{typ: "text", subtype: "plain"}
	if strings.EqualFold(f.p.subtype, "digest") {
		c.typ, c.subtype = "message", "rfc822"
	}
	c.setStart(ps.at)
	f.p.children = append(f.p.children, c)
	f.child = true
	ps.stack = append(ps.stack, &frame{p: c, depth: f.depth + 1, inHeader: true})
}

// endHeader ends the header of fr at the current position (after the
// empty line) and starts reading its body.
func (ps *structParser) endHeader(fr *frame) {
	fr.p.setBodyStart(ps.at)
	ps.derive(fr)
}

// derive sets a part's type and what its body holds from its header, and
// drops the header.
func (ps *structParser) derive(fr *frame) {
	h, _ := parseHeader(fr.hdr)
	fr.inHeader, fr.hdr = false, nil
	p := fr.p
	p.setFields(h, fr.message && !ps.treeOnly)
	if fr.depth >= maxDepth {
		return
	}
	switch {
	case strings.EqualFold(p.typ, "multipart"):
		// RFC 2046 section 5.1.1: the boundary is mandatory. Without
		// one, Dovecot treats the body as a leaf.
		if b := paramValue(p.params, "boundary"); b != "" {
			p.multipart = true
			fr.boundary = b
		}
	case strings.EqualFold(p.typ, "message") && strings.EqualFold(p.subtype, "rfc822"):
		m := &part{typ: "text", subtype: "plain"}
		m.setStart(p.bodyStartPos())
		p.msg = m
		ps.stack = append(ps.stack, &frame{p: m, depth: fr.depth + 1, message: true, inHeader: true})
	}
}

// endTop ends the innermost open part at end.
func (ps *structParser) endTop(end pos) {
	fr := ps.stack[len(ps.stack)-1]
	p := fr.p
	if fr.inHeader {
		// A header without an empty line runs to the end of the part.
		p.setBodyStart(end)
		ps.derive(fr) // may push the embedded message of a message/rfc822
		if ps.stack[len(ps.stack)-1] != fr {
			ps.endTop(end)
		}
	}
	ps.stack = ps.stack[:len(ps.stack)-1]
	// The empty line that ends a header may be the line ending of a
	// delimiter (a header, then at once the next part): the body is empty.
	if p.start > end.raw {
		p.setStart(end)
	}
	if p.bodyStart > end.raw {
		p.setBodyStart(end)
	}
	p.end, p.endC = end.raw, end.crlf
	p.lines = end.lfs - p.bodyStartLFs
}

// addHeader keeps a header line when it belongs to a field the structure
// or envelope uses (with contentOnly, the structure).
func (fr *frame) addHeader(frag []byte, atStart, contentOnly bool) {
	if atStart && frag[0] != ' ' && frag[0] != '\t' {
		fr.keep = false
		if c := bytes.IndexByte(frag, ':'); c > 0 {
			fr.keep = keptField(bytes.TrimRight(frag[:c], " \t"), contentOnly)
		}
	}
	if fr.keep && len(fr.hdr)+len(frag) <= maxKeptHeader {
		fr.hdr = append(fr.hdr, frag...)
	}
}

// envelopeFields are the header fields buildEnvelope reads.
var envelopeFields = []string{"date", "subject", "from", "sender", "reply-to", "to", "cc", "bcc", "in-reply-to", "message-id"}

// keptField reports whether the structure parse keeps a header field: the
// Content-* fields and, unless contentOnly, those of the ENVELOPE.
func keptField(name []byte, contentOnly bool) bool {
	if len(name) >= 8 && strings.EqualFold(string(name[:8]), "content-") {
		return true
	}
	if contentOnly {
		return false
	}
	for _, f := range envelopeFields {
		if len(name) == len(f) && strings.EqualFold(string(name), f) {
			return true
		}
	}
	return false
}
