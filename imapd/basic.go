package imapd

import (
	"maps"
	"slices"
	"strings"

	"github.com/emersion/go-imap/v2"
)

// The commands valid in any state (RFC 9051 section 6.1) and the small
// ones of the authenticated state.

func init() {
	register(anyState, handleCapability, "CAPABILITY")
	register(anyState, handleNoop, "NOOP")
	register(anyState, handleLogout, "LOGOUT")
	register(anyState, handleID, "ID")
	register(authed, handleEnable, "ENABLE")
	register(authed, handleNamespace, "NAMESPACE")
	register(selected, handleNoop, "CHECK")
}

func handleCapability(c *Conn, cmd *command) error {
	if err := cmd.p.crlf(); err != nil {
		return err
	}
	c.enc.lock()
	defer c.enc.unlock()
	c.enc.raw("* CAPABILITY")
	for _, cp := range c.caps() {
		c.enc.sp().raw(string(cp))
	}
	c.enc.crlf()
	return c.enc.err
}

func handleNoop(c *Conn, cmd *command) error {
	return cmd.p.crlf()
}

func handleLogout(c *Conn, cmd *command) error {
	if err := cmd.p.crlf(); err != nil {
		return err
	}
	c.setState(imap.ConnStateLogout)
	c.writeUntagged(&imap.StatusResponse{Type: imap.StatusResponseTypeBye, Text: "Logging out"})
	cmd.noPoll = true
	return nil
}

// handleID answers ID (RFC 2971) with Options.ID and hands the client's
// fields to a SessionID.
func handleID(c *Conn, cmd *command) error {
	p := cmd.p
	if err := p.sp(); err != nil {
		return err
	}
	fields := map[string]string{}
	b, err := p.peek()
	if err != nil {
		return err
	}
	if b == '(' {
		err = p.list(func() error {
			k, err := p.str()
			if err != nil {
				return err
			}
			if err := p.sp(); err != nil {
				return err
			}
			v, _, err := p.nstring()
			if len(fields) < 30 && len(k) <= 30 && len(v) <= 1024 {
				fields[strings.ToLower(k)] = v
			}
			return err
		})
	} else {
		_, _, err = p.nstring()
	}
	if err != nil {
		return err
	}
	if err := p.crlf(); err != nil {
		return err
	}
	if s, ok := c.session.(SessionID); ok && len(fields) > 0 {
		s.ClientID(fields)
	}
	c.enc.lock()
	defer c.enc.unlock()
	c.enc.raw("* ID ")
	if len(c.srv.opts.ID) == 0 {
		c.enc.raw("NIL")
	} else {
		c.enc.byte('(')
		for i, k := range slices.Sorted(maps.Keys(c.srv.opts.ID)) {
			if i > 0 {
				c.enc.sp()
			}
			c.enc.quoted(k).sp().nstring(c.srv.opts.ID[k])
		}
		c.enc.byte(')')
	}
	c.enc.crlf()
	return c.enc.err
}

// handleEnable turns on IMAP4rev2 and UTF8=ACCEPT (RFC 5161); other
// extensions are ignored, as the RFC asks.
func handleEnable(c *Conn, cmd *command) error {
	p := cmd.p
	var names []string
	for {
		ok, err := p.maybeSP()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		a, err := p.atom()
		if err != nil {
			return err
		}
		names = append(names, a)
	}
	if len(names) == 0 {
		return syntaxf("ENABLE needs a capability")
	}
	if err := p.crlf(); err != nil {
		return err
	}
	var enabled []imap.Cap
	c.mu.Lock()
	for _, n := range names {
		cp := imap.Cap(strings.ToUpper(n))
		if cp == "IMAP4REV2" {
			cp = imap.CapIMAP4rev2 // the one capability not spelled in upper case
		}
		if cp == imap.CapCondStore || cp == imap.CapQResync {
			continue // below, outside c.mu
		}
		if cp != imap.CapIMAP4rev2 && cp != imap.CapUTF8Accept {
			continue
		}
		if !c.enabled.Has(cp) {
			c.enabled[cp] = struct{}{}
			enabled = append(enabled, cp)
		}
	}
	c.mu.Unlock()
	for _, n := range names {
		switch cp := imap.Cap(strings.ToUpper(n)); cp {
		case imap.CapCondStore, imap.CapQResync:
			if c.enableModSeqs(cp == imap.CapQResync) && !slices.Contains(enabled, cp) {
				enabled = append(enabled, cp)
			}
		}
	}
	c.enc.lock()
	defer c.enc.unlock()
	for _, cp := range enabled {
		switch cp {
		case imap.CapIMAP4rev2:
			c.enc.utf8, c.enc.rev2 = true, true
		case imap.CapUTF8Accept:
			c.enc.utf8 = true // both imply UTF-8 mailbox names
		}
	}
	c.enc.raw("* ENABLED")
	for _, cp := range enabled {
		c.enc.sp().raw(string(cp))
	}
	c.enc.crlf()
	return c.enc.err
}

func handleNamespace(c *Conn, cmd *command) error {
	if err := cmd.p.crlf(); err != nil {
		return err
	}
	data, err := c.session.Namespace()
	if err != nil {
		return err
	}
	c.enc.lock()
	defer c.enc.unlock()
	c.enc.raw("* NAMESPACE ")
	for i, l := range [][]imap.NamespaceDescriptor{data.Personal, data.Other, data.Shared} {
		if i > 0 {
			c.enc.sp()
		}
		if len(l) == 0 {
			c.enc.raw("NIL")
			continue
		}
		c.enc.byte('(')
		for _, d := range l {
			c.enc.byte('(').string(d.Prefix).sp()
			if d.Delim == 0 {
				c.enc.raw("NIL")
			} else {
				c.enc.quoted(string(d.Delim))
			}
			c.enc.byte(')')
		}
		c.enc.byte(')')
	}
	c.enc.crlf()
	return c.enc.err
}
