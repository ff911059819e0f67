package imapd

import (
	"strings"

	"github.com/emersion/go-imap/v2"
)

// QUOTA (RFC 9208): GETQUOTA, GETQUOTAROOT and SETQUOTA, for a
// SessionQuota. The capability lists QUOTA=RES-<name> for each resource
// the session has.

func init() {
	register(authed, handleGetQuota, "GETQUOTA")
	register(authed, handleGetQuotaRoot, "GETQUOTAROOT")
	register(authed, handleSetQuota, "SETQUOTA")
}

// quotaSession returns the connection's session as a SessionQuota, or the
// BAD of a command the server does not know.
func quotaSession(c *Conn, cmd *command) (SessionQuota, error) {
	q, ok := c.session.(SessionQuota)
	if !ok || len(q.QuotaResources()) == 0 {
		return nil, &imap.Error{Type: imap.StatusResponseTypeBad, Text: "Unknown command " + cmd.name}
	}
	return q, nil
}

// handleGetQuota answers GETQUOTA root with the root's QUOTA response.
func handleGetQuota(c *Conn, cmd *command) error {
	q, err := quotaSession(c, cmd)
	if err != nil {
		return err
	}
	root, err := cmd.p.spThen(cmd.p.astring)
	if err != nil {
		return err
	}
	if err := cmd.p.crlf(); err != nil {
		return err
	}
	res, err := q.Quota(root)
	if err != nil {
		return err
	}
	c.enc.lock()
	defer c.enc.unlock()
	writeQuota(&c.enc, root, res)
	return c.enc.err
}

// handleGetQuotaRoot answers GETQUOTAROOT mailbox with the mailbox's roots
// and a QUOTA response for each.
func handleGetQuotaRoot(c *Conn, cmd *command) error {
	q, err := quotaSession(c, cmd)
	if err != nil {
		return err
	}
	if err := cmd.p.sp(); err != nil {
		return err
	}
	mailbox, err := cmd.p.mailbox()
	if err != nil {
		return err
	}
	if err := cmd.p.crlf(); err != nil {
		return err
	}
	if c.badName {
		return errBadMUTF7
	}
	roots, err := q.QuotaRoots(mailbox)
	if err != nil {
		return err
	}
	quotas := make([][]QuotaResource, len(roots))
	for i, root := range roots {
		if quotas[i], err = q.Quota(root); err != nil {
			return err
		}
	}
	e := &c.enc
	e.lock()
	defer e.unlock()
	e.raw("* QUOTAROOT ").mailbox(mailbox)
	for _, root := range roots {
		e.sp().astring(root)
	}
	e.crlf()
	for i, root := range roots {
		writeQuota(e, root, quotas[i])
	}
	return e.err
}

// writeQuota writes "* QUOTA root (NAME usage limit ...)".
func writeQuota(e *encoder, root string, res []QuotaResource) {
	e.raw("* QUOTA ").astring(root).raw(" (")
	for i, r := range res {
		if i > 0 {
			e.sp()
		}
		e.raw(string(r.Name)).sp().num64(r.Usage).sp().num64(r.Limit)
	}
	e.raw(")").crlf()
}

// handleSetQuota reads SETQUOTA root (resource limit ...) and passes it to
// the session, which may refuse it.
func handleSetQuota(c *Conn, cmd *command) error {
	q, err := quotaSession(c, cmd)
	if err != nil {
		return err
	}
	p := cmd.p
	root, err := p.spThen(p.astring)
	if err != nil {
		return err
	}
	if err := p.sp(); err != nil {
		return err
	}
	limits := map[imap.QuotaResourceType]int64{}
	err = p.list(func() error {
		name, err := p.atom()
		if err != nil {
			return err
		}
		if err := p.sp(); err != nil {
			return err
		}
		n, err := p.number64()
		if err != nil {
			return err
		}
		limits[imap.QuotaResourceType(strings.ToUpper(name))] = n
		return nil
	})
	if err != nil {
		return err
	}
	if err := p.crlf(); err != nil {
		return err
	}
	return q.SetQuota(root, limits)
}
