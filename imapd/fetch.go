package imapd

import (
	"strings"

	"github.com/emersion/go-imap/v2"
)

// FETCH and UID FETCH (RFC 9051 section 6.4.5), with BINARY (RFC 3516).

func init() {
	register(selected, handleFetch, "FETCH", "UID FETCH")
}

// fetchArgs is a parsed FETCH command: what to ask the session, and how the
// FetchWriter must name what it writes.
type fetchArgs struct {
	set  imap.NumSet
	opts imap.FetchOptions
	// obsolete, body and bodyStructure are the FetchWriter's fields of
	// the same names.
	obsolete            map[*imap.FetchItemBodySection]string
	body, bodyStructure bool
	// changedSince and vanished are the CHANGEDSINCE and VANISHED
	// modifiers (RFC 7162; condstore.go).
	changedSince *uint64
	vanished     bool
}

func handleFetch(c *Conn, cmd *command) error {
	a, err := cmd.p.fetchArgs(cmd.kind)
	if err != nil {
		return err
	}
	if err := c.prepareFetch(a, cmd.kind); err != nil {
		return err
	}
	w := &FetchWriter{c: c, obsolete: a.obsolete, body: a.body, bodyStructure: a.bodyStructure}
	return c.session.Fetch(w, a.set, &a.opts)
}

// fetchAttList reads "(" fetch-att *(SP fetch-att) ")" into a: a macro
// is not allowed inside, nor an empty list.
func (p *parser) fetchAttList(a *fetchArgs) error {
	n := 0
	err := p.list(func() error {
		n++
		name, err := p.fetchAttName()
		if err != nil {
			return err
		}
		switch name {
		case "ALL", "FAST", "FULL":
			return syntaxf("FETCH macro %s inside a list", name)
		}
		return p.fetchAtt(a, name)
	})
	if err == nil && n == 0 {
		err = syntaxf("empty FETCH list")
	}
	return err
}

// fetchArgs reads SP sequence-set SP (macro / att / "(" att *(SP att) ")")
// CRLF. The UID form always returns the UID.
func (p *parser) fetchArgs(kind NumKind) (*fetchArgs, error) {
	a := &fetchArgs{obsolete: map[*imap.FetchItemBodySection]string{}}
	if err := p.sp(); err != nil {
		return nil, err
	}
	set, err := p.numSet(kind)
	if err != nil {
		return nil, err
	}
	a.set = set
	if err := p.sp(); err != nil {
		return nil, err
	}
	b, err := p.peek()
	if err != nil {
		return nil, err
	}
	if b == '(' {
		err = p.fetchAttList(a)
	} else {
		err = p.fetchMacroOrAtt(a)
	}
	if err != nil {
		return nil, err
	}
	if err := p.fetchModifiers(a); err != nil {
		return nil, err
	}
	if err := p.crlf(); err != nil {
		return nil, err
	}
	if kind == NumKindUID {
		a.opts.UID = true
	}
	return a, nil
}

// fetchMacroOrAtt reads a single fetch attribute or one of the macros ALL,
// FAST and FULL (RFC 9051 section 6.4.5).
func (p *parser) fetchMacroOrAtt(a *fetchArgs) error {
	name, err := p.fetchAttName()
	if err != nil {
		return err
	}
	o := &a.opts
	switch name {
	case "ALL":
		o.Flags, o.InternalDate, o.RFC822Size, o.Envelope = true, true, true, true
	case "FAST":
		o.Flags, o.InternalDate, o.RFC822Size = true, true, true
	case "FULL":
		o.Flags, o.InternalDate, o.RFC822Size, o.Envelope = true, true, true, true
		a.wantBodyStructure(false)
	default:
		return p.fetchAtt(a, name)
	}
	return nil
}

// fetchAttName reads the name of a fetch attribute, up to a '[' if any,
// in upper case.
func (p *parser) fetchAttName() (string, error) {
	name, err := p.run(func(b byte) bool { return isAtomChar(b) && b != '[' }, "fetch attribute")
	return strings.ToUpper(name), err
}

// wantBodyStructure records BODY (extended false) or BODYSTRUCTURE. The
// session is asked for the extended structure when either asks for it;
// the writer writes each item that was asked for.
func (a *fetchArgs) wantBodyStructure(extended bool) {
	if a.opts.BodyStructure == nil || extended {
		a.opts.BodyStructure = &imap.FetchItemBodyStructure{Extended: extended}
	}
	if extended {
		a.bodyStructure = true
	} else {
		a.body = true
	}
}

// fetchAtt reads what follows the fetch attribute name (a section, a
// partial) and records the attribute.
func (p *parser) fetchAtt(a *fetchArgs, name string) error {
	o := &a.opts
	switch name {
	case "ENVELOPE":
		o.Envelope = true
	case "FLAGS":
		o.Flags = true
	case "INTERNALDATE":
		o.InternalDate = true
	case "RFC822.SIZE":
		o.RFC822Size = true
	case "UID":
		o.UID = true
	case "MODSEQ":
		o.ModSeq = true
	case "BODYSTRUCTURE":
		a.wantBodyStructure(true)
	case "RFC822", "RFC822.PEEK", "RFC822.HEADER", "RFC822.TEXT":
		a.obsoleteSection(name)
	case "BODY", "BODY.PEEK":
		if b, err := p.peek(); err != nil {
			return err
		} else if b != '[' && name == "BODY" {
			a.wantBodyStructure(false)
			return nil
		}
		s := &imap.FetchItemBodySection{Peek: name == "BODY.PEEK"}
		if err := p.bodySection(s); err != nil {
			return err
		}
		partial, err := p.partial()
		if err != nil {
			return err
		}
		s.Partial = partial
		o.BodySection = append(o.BodySection, s)
	case "BINARY", "BINARY.PEEK":
		part, err := p.binarySection()
		if err != nil {
			return err
		}
		partial, err := p.partial()
		if err != nil {
			return err
		}
		o.BinarySection = append(o.BinarySection, &imap.FetchItemBinarySection{Part: part, Partial: partial, Peek: name == "BINARY.PEEK"})
	case "BINARY.SIZE":
		part, err := p.binarySection()
		if err != nil {
			return err
		}
		o.BinarySectionSize = append(o.BinarySectionSize, &imap.FetchItemBinarySectionSize{Part: part})
	default:
		return syntaxf("unknown FETCH attribute %s", name)
	}
	return nil
}

// obsoleteSection records RFC822 (BODY[]), RFC822.PEEK (BODY.PEEK[]),
// RFC822.HEADER (BODY.PEEK[HEADER]) or RFC822.TEXT (BODY[TEXT]); the
// response names the item as the client did.
func (a *fetchArgs) obsoleteSection(name string) {
	s := &imap.FetchItemBodySection{}
	switch name {
	case "RFC822.PEEK":
		s.Peek = true
	case "RFC822.HEADER":
		s.Specifier, s.Peek = imap.PartSpecifierHeader, true
	case "RFC822.TEXT":
		s.Specifier = imap.PartSpecifierText
	}
	a.obsolete[s] = name
	a.opts.BodySection = append(a.opts.BodySection, s)
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// bodySection reads section = "[" [section-spec] "]".
func (p *parser) bodySection(s *imap.FetchItemBodySection) error {
	if err := p.expect('[', "'['"); err != nil {
		return err
	}
	b, err := p.peek()
	if err != nil {
		return err
	}
	if b == ']' {
		p.readByte()
		return nil
	}
	needText := true
	if isDigit(b) {
		s.Part, needText, err = p.sectionPart()
		if err != nil {
			return err
		}
	}
	if needText {
		if err := p.sectionText(s); err != nil {
			return err
		}
	}
	return p.expect(']', "']'")
}

// sectionPart reads section-part = nz-number *("." nz-number) and, when a
// "." follows that is not followed by a number, that dot too: then more
// reports that a section-text must follow.
func (p *parser) sectionPart() (part []int, more bool, err error) {
	for {
		n, err := p.number()
		if err != nil {
			return nil, false, err
		}
		if n == 0 {
			return nil, false, syntaxf("section part 0")
		}
		part = append(part, int(n))
		if b, err := p.peek(); err != nil || b != '.' {
			return part, false, err
		}
		p.readByte()
		b, err := p.peek()
		if err != nil {
			return nil, false, err
		}
		if !isDigit(b) {
			return part, true, nil
		}
	}
}

// sectionText reads HEADER, HEADER.FIELDS[.NOT] SP header-list, TEXT, or
// MIME (only after a part number).
func (p *parser) sectionText(s *imap.FetchItemBodySection) error {
	spec, err := p.atom()
	if err != nil {
		return err
	}
	switch spec = strings.ToUpper(spec); spec {
	case "HEADER":
		s.Specifier = imap.PartSpecifierHeader
	case "TEXT":
		s.Specifier = imap.PartSpecifierText
	case "MIME":
		if len(s.Part) == 0 {
			return syntaxf("MIME needs a section part")
		}
		s.Specifier = imap.PartSpecifierMIME
	case "HEADER.FIELDS", "HEADER.FIELDS.NOT":
		if err := p.sp(); err != nil {
			return err
		}
		var fields []string
		if err := p.list(func() error {
			f, err := p.astring()
			fields = append(fields, f)
			return err
		}); err != nil {
			return err
		}
		if len(fields) == 0 {
			return syntaxf("empty header list")
		}
		s.Specifier = imap.PartSpecifierHeader
		if spec == "HEADER.FIELDS" {
			s.HeaderFields = fields
		} else {
			s.HeaderFieldsNot = fields
		}
	default:
		return syntaxf("unknown section %s", spec)
	}
	return nil
}

// binarySection reads section-binary = "[" [section-part] "]".
func (p *parser) binarySection() ([]int, error) {
	if err := p.expect('[', "'['"); err != nil {
		return nil, err
	}
	var part []int
	if b, err := p.peek(); err != nil {
		return nil, err
	} else if b != ']' {
		var more bool
		if part, more, err = p.sectionPart(); err != nil {
			return nil, err
		}
		if more {
			return nil, syntaxf("BINARY takes only a section part")
		}
	}
	return part, p.expect(']', "']'")
}

// partial reads an optional "<" number "." number ">".
func (p *parser) partial() (*imap.SectionPartial, error) {
	if b, err := p.peek(); err != nil || b != '<' {
		return nil, err
	}
	p.readByte()
	var sp imap.SectionPartial
	var err error
	if sp.Offset, err = p.number64(); err != nil {
		return nil, err
	}
	if err := p.expect('.', "'.'"); err != nil {
		return nil, err
	}
	if sp.Size, err = p.number64(); err != nil {
		return nil, err
	}
	return &sp, p.expect('>', "'>'")
}
