package imapmsg

import (
	"bytes"
	"encoding/base64"
	"strings"
)

// base64LineLen is the length of the base64 lines [ConvertBinaryParts]
// writes (RFC 2045 section 6.8: at most 76 characters).
const base64LineLen = 76

// ConvertBinaryParts returns the message b with the body of every leaf MIME
// part whose Content-Transfer-Encoding is "binary" and whose bytes would
// not read back as sent (see storable) encoded in base64, and
// that header field replaced by "Content-Transfer-Encoding: base64". Every
// other byte is kept. It returns b itself when no part is converted.
//
// This is what Dovecot does to a message appended as an RFC 3516 literal8
// (src/imap/cmd-append.c, src/lib-mail/istream-binary-converter.c): a
// binary part cannot be stored in a Maildir file whose line ends every
// reader converts, but its base64 form can, and FETCH BINARY decodes it
// back to the exact bytes appended. Multipart and message/rfc822 parts are
// not converted (RFC 2046 allows them only identity encodings); the parts
// inside them are.
func ConvertBinaryParts(b []byte) []byte {
	var conv []*part
	collectBinaryParts(b, ParseBytes(b).root, &conv)
	if len(conv) == 0 {
		return b
	}
	out := make([]byte, 0, len(b)+len(b)/3+64)
	last := 0
	for _, p := range conv {
		start, bodyStart, end := int(p.start), int(p.bodyStart), int(p.end)
		f := cteField(b[start:bodyStart])
		if f == nil {
			continue
		}
		eol := "\n"
		if bytes.HasSuffix(f.raw, []byte("\r\n")) {
			eol = "\r\n"
		}
		fieldStart := start + f.off
		out = append(out, b[last:fieldStart]...)
		out = append(out, "Content-Transfer-Encoding: base64"...)
		out = append(out, eol...)
		out = append(out, b[fieldStart+len(f.raw):bodyStart]...)
		out = appendBase64Lines(out, b[bodyStart:end], eol)
		last = end
	}
	return append(out, b[last:]...)
}

// collectBinaryParts appends to conv, in message order, the leaf parts
// under p that ConvertBinaryParts encodes.
func collectBinaryParts(b []byte, p *part, conv *[]*part) {
	switch {
	case p.multipart:
		for _, c := range p.children {
			collectBinaryParts(b, c, conv)
		}
	case p.msg != nil:
		collectBinaryParts(b, p.msg, conv)
	case strings.EqualFold(p.encoding, "binary") && p.bodyStart <= p.end &&
		!storable(b[p.bodyStart:p.end]):
		*conv = append(*conv, p)
	}
}

// storable reports whether a part body reads back byte for byte from a
// Maildir file: stored with CRLF turned into LF, and read with every LF
// turned into CRLF. A bare LF would come back as CRLF, and a NUL cannot be
// sent in an IMAP literal (RFC 3501's CHAR8 excludes it; Dovecot turns it
// into 0x80). A binary part without either is stored as it is, as Dovecot
// stores it; one with them is encoded, so that nothing is lost.
func storable(body []byte) bool {
	if bytes.IndexByte(body, 0) >= 0 {
		return false
	}
	for i := bytes.IndexByte(body, '\n'); i >= 0; {
		if i == 0 || body[i-1] != '\r' {
			return false
		}
		j := bytes.IndexByte(body[i+1:], '\n')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return true
}

// cteField returns the first Content-Transfer-Encoding field of a part's
// header block: the one the part's encoding was read from.
func cteField(hdr []byte) *field {
	h, _ := parseHeader(hdr)
	for i := range h {
		if strings.EqualFold(h[i].name, "Content-Transfer-Encoding") {
			return &h[i]
		}
	}
	return nil
}

// appendBase64Lines appends src in base64, in lines of base64LineLen
// characters separated by eol (none after the last line).
func appendBase64Lines(dst, src []byte, eol string) []byte {
	const chunk = base64LineLen / 4 * 3
	for i := 0; i < len(src); i += chunk {
		if i > 0 {
			dst = append(dst, eol...)
		}
		dst = base64.StdEncoding.AppendEncode(dst, src[i:min(i+chunk, len(src))])
	}
	return dst
}
