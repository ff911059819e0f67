package imapd

import (
	"strings"

	"github.com/emersion/go-imap/v2"
)

// STORE and UID STORE (RFC 9051 section 6.4.6).

func init() {
	register(selected, handleStore, "STORE", "UID STORE")
}

func handleStore(c *Conn, cmd *command) error {
	set, flags, since, err := cmd.p.storeArgs(cmd.kind)
	if err != nil {
		return err
	}
	if c.condStore() != nil {
		return c.storeConditional(cmd, set, flags, since)
	}
	if since != nil {
		return errNoCondStore
	}
	return c.session.Store(&FetchWriter{c: c}, set, flags, &imap.StoreOptions{})
}

// storeArgs reads SP sequence-set SP [store-modifiers SP] store-att-flags
// CRLF, where store-att-flags is (["+" / "-"] "FLAGS" [".SILENT"]) SP
// (flag-list / (flag *(SP flag))), and returns UNCHANGEDSINCE if given.
func (p *parser) storeArgs(kind NumKind) (imap.NumSet, *imap.StoreFlags, *uint64, error) {
	if err := p.sp(); err != nil {
		return nil, nil, nil, err
	}
	set, err := p.numSet(kind)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := p.sp(); err != nil {
		return nil, nil, nil, err
	}
	since, err := p.storeModifiers()
	if err != nil {
		return nil, nil, nil, err
	}
	item, err := p.atom()
	if err != nil {
		return nil, nil, nil, err
	}
	sf, err := storeItem(item)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := p.sp(); err != nil {
		return nil, nil, nil, err
	}
	if sf.Flags, err = p.storeFlags(); err != nil {
		return nil, nil, nil, err
	}
	if err := p.crlf(); err != nil {
		return nil, nil, nil, err
	}
	return set, sf, since, nil
}

// storeItem parses "FLAGS", "+FLAGS", "-FLAGS", each maybe with ".SILENT".
func storeItem(item string) (*imap.StoreFlags, error) {
	s := strings.ToUpper(item)
	sf := &imap.StoreFlags{Op: imap.StoreFlagsSet}
	if rest, ok := strings.CutSuffix(s, ".SILENT"); ok {
		s, sf.Silent = rest, true
	}
	switch {
	case strings.HasPrefix(s, "+"):
		s, sf.Op = s[1:], imap.StoreFlagsAdd
	case strings.HasPrefix(s, "-"):
		s, sf.Op = s[1:], imap.StoreFlagsDel
	}
	if s != "FLAGS" {
		return nil, syntaxf("STORE can only change FLAGS, not %s", item)
	}
	return sf, nil
}

// storeFlags reads a flag list or flags separated by spaces.
func (p *parser) storeFlags() ([]imap.Flag, error) {
	if b, err := p.peek(); err != nil {
		return nil, err
	} else if b == '(' {
		return p.imapFlags()
	}
	var flags []imap.Flag
	for {
		f, err := p.flag()
		if err != nil {
			return nil, err
		}
		flags = append(flags, canonicalFlag(f))
		if more, err := p.maybeSP(); err != nil || !more {
			return flags, err
		}
	}
}
