package imapmsg

import (
	"strings"

	"github.com/emersion/go-imap/v2"
)

// buildBodyStructure returns the BODYSTRUCTURE of p, with Extended always
// set, so it serves both FETCH BODY and FETCH BODYSTRUCTURE.
//
// Compared with Dovecot 2.3 (src/lib-imap/imap-bodystructure.c), what
// go-imap's encoder (imapserver/fetch.go writeBodyType1part) allows:
//   - Parameters are written sorted by name; Dovecot keeps header order.
//   - The encoding is written lower-cased; Dovecot writes it as in the
//     header ("7bit" when absent, as here).
//   - MD5 is always NIL (Dovecot too).
//
// Everything else is as Dovecot writes it: type and subtype as in the header,
// ("charset" "us-ascii") added to text parts without parameters, sizes in
// CRLF octets, lines = LF count of the body, raw Content-ID and
// Content-Description, Content-Disposition, Content-Language and
// Content-Location, and an empty text/plain child for a multipart without
// parts.
func buildBodyStructure(p *part) imap.BodyStructure {
	if p.multipart {
		mp := &imap.BodyStructureMultiPart{
			Subtype: p.subtype,
			Extended: &imap.BodyStructureMultiPartExt{
				Params: paramMap(p.params),
			},
		}
		mp.Extended.Disposition, mp.Extended.Language, mp.Extended.Location = p.disposition, p.language, p.location
		for _, c := range p.children {
			mp.Children = append(mp.Children, buildBodyStructure(c))
		}
		if len(mp.Children) == 0 {
			// Dovecot (imap-bodystructure.c EMPTY_BODYSTRUCTURE); go-imap
			// also panics on a multipart without children.
			mp.Children = []imap.BodyStructure{&imap.BodyStructureSinglePart{
				Type: "text", Subtype: "plain",
				Params:   map[string]string{"charset": "us-ascii"},
				Text:     &imap.BodyStructureText{},
				Extended: &imap.BodyStructureSinglePartExt{},
			}}
		}
		return mp
	}

	sp := &imap.BodyStructureSinglePart{
		Type:     p.typ,
		Subtype:  p.subtype,
		Params:   paramMap(p.params),
		Encoding: p.encoding,
		Size:     clampUint32(p.endC - p.bodyStartC),
		Extended: &imap.BodyStructureSinglePartExt{},
	}
	if len(sp.Params) == 0 && strings.EqualFold(p.typ, "text") {
		sp.Params = map[string]string{"charset": "us-ascii"}
	}
	sp.ID, sp.Description = p.id, p.description
	lines := p.lines
	switch {
	case p.msg != nil:
		sp.MessageRFC822 = &imap.BodyStructureMessageRFC822{
			Envelope:      p.msg.envelope,
			BodyStructure: buildBodyStructure(p.msg),
			NumLines:      lines,
		}
	case strings.EqualFold(p.typ, "text"):
		sp.Text = &imap.BodyStructureText{NumLines: lines}
	}
	sp.Extended.Disposition, sp.Extended.Language, sp.Extended.Location = p.disposition, p.language, p.location
	return sp
}

func extFields(h header) (*imap.BodyStructureDisposition, []string, string) {
	var disp *imap.BodyStructureDisposition
	if v, ok := h.get("Content-Disposition"); ok {
		if value, params := parseDisposition(v); value != "" {
			disp = &imap.BodyStructureDisposition{Value: value, Params: paramMap(params)}
		}
	}
	var lang []string
	if v, ok := h.get("Content-Language"); ok {
		for _, l := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
			lang = append(lang, l)
		}
	}
	loc, _ := h.get("Content-Location")
	return disp, lang, loc
}

func paramMap(params []param) map[string]string {
	if len(params) == 0 {
		return nil
	}
	m := make(map[string]string, len(params))
	for _, p := range params {
		m[p.key] = p.value
	}
	return m
}

func clampUint32(n int64) uint32 {
	if n > 1<<32-1 {
		return 1<<32 - 1
	}
	return uint32(n)
}
