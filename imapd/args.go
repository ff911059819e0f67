package imapd

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/internal/mutf7"
)

// errBadMUTF7 answers a mailbox name that is not valid modified UTF-7, as
// Dovecot does.
var errBadMUTF7 = &imap.Error{Type: imap.StatusResponseTypeNo, Text: "Mailbox name is not valid mUTF-7"}

// mailbox reads a mailbox name and returns it in UTF-8, "INBOX" in any
// case being INBOX. Unless the client enabled UTF-8, the name is modified
// UTF-7 on the wire; one that is not valid is reported with errBadMUTF7
// once the whole command has been read (the caller checks cmdErr).
func (p *parser) mailbox() (string, error) {
	name, err := p.astring()
	if err != nil {
		return "", err
	}
	return p.c.decodeMailbox(name), nil
}

// decodeMailbox decodes a mailbox name from the wire. An invalid name is
// remembered in the connection's badName and returned as is.
func (c *Conn) decodeMailbox(name string) string {
	if strings.EqualFold(name, "INBOX") {
		return "INBOX"
	}
	if c.enc.utf8 || !isASCII(name) {
		// UTF-8 from a client that enabled it, or from an IMAP4rev2
		// client that did not say so (go-imap's client): accepted as
		// UTF-8 when it is valid.
		if !utf8.ValidString(name) {
			c.badName = true
		}
		return name
	}
	dec, err := mutf7.Decode(name)
	if err != nil {
		c.badName = true
		return name
	}
	return dec
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// listMailbox reads a LIST pattern (list-mailbox: atom characters, '%',
// '*' and ']', or a string). A pattern that is not valid modified UTF-7 is
// used as it is: it matches nothing that was stored under a valid name, so
// the answer is an empty OK, as Dovecot's.
func (p *parser) listMailbox() (string, error) {
	b, err := p.peek()
	if err != nil {
		return "", err
	}
	var pat string
	if b == '"' || b == '{' {
		pat, err = p.str()
	} else {
		pat, err = p.run(isListChar, "list-mailbox")
	}
	if err != nil {
		return "", err
	}
	if p.c.enc.utf8 || !isASCII(pat) {
		return pat, nil
	}
	if dec, err := mutf7.Decode(pat); err == nil {
		return dec, nil
	}
	return pat, nil
}

// statusItems reads "(" status-att *(SP status-att) ")".
func (p *parser) statusItems() (*imap.StatusOptions, error) {
	var o imap.StatusOptions
	err := p.list(func() error {
		a, err := p.atom()
		if err != nil {
			return err
		}
		switch strings.ToUpper(a) {
		case "MESSAGES":
			o.NumMessages = true
		case "UIDNEXT":
			o.UIDNext = true
		case "UIDVALIDITY":
			o.UIDValidity = true
		case "UNSEEN":
			o.NumUnseen = true
		case "DELETED":
			o.NumDeleted = true
		case "SIZE":
			o.Size = true
		case "RECENT":
			o.NumRecent = true
		case "APPENDLIMIT":
			o.AppendLimit = true
		case "DELETED-STORAGE":
			o.DeletedStorage = true
		case "HIGHESTMODSEQ":
			if p.c.condStore() == nil {
				return syntaxf("unknown STATUS item %s", a)
			}
			o.HighestModSeq = true
			p.c.enableModSeqs(false)
		default:
			return syntaxf("unknown STATUS item %s", a)
		}
		return nil
	})
	return &o, err
}

// flags reads a flag list as imap.Flag values.
func (p *parser) imapFlags() ([]imap.Flag, error) {
	l, err := p.flagList()
	if err != nil {
		return nil, err
	}
	flags := make([]imap.Flag, len(l))
	for i, f := range l {
		flags[i] = canonicalFlag(f)
	}
	return flags, nil
}

// canonicalFlag spells the system flags as RFC 9051 does.
func canonicalFlag(f string) imap.Flag {
	for _, sys := range []imap.Flag{imap.FlagSeen, imap.FlagAnswered, imap.FlagFlagged, imap.FlagDeleted, imap.FlagDraft, "\\Recent", imap.FlagWildcard} {
		if strings.EqualFold(f, string(sys)) {
			return sys
		}
	}
	return imap.Flag(f)
}

// numSet reads a sequence set ("1:3,5,7:*") or "$" (SEARCHRES), as
// sequence numbers or, for kind NumKindUID, UIDs.
func (p *parser) numSet(kind NumKind) (imap.NumSet, error) {
	s, err := p.run(func(b byte) bool { return b >= '0' && b <= '9' || b == ':' || b == ',' || b == '*' || b == '$' }, "sequence set")
	if err != nil {
		return nil, err
	}
	if s == "$" {
		return imap.SearchRes(), nil
	}
	var seqs imap.SeqSet
	var uids imap.UIDSet
	for _, r := range strings.Split(s, ",") {
		lo, hi, ok := strings.Cut(r, ":")
		a, err := seqNumber(lo)
		if err != nil {
			return nil, err
		}
		b := a
		if ok {
			if b, err = seqNumber(hi); err != nil {
				return nil, err
			}
		}
		if kind == NumKindUID {
			uids.AddRange(imap.UID(a), imap.UID(b))
		} else {
			seqs.AddRange(a, b)
		}
	}
	if kind == NumKindUID {
		return uids, nil
	}
	return seqs, nil
}

// seqNumber parses one seq-number: a non-zero number, or "*" (0).
func seqNumber(s string) (uint32, error) {
	if s == "*" {
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 0 || s[0] == '0' {
		return 0, syntaxf("invalid sequence set")
	}
	return uint32(n), nil
}
