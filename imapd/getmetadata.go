package imapd

import (
	"fmt"
	"strings"

	"github.com/emersion/go-imap/v2"
)

// GETMETADATA (RFC 5464 section 4.2), with MAXSIZE and DEPTH.

func init() {
	register(authed, handleGetMetadata, "GETMETADATA")
}

// getMetadataArgs is a parsed GETMETADATA.
type getMetadataArgs struct {
	mailbox string
	entries []string
	depth   MetadataDepth
	maxSize int64 // -1: none
}

func handleGetMetadata(c *Conn, cmd *command) error {
	sess, ok := c.session.(SessionMetadata)
	if !ok {
		return &imap.Error{Type: imap.StatusResponseTypeBad, Text: "Unknown command GETMETADATA"}
	}
	args, err := readGetMetadata(cmd.p)
	if err != nil {
		return err
	}
	if c.badName {
		return errBadMUTF7
	}
	found, err := sess.GetMetadata(args.mailbox, args.entries, args.depth)
	if err != nil {
		return err
	}
	longest := writeMetadataResponse(c, args, found)
	if c.enc.err != nil {
		return c.enc.err
	}
	if longest >= 0 {
		cmd.ok = &imap.StatusResponse{Type: imap.StatusResponseTypeOK,
			Code: imap.ResponseCode(fmt.Sprintf("METADATA LONGENTRIES %d", longest)),
			Text: "GETMETADATA completed"}
	}
	return nil
}

// readGetMetadata reads
// [SP "(" option *(SP option) ")"] SP mailbox SP (entry / "(" entry *(SP entry) ")") CRLF.
func readGetMetadata(p *parser) (*getMetadataArgs, error) {
	args := &getMetadataArgs{maxSize: -1}
	if err := p.sp(); err != nil {
		return nil, err
	}
	if b, err := p.peek(); err != nil {
		return nil, err
	} else if b == '(' {
		if err := p.list(func() error { return p.getMetadataOption(args) }); err != nil {
			return nil, err
		}
		if err := p.sp(); err != nil {
			return nil, err
		}
	}
	var err error
	if args.mailbox, err = p.mailbox(); err != nil {
		return nil, err
	}
	if err := p.sp(); err != nil {
		return nil, err
	}
	entry := func() error {
		if len(args.entries) == maxGetEntries {
			return syntaxf("Too many entries")
		}
		name, err := p.entryName()
		args.entries = append(args.entries, name)
		return err
	}
	if p.optionsNext() {
		// The options after the mailbox, as RFC 5464's drafts had them and
		// go-imap's client (v2.0.0-beta.8) sends them; Cyrus accepts them
		// there too.
		if err := p.list(func() error { return p.getMetadataOption(args) }); err != nil {
			return nil, err
		}
		if err := p.sp(); err != nil {
			return nil, err
		}
	}
	b, err := p.peek()
	if err != nil {
		return nil, err
	}
	if b == '(' {
		err = p.list(entry)
	} else {
		err = entry()
	}
	if err != nil {
		return nil, err
	}
	return args, p.crlf()
}

// optionsNext reports whether a list of GETMETADATA options comes next: a
// parenthesis and MAXSIZE or DEPTH (an entry list holds names beginning
// with '/' or a quote). It looks at what the connection has buffered; when
// the word is cut there, a letter after the parenthesis is enough.
func (p *parser) optionsNext() bool {
	b, _ := p.br.Peek(max(p.br.Buffered(), 2))
	if len(b) < 2 || b[0] != '(' {
		return false
	}
	word := b[1:]
	for i, c := range word {
		if c|0x20 < 'a' || c|0x20 > 'z' {
			word = word[:i]
			break
		}
	}
	if len(word) == len(b)-1 {
		return len(word) > 0 // cut by the buffer's end
	}
	w := strings.ToUpper(string(word))
	return w == "MAXSIZE" || w == "DEPTH"
}

// getMetadataOption reads MAXSIZE n or DEPTH (0 / 1 / infinity).
func (p *parser) getMetadataOption(args *getMetadataArgs) error {
	name, err := p.atom()
	if err != nil {
		return err
	}
	switch strings.ToUpper(name) {
	case "MAXSIZE":
		if err := p.sp(); err != nil {
			return err
		}
		n, err := p.number()
		if err != nil {
			return syntaxf("Invalid value for MAXSIZE option")
		}
		args.maxSize = int64(n)
	case "DEPTH":
		if err := p.sp(); err != nil {
			return err
		}
		v, err := p.atom()
		if err != nil {
			return syntaxf("Invalid value for DEPTH option")
		}
		switch strings.ToLower(v) {
		case "0":
			args.depth = MetadataDepthZero
		case "1":
			args.depth = MetadataDepthOne
		case "infinity":
			args.depth = MetadataDepthInfinity
		default:
			return syntaxf("Invalid value for DEPTH option")
		}
	default:
		return syntaxf("Unknown option")
	}
	return nil
}

// writeMetadataResponse writes one "* METADATA mailbox (entry value ...)"
// with the entries found: entries asked for without DEPTH that have no
// value are NIL (as Dovecot answers), values over MAXSIZE are left out.
// It returns the size of the largest value left out, or -1.
func writeMetadataResponse(c *Conn, args *getMetadataArgs, found [][]MetadataEntry) (longest int64) {
	longest = -1
	c.enc.lock()
	defer c.enc.unlock()
	e := &c.enc
	started := false
	item := func(name string, value []byte) {
		if !started {
			e.raw("* METADATA ")
			if args.mailbox == "" {
				e.raw(`""`)
			} else {
				e.mailbox(args.mailbox)
			}
			e.raw(" (")
			started = true
		} else {
			e.sp()
		}
		e.astring(name).sp().metadataValue(value)
	}
	for i, name := range args.entries {
		var list []MetadataEntry
		if i < len(found) {
			list = found[i]
		}
		if args.depth == MetadataDepthZero && (len(list) == 0 || list[0].Name != name) {
			item(name, nil)
		}
		for _, en := range list {
			if size := int64(len(en.Value)); args.maxSize >= 0 && size > args.maxSize {
				longest = max(longest, size)
				continue
			}
			item(en.Name, en.Value)
		}
	}
	if started {
		e.raw(")").crlf()
	}
	return longest
}
