package imapd

import (
	"strings"

	"github.com/emersion/go-imap/v2"
)

// CREATE (with CREATE-SPECIAL-USE, RFC 6154), DELETE, RENAME, SUBSCRIBE
// and UNSUBSCRIBE: the commands that name one or two mailboxes.

func init() {
	register(authed, handleCreate, "CREATE")
	register(authed, handleDelete, "DELETE")
	register(authed, handleRename, "RENAME")
	register(authed, handleSubscribe, "SUBSCRIBE")
	register(authed, handleUnsubscribe, "UNSUBSCRIBE")
}

func handleCreate(c *Conn, cmd *command) error {
	p := cmd.p
	if err := p.sp(); err != nil {
		return err
	}
	name, err := p.mailbox()
	if err != nil {
		return err
	}
	var opts imap.CreateOptions
	if ok, err := p.maybeSP(); err != nil {
		return err
	} else if ok {
		err := p.list(func() error {
			a, err := p.atom()
			if err != nil {
				return err
			}
			if !strings.EqualFold(a, "USE") {
				return syntaxf("unknown CREATE parameter %s", a)
			}
			if err := p.sp(); err != nil {
				return err
			}
			return p.list(func() error {
				f, err := p.flag()
				opts.SpecialUse = append(opts.SpecialUse, imap.MailboxAttr(f))
				return err
			})
		})
		if err != nil {
			return err
		}
	}
	if err := p.crlf(); err != nil {
		return err
	}
	if c.badName {
		return errBadMUTF7
	}
	return c.session.Create(name, &opts)
}

// oneMailbox reads " mailbox CRLF".
func oneMailbox(c *Conn, p *parser) (string, error) {
	if err := p.sp(); err != nil {
		return "", err
	}
	name, err := p.mailbox()
	if err != nil {
		return "", err
	}
	if err := p.crlf(); err != nil {
		return "", err
	}
	if c.badName {
		return "", errBadMUTF7
	}
	return name, nil
}

func handleDelete(c *Conn, cmd *command) error {
	name, err := oneMailbox(c, cmd.p)
	if err != nil {
		return err
	}
	return c.session.Delete(name)
}

func handleRename(c *Conn, cmd *command) error {
	p := cmd.p
	if err := p.sp(); err != nil {
		return err
	}
	from, err := p.mailbox()
	if err != nil {
		return err
	}
	to, err := oneMailbox(c, p)
	if err != nil {
		return err
	}
	return c.session.Rename(from, to, &imap.RenameOptions{})
}

func handleSubscribe(c *Conn, cmd *command) error {
	name, err := oneMailbox(c, cmd.p)
	if err != nil {
		return err
	}
	return c.session.Subscribe(name)
}

func handleUnsubscribe(c *Conn, cmd *command) error {
	name, err := oneMailbox(c, cmd.p)
	if err != nil {
		return err
	}
	return c.session.Unsubscribe(name)
}
