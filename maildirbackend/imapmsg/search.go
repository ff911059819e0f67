package imapmsg

import (
	"bytes"
	"io"
	"mime"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-message/charset"
	"golang.org/x/text/cases"
)

// wordDecoder decodes RFC 2047 encoded words with go-message's charset
// table (ISO-8859-x, windows-125x, KOI8, GB18030, ...). mime.WordDecoder is
// safe for concurrent use.
var wordDecoder = &mime.WordDecoder{CharsetReader: charset.Reader}

// MatchHeader reports whether the top-level header of the message read from
// r has a field named key (case-insensitive) whose value, unfolded and with
// encoded words decoded, contains value (Unicode case-insensitive). RFC 3501
// section 6.4.4: an empty value matches any message that has the field.
func MatchHeader(r io.Reader, key, value string) (bool, error) {
	b, err := readAll(r)
	if err != nil {
		return false, err
	}
	h, _ := parseHeader(b)
	needle := fold(value)
	for _, f := range h {
		if !strings.EqualFold(f.name, key) {
			continue
		}
		if needle == "" || strings.Contains(fold(headerSearchValue(f)), needle) {
			return true, nil
		}
	}
	return false, nil
}

// headerSearchValue is the text of a header field that SEARCH matches: the
// unfolded value with encoded words decoded, or for an address field, its
// addresses as the ENVELOPE holds them (see [addressSearchText]).
func headerSearchValue(f field) string {
	switch strings.ToLower(f.name) {
	case "from", "to", "cc", "bcc":
		return addressSearchText(parseAddressList(unfold(f.value)))
	}
	return decodeHeader(unfold(f.value))
}

// addressSearchText writes addresses the way Dovecot matches SEARCH FROM,
// TO, CC and BCC (lib-storage/index/index-search.c parses the field with
// message_address_parse, writes it back with message_address_write and
// decodes encoded words): "name <mailbox@host>" or "mailbox@host", groups
// as "group: ...;", comments and quoting gone, display names decoded.
func addressSearchText(addrs []imap.Address) string {
	var sb strings.Builder
	sep := ""
	for _, a := range addrs {
		switch {
		case a.Mailbox != "" && a.Host == "": // group start
			sb.WriteString(sep + a.Mailbox + ":")
			sep = " "
			continue
		case a.Mailbox == "" && a.Host == "": // group end
			sb.WriteString(";")
			sep = ", "
			continue
		}
		sb.WriteString(sep)
		if a.Name != "" {
			sb.WriteString(decodeHeader(a.Name) + " <" + a.Mailbox + "@" + a.Host + ">")
		} else {
			sb.WriteString(a.Mailbox + "@" + a.Host)
		}
		sep = ", "
	}
	return sb.String()
}

// MatchBody reports whether the body of the message read from r contains
// value (SEARCH BODY): text/* parts are decoded (transfer encoding, then
// charset to UTF-8) and compared Unicode case-insensitively; the bodies of
// message/rfc822 parts are searched too. Non-text parts are not searched.
func MatchBody(r io.Reader, value string) (bool, error) {
	return match(r, value, false)
}

// MatchText reports whether the header or body of the message read from r
// contains value (SEARCH TEXT): like [MatchBody], plus the decoded headers
// of the message and of embedded message/rfc822 parts.
func MatchText(r io.Reader, value string) (bool, error) {
	return match(r, value, true)
}

func match(r io.Reader, value string, headers bool) (bool, error) {
	b, err := readAll(r)
	if err != nil {
		return false, err
	}
	needle := fold(value)
	if needle == "" {
		return true, nil
	}
	root := parseMessage(b, 0, len(b), "text", "plain", 0)
	return matchPart(b, root, needle, headers, true), nil
}

func matchPart(b []byte, p *part, needle string, headers, isMessage bool) bool {
	if headers && isMessage {
		for _, f := range p.header {
			if strings.Contains(fold(f.name+": "+decodeHeader(unfold(f.value))), needle) {
				return true
			}
		}
	}
	switch {
	case p.multipart:
		for _, c := range p.children {
			if matchPart(b, c, needle, headers, false) {
				return true
			}
		}
	case p.msg != nil:
		return matchPart(b, p.msg, needle, headers, true)
	case p.isText():
		return strings.Contains(fold(textContent(b[p.bodyStart:p.end], p)), needle)
	}
	return false
}

// textContent decodes a text part to UTF-8. An unknown encoding or charset
// leaves the bytes as they are.
func textContent(body []byte, p *part) string {
	decoded, err := decodeCTE(p.encoding, body)
	if err != nil {
		decoded = body
	}
	cs := strings.ToLower(paramValue(p.params, "charset"))
	switch cs {
	case "", "us-ascii", "utf-8", "utf8":
		return string(decoded)
	}
	rd, err := charset.Reader(cs, bytes.NewReader(decoded))
	if err != nil {
		return string(decoded)
	}
	out, err := io.ReadAll(rd)
	if err != nil {
		return string(decoded)
	}
	return string(out)
}

// MatchSubject answers SEARCH SUBJECT from a parsed message without reading
// the file again: whether the decoded Subject contains value, compared as
// [MatchHeader] does. ok is false when the cached envelope cannot answer:
// an empty value asks whether the field exists, which the envelope does not
// record. Only the first Subject field is kept in the envelope.
func MatchSubject(p *Parsed, value string) (match, ok bool) {
	if value == "" || p == nil || p.Envelope == nil {
		return false, false
	}
	return strings.Contains(fold(decodeHeader(p.Envelope.Subject)), fold(value)), true
}

// decodeHeader decodes RFC 2047 encoded words; on failure the raw value is
// used.
func decodeHeader(v string) string {
	if !strings.Contains(v, "=?") {
		return v
	}
	d, err := wordDecoder.DecodeHeader(v)
	if err != nil {
		return v
	}
	return d
}

// fold returns s case-folded for comparison (Unicode simple+full folding,
// so "STRASSE" matches "straße"). Invalid UTF-8 is kept byte for byte.
func fold(s string) string {
	if !utf8.ValidString(s) {
		return strings.ToLower(s)
	}
	return cases.Fold().String(s)
}
