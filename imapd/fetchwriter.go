package imapd

import (
	"errors"
	"io"
	"mime"
	"sort"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
)

const envelopeDateLayout = "Mon, 02 Jan 2006 15:04:05 -0700"

// FetchWriter writes the FETCH responses of a FETCH or STORE command.
type FetchWriter struct {
	c *Conn
	// obsolete maps the sections that stand for RFC822, RFC822.HEADER and
	// RFC822.TEXT to the name the client asked for.
	obsolete map[*imap.FetchItemBodySection]string
	// structure is what the client asked of BODY/BODYSTRUCTURE.
	body, bodyStructure bool
}

// CreateMessage starts the FETCH response of message seqNum. The
// response holds the encoder until Close.
func (w *FetchWriter) CreateMessage(seqNum uint32) *FetchResponseWriter {
	e := &w.c.enc
	e.lock()
	e.raw("* ").num(seqNum).raw(" FETCH (")
	return &FetchResponseWriter{w: w, e: e}
}

// FetchResponseWriter writes one FETCH response. Its methods write one
// item each; Close ends the response.
type FetchResponseWriter struct {
	w       *FetchWriter
	e       *encoder
	hasItem bool
}

func (w *FetchResponseWriter) item(name string) *encoder {
	if w.hasItem {
		w.e.sp()
	}
	w.hasItem = true
	return w.e.raw(name)
}

// WriteUID writes the UID item.
func (w *FetchResponseWriter) WriteUID(uid imap.UID) {
	w.item("UID ").num(uint32(uid))
}

// WriteFlags writes the FLAGS item.
func (w *FetchResponseWriter) WriteFlags(flags []imap.Flag) {
	w.item("FLAGS ").flags(flags)
}

// WriteRFC822Size writes the RFC822.SIZE item.
func (w *FetchResponseWriter) WriteRFC822Size(size int64) {
	w.item("RFC822.SIZE ").num64(size)
}

// WriteInternalDate writes the INTERNALDATE item.
func (w *FetchResponseWriter) WriteInternalDate(t time.Time) {
	w.item("INTERNALDATE ").byte('"').raw(t.Format("_2-Jan-2006 15:04:05 -0700")).byte('"')
}

// WriteBodySection writes a BODY[...] item of size bytes; the data is
// written to the returned writer, which must be closed before the next
// item.
func (w *FetchResponseWriter) WriteBodySection(section *imap.FetchItemBodySection, size int64) io.WriteCloser {
	if name, ok := w.w.obsolete[section]; ok {
		w.item(name)
	} else {
		w.item("")
		writeBodySectionName(w.e, section)
	}
	w.e.sp().byte('{').num64(size).raw("}\r\n")
	return &literalWriter{e: w.e, left: size}
}

func writeBodySectionName(e *encoder, section *imap.FetchItemBodySection) {
	e.raw("BODY[")
	writePart(e, section.Part)
	if section.Specifier != imap.PartSpecifierNone {
		if len(section.Part) > 0 {
			e.byte('.')
		}
		e.raw(string(section.Specifier))
		fields := section.HeaderFields
		if len(fields) > 0 {
			e.raw(".FIELDS")
		} else if len(section.HeaderFieldsNot) > 0 {
			fields = section.HeaderFieldsNot
			e.raw(".FIELDS.NOT")
		}
		if len(fields) > 0 {
			e.raw(" (")
			for i, f := range fields {
				if i > 0 {
					e.sp()
				}
				e.astring(f)
			}
			e.byte(')')
		}
	}
	e.byte(']')
	if section.Partial != nil {
		e.byte('<').num64(section.Partial.Offset).byte('>')
	}
}

func writePart(e *encoder, part []int) {
	for i, n := range part {
		if i > 0 {
			e.byte('.')
		}
		e.num(uint32(n))
	}
}

// WriteBinarySection writes a BINARY[...] item as a literal8 of size bytes.
func (w *FetchResponseWriter) WriteBinarySection(section *imap.FetchItemBinarySection, size int64) io.WriteCloser {
	w.item("BINARY[")
	writePart(w.e, section.Part)
	w.e.byte(']')
	if section.Partial != nil {
		w.e.byte('<').num64(section.Partial.Offset).byte('>')
	}
	w.e.raw(" ~{").num64(size).raw("}\r\n")
	return &literalWriter{e: w.e, left: size}
}

// WriteBinarySectionSize writes a BINARY.SIZE[...] item.
func (w *FetchResponseWriter) WriteBinarySectionSize(section *imap.FetchItemBinarySectionSize, size uint32) {
	w.item("BINARY.SIZE[")
	writePart(w.e, section.Part)
	w.e.raw("] ").num(size)
}

// WriteEnvelope writes the ENVELOPE item.
func (w *FetchResponseWriter) WriteEnvelope(env *imap.Envelope) {
	w.item("ENVELOPE ")
	writeEnvelope(w.e, env)
}

// WriteBodyStructure writes BODY and/or BODYSTRUCTURE, as the client asked.
func (w *FetchResponseWriter) WriteBodyStructure(bs imap.BodyStructure) {
	if w.w.body {
		w.item("BODY ")
		writeBodyStructure(w.e, bs, false)
	}
	if w.w.bodyStructure {
		w.item("BODYSTRUCTURE ")
		writeBodyStructure(w.e, bs, true)
	}
}

// Close ends the response and releases the encoder.
func (w *FetchResponseWriter) Close() error {
	if w.e == nil {
		return errors.New("imapd: FetchResponseWriter closed twice")
	}
	w.e.raw(")").crlf()
	err := w.e.err
	w.e.unlock()
	w.e = nil
	return err
}

// literalWriter writes the data of a literal announced with its size; a
// short write is padded with spaces so that the response stays parseable.
type literalWriter struct {
	e    *encoder
	left int64
}

var errLiteralOverflow = errors.New("imapd: more literal data than announced")

func (lw *literalWriter) Write(b []byte) (int, error) {
	if int64(len(b)) > lw.left {
		return 0, errLiteralOverflow
	}
	n, err := lw.e.bw.Write(b)
	lw.left -= int64(n)
	if err != nil && lw.e.err == nil {
		lw.e.err = err
	}
	return n, err
}

func (lw *literalWriter) Close() error {
	for lw.left > 0 {
		lw.e.byte(' ')
		lw.left--
	}
	return lw.e.err
}

func writeEnvelope(e *encoder, env *imap.Envelope) {
	if env == nil {
		env = new(imap.Envelope)
	}
	sender, replyTo := env.Sender, env.ReplyTo
	if sender == nil {
		sender = env.From
	}
	if replyTo == nil {
		replyTo = env.From
	}
	e.byte('(')
	if env.Date.IsZero() {
		e.raw("NIL")
	} else {
		e.string(env.Date.Format(envelopeDateLayout))
	}
	e.sp().nstring(encodeHeaderText(env.Subject))
	for _, l := range [][]imap.Address{env.From, sender, replyTo, env.To, env.Cc, env.Bcc} {
		e.sp()
		writeAddressList(e, l)
	}
	e.sp()
	if len(env.InReplyTo) > 0 {
		e.string("<" + strings.Join(env.InReplyTo, "> <") + ">")
	} else {
		e.raw("NIL")
	}
	e.sp()
	if env.MessageID != "" {
		e.string("<" + env.MessageID + ">")
	} else {
		e.raw("NIL")
	}
	e.byte(')')
}

// encodeHeaderText turns decoded header text back into 7-bit, as an
// ENVELOPE carries it.
func encodeHeaderText(s string) string {
	return mime.QEncoding.Encode("utf-8", s)
}

// writeAddressList writes an address list without spaces between the
// addresses, as RFC 9051's grammar has it ("(" 1*address ")").
func writeAddressList(e *encoder, l []imap.Address) {
	if len(l) == 0 {
		e.raw("NIL")
		return
	}
	e.byte('(')
	for _, a := range l {
		e.byte('(').nstring(encodeHeaderText(a.Name)).raw(" NIL ").nstring(a.Mailbox).sp().nstring(a.Host).byte(')')
	}
	e.byte(')')
}

func writeBodyStructure(e *encoder, bs imap.BodyStructure, extended bool) {
	e.byte('(')
	switch bs := bs.(type) {
	case *imap.BodyStructureSinglePart:
		writeSinglePart(e, bs, extended)
	case *imap.BodyStructureMultiPart:
		writeMultiPart(e, bs, extended)
	}
	e.byte(')')
}

func writeSinglePart(e *encoder, bs *imap.BodyStructureSinglePart, extended bool) {
	e.string(bs.Type).sp().string(bs.Subtype).sp()
	writeParams(e, bs.Params)
	e.sp().nstring(bs.ID).sp().nstring(bs.Description).sp()
	enc := strings.ToLower(bs.Encoding)
	if enc == "" {
		enc = "7bit"
	}
	e.string(enc).sp().num(bs.Size)
	if msg := bs.MessageRFC822; msg != nil {
		e.sp()
		writeEnvelope(e, msg.Envelope)
		e.sp()
		writeBodyStructure(e, msg.BodyStructure, extended)
		e.sp().num64(msg.NumLines)
	} else if bs.Text != nil {
		e.sp().num64(bs.Text.NumLines)
	}
	if !extended || bs.Extended == nil {
		return
	}
	ext := bs.Extended
	e.raw(" NIL ")
	writeDisposition(e, ext.Disposition)
	e.sp()
	writeLanguage(e, ext.Language)
	e.sp().nstring(ext.Location)
}

func writeMultiPart(e *encoder, bs *imap.BodyStructureMultiPart, extended bool) {
	for _, child := range bs.Children {
		writeBodyStructure(e, child, extended)
	}
	e.sp().string(bs.Subtype)
	if !extended || bs.Extended == nil {
		return
	}
	ext := bs.Extended
	e.sp()
	writeParams(e, ext.Params)
	e.sp()
	writeDisposition(e, ext.Disposition)
	e.sp()
	writeLanguage(e, ext.Language)
	e.sp().nstring(ext.Location)
}

func writeParams(e *encoder, params map[string]string) {
	if len(params) == 0 {
		e.raw("NIL")
		return
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	e.byte('(')
	for i, k := range keys {
		if i > 0 {
			e.sp()
		}
		e.string(k).sp().string(params[k])
	}
	e.byte(')')
}

func writeDisposition(e *encoder, d *imap.BodyStructureDisposition) {
	if d == nil {
		e.raw("NIL")
		return
	}
	e.byte('(').string(d.Value).sp()
	writeParams(e, d.Params)
	e.byte(')')
}

func writeLanguage(e *encoder, l []string) {
	if len(l) == 0 {
		e.raw("NIL")
		return
	}
	e.byte('(')
	for i, s := range l {
		if i > 0 {
			e.sp()
		}
		e.string(s)
	}
	e.byte(')')
}
