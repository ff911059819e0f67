package imapmsg

import (
	"bufio"
	"bytes"
	"fmt"
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

// maxSearchField bounds what SEARCH matches of one header field: the
// first 2 MiB of its value. A header block may be of any size: its fields
// are read one at a time.
const maxSearchField = 2 << 20

// MatchHeader reports whether the top-level header of the message read from
// r has a field named key (case-insensitive) whose value, unfolded and with
// encoded words decoded, contains value (Unicode case-insensitive). RFC 3501
// section 6.4.4: an empty value matches any message that has the field. It
// reads the header a line at a time and holds one field of that name
// (at most maxSearchField bytes of it), whatever the header's size.
func MatchHeader(r io.Reader, key, value string) (bool, error) {
	needle := fold(value)
	return eachField(r, func(name string) bool { return strings.EqualFold(name, key) }, func(f field) bool {
		return needle == "" || strings.Contains(fold(headerSearchValue(f)), needle)
	})
}

// eachField reads a header block from r and calls fn with each field whose
// name want accepts, until fn returns true (then eachField does).
func eachField(r io.Reader, want func(name string) bool, fn func(field) bool) (bool, error) {
	br := getReader(r)
	defer putReader(br)
	var cur []byte
	colon := -1
	found := false
	flush := func() {
		if colon >= 0 && !found {
			found = fn(field{name: strings.TrimRight(string(cur[:colon]), " \t"), raw: cur, value: cur[colon+1:]})
		}
		cur, colon = cur[:0], -1
	}
	atStart := true
	for !found {
		frag, err := br.ReadSlice('\n')
		if len(frag) > 0 {
			complete := frag[len(frag)-1] == '\n'
			if atStart && complete && isBlankLine(frag) {
				break
			}
			if atStart && frag[0] != ' ' && frag[0] != '\t' {
				flush()
				if c := bytes.IndexByte(frag, ':'); c > 0 && want(strings.TrimRight(string(frag[:c]), " \t")) {
					colon = c
				}
			}
			if colon >= 0 && len(cur)+len(frag) <= maxSearchField+colon+1 {
				cur = append(cur, frag...)
			}
			atStart = complete
		}
		if err == io.EOF {
			break
		}
		if err != nil && err != bufio.ErrBufferFull {
			return false, fmt.Errorf("imapmsg: reading message: %w", err)
		}
	}
	flush()
	return found, nil
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

// MatchBody reports whether the body of the message read from src (the
// file p was parsed from) contains value (SEARCH BODY): text/* parts are
// decoded (transfer encoding, then charset to UTF-8) and compared Unicode
// case-insensitively; the bodies of message/rfc822 parts are searched too.
// Non-text parts are not searched. It streams: a 64 KiB window slides over
// the decoded text.
func (p *Parsed) MatchBody(src io.ReaderAt, value string) (bool, error) {
	return p.match(src, value, false)
}

// MatchText reports whether the header or body of the message read from
// src contains value (SEARCH TEXT): like [Parsed.MatchBody], plus the
// decoded headers of the message and of embedded message/rfc822 parts.
func (p *Parsed) MatchText(src io.ReaderAt, value string) (bool, error) {
	return p.match(src, value, true)
}

func (p *Parsed) match(src io.ReaderAt, value string, headers bool) (bool, error) {
	if headers {
		_, hit, err := p.MatchAll(src, nil, []string{value})
		return hit[0], err
	}
	hit, _, err := p.MatchAll(src, []string{value}, nil)
	return hit[0], err
}

// textReader returns the text of a text part decoded to UTF-8, streaming,
// and a function the caller calls once it is done reading. An unknown
// encoding or charset leaves the bytes as they are.
func textReader(src io.ReaderAt, p *part) (io.Reader, func()) {
	var r io.Reader = io.NewSectionReader(src, p.bodyStart, p.end-p.bodyStart)
	if strings.EqualFold(p.encoding, "base64") || strings.EqualFold(p.encoding, "quoted-printable") {
		pr := &pushReader{src: r}
		pr.dec = newDecoder(p.encoding, &pr.buf)
		r = pr
	}
	cs := strings.ToLower(paramValue(p.params, "charset"))
	switch cs {
	case "", "us-ascii", "utf-8", "utf8":
		return r, func() {}
	}
	if enc := charsetEncoding(cs); enc != nil {
		tr := newTransformReader(r, enc.NewDecoder())
		return tr, func() { putFoldReader(tr) }
	}
	if rd, err := charset.Reader(cs, r); err == nil {
		return rd, func() {}
	}
	return r, func() {}
}

// pushReader reads src through a streaming decoder that writes to buf.
type pushReader struct {
	src io.Reader
	dec flusher
	buf bytes.Buffer
	eof bool
}

func (pr *pushReader) Read(p []byte) (int, error) {
	if pr.buf.Len() == 0 && !pr.eof {
		bp := chunks.Get().(*[]byte)
		defer chunks.Put(bp)
		for pr.buf.Len() == 0 && !pr.eof {
			n, err := pr.src.Read(*bp)
			if n > 0 {
				if _, werr := pr.dec.Write((*bp)[:n]); werr != nil {
					return 0, werr
				}
			}
			if err == io.EOF {
				pr.eof = true
				if ferr := pr.dec.Flush(); ferr != nil {
					return 0, ferr
				}
			} else if err != nil {
				return 0, err
			}
		}
	}
	return pr.buf.Read(p)
}

// MatchSubject answers SEARCH SUBJECT from a message's summary without reading
// the file again: whether the decoded Subject contains value, compared as
// [MatchHeader] does. ok is false when the cached envelope cannot answer:
// an empty value asks whether the field exists, which the envelope does not
// record. Only the first Subject field is kept in the envelope.
func MatchSubject(p *Summary, value string) (match, ok bool) {
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

// DecodeHeaderText decodes the RFC 2047 encoded words of a header text (an
// ENVELOPE's subject or display name, kept encoded as Dovecot sends them),
// for SORT and THREAD, which compare decoded text. Text that does not
// decode is returned as it is.
func DecodeHeaderText(s string) string {
	if !strings.Contains(s, "=?") {
		return s
	}
	d, err := wordDecoder.DecodeHeader(s)
	if err != nil {
		return s
	}
	return d
}

// HeaderField returns the unfolded, undecoded value of the first field
// name (case-insensitive) of the message's top-level header read from r,
// or "" when it has none (THREAD=REFERENCES reads References with it). It
// reads the header a line at a time, as MatchHeader does.
func HeaderField(r io.Reader, name string) (string, error) {
	var value string
	_, err := eachField(r, func(n string) bool { return strings.EqualFold(n, name) }, func(f field) bool {
		value = unfold(f.value)
		return true
	})
	return value, err
}
