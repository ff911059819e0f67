package imapd

import (
	"strings"

	"github.com/emersion/go-imap/v2"
)

// LIST (RFC 9051 section 6.3.9) with LIST-EXTENDED (RFC 5258),
// LIST-STATUS (RFC 5819) and SPECIAL-USE (RFC 6154), and LSUB.

func init() {
	register(authed, handleList, "LIST")
	register(authed, handleLSub, "LSUB")
}

// ListWriter writes the responses of a LIST or LSUB command.
type ListWriter struct {
	c       *Conn
	options *imap.ListOptions
	lsub    bool
}

// LSub reports whether the command is LSUB (whose answer differs from
// LIST (SUBSCRIBED): no \Subscribed attribute).
func (w *ListWriter) LSub() bool { return w.lsub }

// WriteList writes one LIST (or LSUB) response and, when the client asked
// for RETURN (STATUS ...), the mailbox's STATUS response after it.
func (w *ListWriter) WriteList(data *imap.ListData) error {
	e := &w.c.enc
	e.lock()
	defer e.unlock()
	verb := "LIST"
	if w.lsub {
		verb = "LSUB"
	}
	e.listHead(verb, data)
	if !w.lsub {
		var ext []func()
		if data.ChildInfo != nil && data.ChildInfo.Subscribed {
			ext = append(ext, func() { e.raw(`CHILDINFO ("SUBSCRIBED")`) })
		}
		if data.OldName != "" {
			ext = append(ext, func() { e.raw("OLDNAME (").mailbox(data.OldName).byte(')') })
		}
		if len(ext) > 0 {
			e.raw(" (")
			for i, f := range ext {
				if i > 0 {
					e.sp()
				}
				f()
			}
			e.byte(')')
		}
	}
	e.crlf()
	if !w.lsub && w.options.ReturnStatus != nil && data.Status != nil {
		writeStatusData(e, data.Status, w.options.ReturnStatus)
	}
	return e.err
}

func handleList(c *Conn, cmd *command) error {
	p := cmd.p
	opts := &imap.ListOptions{}
	if err := p.sp(); err != nil {
		return err
	}
	if b, err := p.peek(); err != nil {
		return err
	} else if b == '(' {
		if err := p.list(func() error { return listSelectOption(p, opts) }); err != nil {
			return err
		}
		if err := p.sp(); err != nil {
			return err
		}
	}
	ref, err := p.mailbox()
	if err != nil {
		return err
	}
	if err := p.sp(); err != nil {
		return err
	}
	var patterns []string
	b, err := p.peek()
	if err != nil {
		return err
	}
	if b == '(' {
		if err := p.list(func() error {
			more, err := p.listPattern()
			patterns = append(patterns, more...)
			return err
		}); err != nil {
			return err
		}
		if len(patterns) == 0 {
			return syntaxf("empty pattern list")
		}
	} else if patterns, err = p.listPattern(); err != nil {
		return err
	}
	if ok, err := p.maybeSP(); err != nil {
		return err
	} else if ok {
		a, err := p.atom()
		if err != nil {
			return err
		}
		if !strings.EqualFold(a, "RETURN") {
			return syntaxf("expected RETURN")
		}
		if err := p.sp(); err != nil {
			return err
		}
		if err := p.list(func() error { return listReturnOption(p, opts) }); err != nil {
			return err
		}
	}
	if err := p.crlf(); err != nil {
		return err
	}
	if opts.SelectRecursiveMatch && !opts.SelectSubscribed && !opts.SelectSpecialUse {
		return syntaxf("RECURSIVEMATCH needs another selection option")
	}
	return c.session.List(&ListWriter{c: c, options: opts}, ref, patterns, opts)
}

func listSelectOption(p *parser, o *imap.ListOptions) error {
	a, err := p.astring()
	if err != nil {
		return err
	}
	switch strings.ToUpper(a) {
	case "SUBSCRIBED":
		o.SelectSubscribed = true
	case "REMOTE":
		o.SelectRemote = true
	case "RECURSIVEMATCH":
		o.SelectRecursiveMatch = true
	case "SPECIAL-USE":
		o.SelectSpecialUse = true
	default:
		return syntaxf("unknown LIST selection option %s", a)
	}
	return nil
}

func listReturnOption(p *parser, o *imap.ListOptions) error {
	a, err := p.atom()
	if err != nil {
		return err
	}
	switch strings.ToUpper(a) {
	case "SUBSCRIBED":
		o.ReturnSubscribed = true
	case "CHILDREN":
		o.ReturnChildren = true
	case "SPECIAL-USE":
		o.ReturnSpecialUse = true
	case "STATUS":
		if err := p.sp(); err != nil {
			return err
		}
		st, err := p.statusItems()
		if err != nil {
			return err
		}
		o.ReturnStatus = st
	default:
		return syntaxf("unknown LIST return option %s", a)
	}
	return nil
}

// listPattern reads one LIST or LSUB pattern and returns it as a list of
// patterns: none for "" (LIST "" "" asks for the hierarchy delimiter).
func (p *parser) listPattern() ([]string, error) {
	pat, err := p.listMailbox()
	if err != nil || pat == "" {
		return nil, err
	}
	return []string{pat}, nil
}

func handleLSub(c *Conn, cmd *command) error {
	p := cmd.p
	if err := p.sp(); err != nil {
		return err
	}
	ref, err := p.mailbox()
	if err != nil {
		return err
	}
	if err := p.sp(); err != nil {
		return err
	}
	patterns, err := p.listPattern()
	if err != nil {
		return err
	}
	if err := p.crlf(); err != nil {
		return err
	}
	opts := &imap.ListOptions{SelectSubscribed: true}
	return c.session.List(&ListWriter{c: c, options: opts, lsub: true}, ref, patterns, opts)
}
