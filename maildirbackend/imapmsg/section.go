package imapmsg

import (
	"io"
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

// Section reads a message from r and returns the bytes of a BODY[...]
// section in CRLF form, with item.Partial applied. It supports [], HEADER,
// TEXT, HEADER.FIELDS, HEADER.FIELDS.NOT, part numbers, MIME, and
// HEADER/TEXT of message/rfc822 parts. A section that does not exist is
// empty, not an error: Dovecot (src/lib-imap-storage/imap-msgpart.c, "MIME
// part not found. return an empty part.") does the same.
func Section(r io.Reader, item *imap.FetchItemBodySection) ([]byte, error) {
	b, err := readAll(r)
	if err != nil {
		return nil, err
	}
	return SectionBytes(b, item), nil
}

// SectionBytes is [Section] for a message already in memory. The result
// never aliases b.
func SectionBytes(b []byte, item *imap.FetchItemBodySection) []byte {
	root := parseMessage(b, 0, len(b), "text", "plain", 0)
	var out []byte
	p := root
	if len(item.Part) > 0 {
		p = findPart(root, item.Part)
	}
	if p == nil {
		return applyPartial([]byte{}, item.Partial)
	}
	switch item.Specifier {
	case imap.PartSpecifierMIME:
		if len(item.Part) > 0 {
			out = appendCRLF(out, b[p.start:p.bodyStart])
		}
	case imap.PartSpecifierHeader, imap.PartSpecifierText:
		m := p
		if len(item.Part) > 0 {
			m = p.msg
		}
		if m == nil {
			break
		}
		switch {
		case item.Specifier == imap.PartSpecifierText:
			out = appendCRLF(out, b[m.bodyStart:m.end])
		case len(item.HeaderFields) > 0:
			out = appendFields(out, m.header, item.HeaderFields, true)
		case len(item.HeaderFieldsNot) > 0:
			out = appendFields(out, m.header, item.HeaderFieldsNot, false)
		default:
			out = appendCRLF(out, b[m.start:m.bodyStart])
		}
	default:
		if len(item.Part) == 0 {
			out = appendCRLF(out, b)
		} else {
			out = appendCRLF(out, b[p.bodyStart:p.end])
		}
	}
	if out == nil {
		out = []byte{}
	}
	return applyPartial(out, item.Partial)
}

// appendFields appends the fields of h whose names are (include) or are not
// (!include) in names, in message order, followed by the empty line.
func appendFields(out []byte, h header, names []string, include bool) []byte {
	for _, f := range h {
		match := false
		for _, n := range names {
			if strings.EqualFold(f.name, n) {
				match = true
				break
			}
		}
		if match == include {
			out = appendCRLF(out, f.raw)
			if n := len(f.raw); n == 0 || f.raw[n-1] != '\n' {
				out = append(out, '\r', '\n')
			}
		}
	}
	return append(out, '\r', '\n')
}

// findPart resolves an IMAP part number (RFC 3501 section 6.4.5). Part 1 of
// a non-multipart message or message/rfc822 body is that body itself; the
// parts of a message/rfc822 part are those of the embedded message. It
// returns nil if the part does not exist.
func findPart(root *part, path []int) *part {
	cur := root
	top := true // cur is the top part of a message: its 1 is its body
	for i, n := range path {
		if i > 0 && cur.msg != nil {
			cur, top = cur.msg, true
		}
		switch {
		case cur.multipart:
			if n < 1 || n > len(cur.children) {
				return nil
			}
			cur, top = cur.children[n-1], false
		case n == 1 && top:
			top = false
		default:
			return nil // 1.1 of a single-part message does not exist
		}
	}
	return cur
}

func applyPartial(b []byte, partial *imap.SectionPartial) []byte {
	if partial == nil {
		return b
	}
	if partial.Offset >= int64(len(b)) || partial.Offset < 0 {
		return b[:0]
	}
	b = b[partial.Offset:]
	if partial.Size >= 0 && partial.Size < int64(len(b)) {
		b = b[:partial.Size]
	}
	return b
}

// Binary reads a message from r and returns a BINARY[...] section (RFC
// 3516): the body of the part with its Content-Transfer-Encoding (base64,
// quoted-printable) undone, with item.Partial applied. 7bit, 8bit and binary
// parts, the whole message and multipart or message/rfc822 parts are
// returned in CRLF form. An unknown encoding yields [ErrUnknownCTE]; a part
// that does not exist yields an empty result.
func Binary(r io.Reader, item *imap.FetchItemBinarySection) ([]byte, error) {
	b, err := readAll(r)
	if err != nil {
		return nil, err
	}
	out, err := binaryBytes(b, item.Part)
	if err != nil {
		return nil, err
	}
	return applyPartial(out, item.Partial), nil
}

// BinarySize returns the size of BINARY[part] (FETCH BINARY.SIZE).
func BinarySize(r io.Reader, part []int) (int64, error) {
	b, err := readAll(r)
	if err != nil {
		return 0, err
	}
	out, err := binaryBytes(b, part)
	return int64(len(out)), err
}

func binaryBytes(b []byte, path []int) ([]byte, error) {
	root := parseMessage(b, 0, len(b), "text", "plain", 0)
	if len(path) == 0 {
		return decodeParts(b, 0, len(b), root), nil
	}
	p := findPart(root, path)
	if p == nil {
		return []byte{}, nil
	}
	if p.multipart {
		return decodeParts(b, p.bodyStart, p.end, p), nil
	}
	if p.msg != nil {
		return decodeParts(b, p.bodyStart, p.end, p.msg), nil
	}
	return decodeCTE(p.encoding, b[p.bodyStart:p.end])
}

// decodeParts returns b[start:end], which holds part p, in CRLF form with
// every base64 or quoted-printable leaf part under p decoded and labelled
// "Content-Transfer-Encoding: binary", as Dovecot answers BINARY[] of a
// whole message or of a multipart part (RFC 3516 section 4).
func decodeParts(b []byte, start, end int, p *part) []byte {
	var leaves []*part
	collectEncodedParts(p, &leaves)
	out := make([]byte, 0, end-start+end/8)
	last := start
	for _, l := range leaves {
		f := cteField(l)
		if f == nil || l.start+f.off < start || l.end > end {
			continue
		}
		decoded, err := decodeCTE(l.encoding, b[l.bodyStart:l.end])
		if err != nil {
			continue
		}
		fieldStart := l.start + f.off
		out = appendCRLF(out, b[last:fieldStart])
		out = append(out, "Content-Transfer-Encoding: binary\r\n"...)
		out = appendCRLF(out, b[fieldStart+len(f.raw):l.bodyStart])
		out = append(out, decoded...)
		last = l.end
	}
	return appendCRLF(out, b[last:end])
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
		if e := strings.ToLower(p.encoding); e == "base64" || e == "quoted-printable" {
			*leaves = append(*leaves, p)
		}
	}
}

// decodeCTE undoes a Content-Transfer-Encoding. Identity encodings return
// the CRLF form.
func decodeCTE(encoding string, body []byte) ([]byte, error) {
	switch strings.ToLower(encoding) {
	case "", "7bit", "8bit", "binary":
		return appendCRLF(make([]byte, 0, len(body)), body), nil
	case "base64":
		return decodeBase64(body), nil
	case "quoted-printable":
		return decodeQP(body), nil
	default:
		return nil, ErrUnknownCTE
	}
}
