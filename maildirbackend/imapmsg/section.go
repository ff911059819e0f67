package imapmsg

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/emersion/go-imap/v2"
)

// ErrUnknownCTE is returned by [Binary] and [BinarySize] for a part whose
// Content-Transfer-Encoding cannot be decoded (RFC 3516 section 4.3: the
// server answers NO [UNKNOWN-CTE]).
var ErrUnknownCTE = &imap.Error{
	Type: imap.StatusResponseTypeNo,
	Code: imap.ResponseCodeUnknownCTE,
	Text: "Unknown Content-Transfer-Encoding",
}

// source is a section's content: a region of the file in CRLF form, or
// what write produces.
type source struct {
	from, to, fromC, toC int64                 // the region, when write is nil
	write                func(io.Writer) error // nil: the region
}

var emptySource = source{}

func region(from, to, fromC, toC int64) source {
	return source{from: from, to: to, fromC: fromC, toC: toC}
}

// WriteBodySection writes a BODY[...] section of the message read from src
// (the file p was parsed from) in CRLF form, with item.Partial applied:
// it calls open with the section's size and writes exactly that many bytes
// to the writer open returns. It reads the file in 64 KiB blocks, only the
// parts the section needs, and a partial section from the checkpoint
// before its offset; HEADER.FIELDS sections are read twice (size, then
// content). It supports [], HEADER, TEXT, HEADER.FIELDS,
// HEADER.FIELDS.NOT, part numbers, MIME, and HEADER/TEXT of
// message/rfc822 parts. A section that does not exist is empty, not an
// error: Dovecot (src/lib-imap-storage/imap-msgpart.c, "MIME part not
// found. return an empty part.") does the same.
func (p *Parsed) WriteBodySection(src io.ReaderAt, item *imap.FetchItemBodySection, open func(size int64) io.Writer) error {
	return p.writeSource(src, p.bodySection(src, item), item.Partial, open)
}

func (p *Parsed) bodySection(src io.ReaderAt, item *imap.FetchItemBodySection) source {
	root := p.root
	pt := root
	if len(item.Part) > 0 {
		pt = findPart(root, item.Part)
	}
	if pt == nil {
		return emptySource
	}
	switch item.Specifier {
	case imap.PartSpecifierMIME:
		if len(item.Part) > 0 {
			return region(pt.start, pt.bodyStart, pt.startC, pt.bodyStartC)
		}
		return emptySource
	case imap.PartSpecifierHeader, imap.PartSpecifierText:
		m := pt
		if len(item.Part) > 0 {
			m = pt.msg
		}
		switch {
		case m == nil:
			return emptySource
		case item.Specifier == imap.PartSpecifierText:
			return region(m.bodyStart, m.end, m.bodyStartC, m.endC)
		case len(item.HeaderFields) > 0:
			return fieldsSource(src, m, item.HeaderFields, true)
		case len(item.HeaderFieldsNot) > 0:
			return fieldsSource(src, m, item.HeaderFieldsNot, false)
		}
		return region(m.start, m.bodyStart, m.startC, m.bodyStartC)
	}
	if len(item.Part) == 0 {
		return region(0, root.end, 0, root.endC)
	}
	return region(pt.bodyStart, pt.end, pt.bodyStartC, pt.endC)
}

// writeSource writes s with partial applied to the writer open returns.
func (p *Parsed) writeSource(src io.ReaderAt, s source, partial *imap.SectionPartial, open func(int64) io.Writer) error {
	size := s.toC - s.fromC
	if s.write != nil {
		c := &counter{}
		if err := s.write(c); err != nil {
			return err
		}
		size = c.n
	}
	off, n := partialRange(size, partial)
	w := open(n)
	if n == 0 {
		return nil
	}
	wd := &window{w: w, skip: off, left: n}
	var err error
	if s.write != nil {
		err = s.write(wd)
	} else {
		from, skip := p.seek(s, off)
		wd.skip = skip
		err = copyRegion(&crlfWriter{w: wd}, src, from, s.to)
	}
	if err == errWindowFull {
		err = nil
	}
	if perr := wd.pad(); err == nil {
		err = perr // a read error still completes the literal
	}
	return err
}

// seek returns where in the file to start reading region s to output its
// CRLF bytes from off on, and how many output bytes to skip from there.
func (p *Parsed) seek(s source, off int64) (from, skip int64) {
	target := s.fromC + off
	i := sort.Search(len(p.checkpoints), func(i int) bool { return p.checkpoints[i].crlf > target })
	if i > 0 {
		if cp := p.checkpoints[i-1]; cp.raw > s.from && cp.raw <= s.to {
			return cp.raw, target - cp.crlf
		}
	}
	return s.from, off
}

// partialRange applies a <offset.size> to a section of size bytes.
func partialRange(size int64, partial *imap.SectionPartial) (off, n int64) {
	if partial == nil {
		return 0, size
	}
	if partial.Offset >= size || partial.Offset < 0 {
		return 0, 0
	}
	n = size - partial.Offset
	if partial.Size >= 0 && partial.Size < n {
		n = partial.Size
	}
	return partial.Offset, n
}

// fieldsSource is HEADER.FIELDS (include) or HEADER.FIELDS.NOT of message
// m: its fields whose names are (or are not) in names, in message order,
// then the empty line. Lines without a colon (and their continuations)
// are dropped, as parseHeader does.
func fieldsSource(src io.ReaderAt, m *part, names []string, include bool) source {
	return source{write: func(w io.Writer) error {
		cw := &crlfWriter{w: w}
		br := getReader(io.NewSectionReader(src, m.start, m.bodyStart-m.start))
		defer putReader(br)
		ended, err := scanFields(br, func(name string) bool { return nameIn(name, names) == include }, func(frag []byte) error {
			_, err := cw.Write(frag)
			return err
		})
		if err != nil {
			return err
		}
		tail := "\r\n"
		if !ended {
			tail = "\r\n\r\n"
		}
		_, err = io.WriteString(w, tail)
		return err
	}}
}

// scanFields reads a header from br up to its empty line and hands emit,
// in order, the lines (continuations included, line endings as written)
// of the fields whose names want accepts; lines without a colon and their
// continuations are dropped. ended reports whether the last line handed
// out was complete. An error of emit ends the scan and is returned.
func scanFields(br *bufio.Reader, want func(name string) bool, emit func(frag []byte) error) (ended bool, err error) {
	atStart, on := true, false
	ended = true
	for {
		frag, rerr := br.ReadSlice('\n')
		if len(frag) > 0 {
			complete := frag[len(frag)-1] == '\n'
			if atStart && complete && isBlankLine(frag) {
				return ended, nil
			}
			if atStart && frag[0] != ' ' && frag[0] != '\t' {
				on = false
				if c := bytes.IndexByte(frag, ':'); c > 0 {
					on = want(string(bytes.TrimRight(frag[:c], " \t")))
				}
			}
			if on {
				if err := emit(frag); err != nil {
					return ended, err
				}
				ended = complete
			}
			atStart = complete
		}
		if rerr == io.EOF {
			return ended, nil
		}
		if rerr != nil && rerr != bufio.ErrBufferFull {
			return ended, rerr
		}
	}
}

func nameIn(name string, names []string) bool {
	for _, n := range names {
		if strings.EqualFold(name, n) {
			return true
		}
	}
	return false
}

// findPart resolves an IMAP part number (RFC 3501 section 6.4.5). Part 1 of
// a non-multipart message or message/rfc822 body is that body itself; the
// parts of a message/rfc822 part are those of the embedded message. It
// returns nil if the part does not exist.
//
// Dovecot 2.3's answers are the reference for paths that go on below a
// leaf: a leaf part has one part 1, itself, and no deeper one. BODY[1] of
// a single-part message is its body and BODY[1.1] is empty; BODY[1.1] of
// a message whose part 1 is text/plain is that text, BODY[1.1.1] empty.
func findPart(root *part, path []int) *part {
	cur := root
	self := false // cur is a leaf whose part 1 (itself) was taken
	for i, n := range path {
		if i > 0 && cur.msg != nil {
			cur, self = cur.msg, false
		}
		switch {
		case cur.multipart:
			if n < 1 || n > len(cur.children) {
				return nil
			}
			cur = cur.children[n-1]
		case n != 1 || self:
			return nil
		default:
			self = true
		}
	}
	return cur
}

// WriteBinarySection writes a BINARY[...] section (RFC 3516) of the
// message read from src, as [Parsed.WriteBodySection] does: the body of
// the part with its Content-Transfer-Encoding (base64, quoted-printable)
// undone, streaming, with item.Partial applied. 7bit, 8bit and binary
// parts, the whole message and multipart or message/rfc822 parts are in
// CRLF form. An unknown encoding yields [ErrUnknownCTE] before open is
// called; a part that does not exist is empty.
func (p *Parsed) WriteBinarySection(src io.ReaderAt, item *imap.FetchItemBinarySection, open func(size int64) io.Writer) error {
	s, err := p.binarySource(src, item.Part)
	if err != nil {
		return err
	}
	return p.writeSource(src, s, item.Partial, open)
}

// BinarySize returns the size of BINARY[part] (FETCH BINARY.SIZE), reading
// the part once when its encoding is not an identity.
func (p *Parsed) BinarySize(src io.ReaderAt, part []int) (int64, error) {
	s, err := p.binarySource(src, part)
	if err != nil || s.write == nil {
		return s.toC - s.fromC, err
	}
	c := &counter{}
	err = s.write(c)
	return c.n, err
}

// CheckBinary returns [ErrUnknownCTE] when BINARY[part] cannot be
// decoded, so that a server can answer NO before writing a response.
func (p *Parsed) CheckBinary(part []int) error {
	_, err := p.binarySource(nil, part)
	return err
}

func (p *Parsed) binarySource(src io.ReaderAt, path []int) (source, error) {
	if len(path) == 0 {
		return decodedPartsSource(src, p.root, region(0, p.root.end, 0, p.root.endC)), nil
	}
	pt := findPart(p.root, path)
	if pt == nil {
		return emptySource, nil
	}
	body := region(pt.bodyStart, pt.end, pt.bodyStartC, pt.endC)
	if pt.multipart {
		return decodedPartsSource(src, pt, body), nil
	}
	if pt.msg != nil {
		return decodedPartsSource(src, pt.msg, body), nil
	}
	if d := newDecoder(pt.encoding, io.Discard); d == nil {
		return emptySource, ErrUnknownCTE
	} else if _, identity := d.(*identityWriter); identity {
		return body, nil
	}
	return source{write: func(w io.Writer) error {
		d := newDecoder(pt.encoding, w)
		if err := copyRegion(d, src, pt.bodyStart, pt.end); err != nil {
			return err
		}
		return d.Flush()
	}}, nil
}

// maxDecodedHeader bounds the header block of a part that BINARY[] of a
// whole message reads to relabel it; a larger one is left encoded.
const maxDecodedHeader = 1 << 20

// decodedPartsSource is BINARY[] of a message or of a multipart part (RFC
// 3516 section 4), as Dovecot answers it: the region r, which holds part
// p, in CRLF form with every base64 or quoted-printable leaf part under p
// decoded and labelled "Content-Transfer-Encoding: binary". A region with
// no such part is r itself.
func decodedPartsSource(src io.ReaderAt, p *part, r source) source {
	var leaves []*part
	collectEncodedParts(p, &leaves)
	if len(leaves) == 0 {
		return r
	}
	return source{write: func(w io.Writer) error {
		last := r.from
		for _, l := range leaves {
			if l.bodyStart-l.start > maxDecodedHeader || l.start < r.from || l.end > r.to {
				continue
			}
			hdr := make([]byte, l.bodyStart-l.start)
			if _, err := src.ReadAt(hdr, l.start); err != nil {
				return fmt.Errorf("imapmsg: reading message: %w", err)
			}
			f := cteField(hdr)
			if f == nil {
				continue
			}
			fieldStart := l.start + int64(f.off)
			if err := copyRegion(&crlfWriter{w: w}, src, last, fieldStart); err != nil {
				return err
			}
			if _, err := io.WriteString(w, "Content-Transfer-Encoding: binary\r\n"); err != nil {
				return err
			}
			if err := copyRegion(&crlfWriter{w: w}, src, fieldStart+int64(len(f.raw)), l.bodyStart); err != nil {
				return err
			}
			d := newDecoder(l.encoding, w)
			if err := copyRegion(d, src, l.bodyStart, l.end); err != nil {
				return err
			}
			if err := d.Flush(); err != nil {
				return err
			}
			last = l.end
		}
		return copyRegion(&crlfWriter{w: w}, src, last, r.to)
	}}
}

// collectEncodedParts appends, in message order, the leaf parts under p
// whose Content-Transfer-Encoding is base64 or quoted-printable.
func collectEncodedParts(p *part, leaves *[]*part) {
	switch {
	case p.multipart:
		for _, c := range p.children {
			collectEncodedParts(c, leaves)
		}
	case p.msg != nil:
		collectEncodedParts(p.msg, leaves)
	default:
		if e := lowerASCII(p.encoding); e == "base64" || e == "quoted-printable" {
			*leaves = append(*leaves, p)
		}
	}
}
