package imapd

import (
	"strings"

	"github.com/emersion/go-imap/v2"
)

// CONDSTORE and QRESYNC (RFC 7162), offered when the session implements
// SessionCondStore: the parsing of their modifiers, the turning on of
// CONDSTORE by the first command that uses it (RFC 7162 3.1), and their
// responses. The commands' own files call in here.

// condStore returns the session's SessionCondStore, or nil.
func (c *Conn) condStore() SessionCondStore {
	if c == nil {
		return nil
	}
	cs, _ := c.session.(SessionCondStore)
	return cs
}

// modSeqsOn reports whether the client turned CONDSTORE (and QRESYNC) on.
func (c *Conn) modSeqsOn() (condStore, qresync bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.enabled.Has(imap.CapCondStore) || c.enabled.Has(imap.CapQResync), c.enabled.Has(imap.CapQResync)
}

// enableModSeqs turns CONDSTORE (with qresync, QRESYNC too) on for the
// rest of the connection and tells the session; it reports whether it was
// off before. Called by ENABLE and by every CONDSTORE enabling command.
func (c *Conn) enableModSeqs(qresync bool) bool {
	cs := c.condStore()
	if cs == nil {
		return false
	}
	c.mu.Lock()
	condWas := c.enabled.Has(imap.CapCondStore)
	was := condWas
	if qresync {
		was = c.enabled.Has(imap.CapQResync)
		c.enabled[imap.CapQResync] = struct{}{}
	}
	c.enabled[imap.CapCondStore] = struct{}{}
	q := c.enabled.Has(imap.CapQResync)
	c.mu.Unlock()
	if was {
		return false
	}
	cs.EnableModSeqs(q)
	if !condWas && c.State() == imap.ConnStateSelected {
		// CONDSTORE turned on with a mailbox selected: the client learns
		// its HIGHESTMODSEQ now (RFC 7162 3.1), as Dovecot tells it.
		e := &c.enc
		e.lock()
		e.raw("* OK [HIGHESTMODSEQ ").num64(int64(cs.HighestModSeq())).raw("] Highest").crlf()
		e.unlock()
	}
	return true
}

// errNoCondStore answers a CONDSTORE item sent to a session without it.
var errNoCondStore = syntaxf("CONDSTORE is not supported")

// errNoQResync answers QRESYNC parameters before ENABLE QRESYNC (RFC 7162
// 3.2.5).
var errNoQResync = syntaxf("QRESYNC is not enabled")

// modSeqValue reads a mod-sequence-value (1 to 2^63-1) or, with zero, a
// mod-sequence-valzer.
func (p *parser) modSeqValue(zero bool) (uint64, error) {
	n, err := p.number64()
	if err != nil {
		return 0, err
	}
	if n == 0 && !zero {
		return 0, syntaxf("mod-sequence 0")
	}
	return uint64(n), nil
}

// selectParams is what follows the mailbox name of SELECT or EXAMINE.
type selectParams struct {
	condStore bool
	qresync   *qresyncParams
}

// qresyncParams is "QRESYNC (uidvalidity modseq [known-uids
// [seq-match-data]])". The sequence match data is read and not used: the
// index knows every expunge's modification sequence, so the answer is
// exact without it.
type qresyncParams struct {
	uidValidity uint32
	modSeq      uint64
	knownUIDs   *imap.UIDSet
}

// selectParams reads [SP "(" select-param *(SP select-param) ")"].
func (p *parser) selectParams() (*selectParams, error) {
	sp := &selectParams{}
	if ok, err := p.maybeSP(); err != nil || !ok {
		return sp, err
	}
	err := p.list(func() error {
		a, err := p.atom()
		if err != nil {
			return err
		}
		switch strings.ToUpper(a) {
		case "CONDSTORE":
			sp.condStore = true
			return nil
		case "QRESYNC":
			if err := p.sp(); err != nil {
				return err
			}
			sp.qresync, err = p.qresyncParams()
			return err
		}
		return syntaxf("unknown SELECT parameter %s", a)
	})
	return sp, err
}

func (p *parser) qresyncParams() (*qresyncParams, error) {
	q := &qresyncParams{}
	n := 0
	err := p.list(func() error {
		n++
		switch n {
		case 1:
			uv, err := p.number()
			if err != nil || uv == 0 {
				return syntaxf("QRESYNC needs a UIDVALIDITY")
			}
			q.uidValidity = uv
		case 2:
			ms, err := p.modSeqValue(false)
			q.modSeq = ms
			return err
		case 3:
			if b, err := p.peek(); err != nil {
				return err
			} else if b == '(' {
				return p.seqMatchData()
			}
			set, err := p.numSet(NumKindUID)
			if err != nil {
				return err
			}
			uids := set.(imap.UIDSet)
			q.knownUIDs = &uids
		case 4:
			return p.seqMatchData()
		default:
			return syntaxf("too many QRESYNC parameters")
		}
		return nil
	})
	if err == nil && n < 2 {
		err = syntaxf("QRESYNC needs a UIDVALIDITY and a mod-sequence")
	}
	return q, err
}

// seqMatchData reads "(" sequence-set SP uid-set ")" and checks it.
func (p *parser) seqMatchData() error {
	if err := p.expect('(', "'('"); err != nil {
		return err
	}
	seqs, err := p.numSet(NumKindSeq)
	if err != nil {
		return err
	}
	if err := p.sp(); err != nil {
		return err
	}
	uids, err := p.numSet(NumKindUID)
	if err != nil {
		return err
	}
	if len(seqs.(imap.SeqSet)) == 0 || len(uids.(imap.UIDSet)) == 0 {
		return syntaxf("empty sequence match data")
	}
	return p.expect(')', "')'")
}

// prepareSelect checks the parameters and turns CONDSTORE on when asked.
func (c *Conn) prepareSelect(sp *selectParams, opts *imap.SelectOptions) error {
	if !sp.condStore && sp.qresync == nil {
		return nil
	}
	if c.condStore() == nil {
		return errNoCondStore
	}
	if sp.qresync != nil {
		if _, q := c.modSeqsOn(); !q {
			return errNoQResync
		}
	}
	c.enableModSeqs(false)
	opts.CondStore = true
	return nil
}

// writeSelectModSeqs writes, after a successful SELECT, "* OK
// [HIGHESTMODSEQ n]" for a CONDSTORE client and, for QRESYNC parameters of
// the mailbox's UIDVALIDITY, the VANISHED (EARLIER) and FETCH responses of
// what changed since the client's modification sequence (RFC 7162 3.2.5).
func (c *Conn) writeSelectModSeqs(sp *selectParams, d *imap.SelectData) error {
	if on, _ := c.modSeqsOn(); !on {
		return nil
	}
	e := &c.enc
	e.lock()
	e.raw("* OK [HIGHESTMODSEQ ").num64(int64(d.HighestModSeq)).raw("] Highest").crlf()
	e.unlock()
	q := sp.qresync
	if q == nil || q.uidValidity != d.UIDValidity {
		return e.err
	}
	set := imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}
	if q.knownUIDs != nil {
		set = *q.knownUIDs
	}
	if err := c.writeVanishedEarlier(q.modSeq, set); err != nil {
		return err
	}
	if d.NumMessages == 0 {
		return nil
	}
	opts := &imap.FetchOptions{UID: true, Flags: true, ModSeq: true, ChangedSince: q.modSeq}
	return c.session.Fetch(&FetchWriter{c: c}, set, opts)
}

// writeVanishedEarlier writes "* VANISHED (EARLIER) uids" for the UIDs of
// set expunged since modSeq, when there are any.
func (c *Conn) writeVanishedEarlier(modSeq uint64, set imap.UIDSet) error {
	uids, err := c.condStore().Vanished(modSeq, set)
	if err != nil || len(uids) == 0 {
		return err
	}
	e := &c.enc
	e.lock()
	defer e.unlock()
	e.raw("* VANISHED (EARLIER) ").numSet(uids).crlf()
	return e.err
}

// fetchModifiers reads " (CHANGEDSINCE n [SP VANISHED])" after the fetch
// attributes, in any order (RFC 7162 3.1.4, 3.2.6).
func (p *parser) fetchModifiers(a *fetchArgs) error {
	if b, err := p.peek(); err != nil || b != ' ' {
		return err
	}
	if err := p.sp(); err != nil {
		return err
	}
	err := p.list(func() error {
		m, err := p.atom()
		if err != nil {
			return err
		}
		switch strings.ToUpper(m) {
		case "CHANGEDSINCE":
			if err := p.sp(); err != nil {
				return err
			}
			ms, err := p.modSeqValue(false)
			a.changedSince = &ms
			return err
		case "VANISHED":
			a.vanished = true
			return nil
		}
		return syntaxf("unknown FETCH modifier %s", m)
	})
	if err == nil && a.vanished && a.changedSince == nil {
		err = syntaxf("VANISHED needs CHANGEDSINCE")
	}
	return err
}

// prepareFetch turns CONDSTORE on for a FETCH that uses it, asks for MODSEQ
// in the responses of a CONDSTORE client that fetches FLAGS, and writes
// the VANISHED (EARLIER) of a UID FETCH (... VANISHED).
func (c *Conn) prepareFetch(a *fetchArgs, kind NumKind) error {
	if a.opts.ModSeq || a.changedSince != nil {
		if c.condStore() == nil {
			return errNoCondStore
		}
		c.enableModSeqs(false)
	}
	on, qresync := c.modSeqsOn()
	if a.vanished && (kind != NumKindUID || !qresync) {
		return syntaxf("VANISHED needs UID FETCH and QRESYNC")
	}
	if on && a.opts.Flags {
		a.opts.ModSeq = true
	}
	if a.changedSince == nil {
		return nil
	}
	a.opts.ModSeq, a.opts.ChangedSince = true, *a.changedSince
	if a.vanished {
		return c.writeVanishedEarlier(*a.changedSince, a.set.(imap.UIDSet))
	}
	return nil
}

// WriteModSeq writes the MODSEQ item.
func (w *FetchResponseWriter) WriteModSeq(modSeq uint64) {
	w.item("MODSEQ (").num64(int64(modSeq)).byte(')')
}

// storeModifiers reads "(UNCHANGEDSINCE n) SP" before the store item.
func (p *parser) storeModifiers() (*uint64, error) {
	if b, err := p.peek(); err != nil || b != '(' {
		return nil, err
	}
	var since *uint64
	err := p.list(func() error {
		m, err := p.atom()
		if err != nil {
			return err
		}
		if strings.ToUpper(m) != "UNCHANGEDSINCE" {
			return syntaxf("unknown STORE modifier %s", m)
		}
		if err := p.sp(); err != nil {
			return err
		}
		ms, err := p.modSeqValue(true)
		since = &ms
		return err
	})
	if err != nil {
		return nil, err
	}
	return since, p.sp()
}

// storeConditional runs a STORE on a CONDSTORE session and sets the
// tagged OK [MODIFIED set] when UNCHANGEDSINCE kept messages as they were.
func (c *Conn) storeConditional(cmd *command, set imap.NumSet, flags *imap.StoreFlags, since *uint64) error {
	cs := c.condStore()
	if since != nil {
		c.enableModSeqs(false)
	}
	modified, err := cs.StoreConditional(&FetchWriter{c: c}, set, flags, since)
	if err != nil {
		return err
	}
	if modified != nil && !numSetEmpty(modified) {
		var b strings.Builder
		b.WriteString("MODIFIED ")
		b.WriteString(modified.String())
		cmd.ok = &imap.StatusResponse{Type: imap.StatusResponseTypeOK, Code: imap.ResponseCode(b.String()), Text: "Conditional STORE failed"}
	}
	return nil
}

// searchModSeq reads the arguments of the MODSEQ search key: [SP
// entry-name SP entry-type-req] SP mod-sequence-valzer (RFC 7162 3.1.5).
// The entry is checked and not used: a message has one modification
// sequence for all its flags (which the RFC allows).
func (p *parser) searchModSeq(c *imap.SearchCriteria) error {
	if err := p.sp(); err != nil {
		return err
	}
	b, err := p.peek()
	if err != nil {
		return err
	}
	crit := &imap.SearchCriteriaModSeq{}
	if b == '"' {
		name, err := p.quoted()
		if err != nil {
			return err
		}
		if !strings.HasPrefix(strings.ToLower(name), "/flags/") {
			return syntaxf("MODSEQ entry %q is not /flags/...", name)
		}
		t, err := p.spThen(p.atom)
		if err != nil {
			return err
		}
		switch strings.ToLower(t) {
		case "priv", "shared", "all":
			crit.MetadataName, crit.MetadataType = name, imap.SearchCriteriaMetadataType(strings.ToLower(t))
		default:
			return syntaxf("MODSEQ entry type %s", t)
		}
		if err := p.sp(); err != nil {
			return err
		}
	}
	if crit.ModSeq, err = p.modSeqValue(true); err != nil {
		return err
	}
	if c.ModSeq != nil {
		// Two MODSEQ keys ANDed: the higher bound is the one that counts.
		crit.ModSeq = max(crit.ModSeq, c.ModSeq.ModSeq)
	}
	c.ModSeq = crit
	p.c.enableModSeqs(false)
	return nil
}

// WriteMessageFlagsModSeq writes "* n FETCH (UID u FLAGS (...) MODSEQ
// (m))", a flag change for a CONDSTORE client (idle.ModSeqWriter).
func (w *UpdateWriter) WriteMessageFlagsModSeq(seqNum uint32, uid imap.UID, flags []imap.Flag, modSeq uint64) error {
	return w.writeFlagsFetch(seqNum, uid, flags, modSeq)
}

// WriteVanished writes "* VANISHED uids", what a QRESYNC client gets
// instead of EXPUNGE (idle.VanishedWriter). Like EXPUNGE, it must wait
// after FETCH, STORE and SEARCH.
func (w *UpdateWriter) WriteVanished(uids imap.UIDSet) error {
	if !w.allowExpunge {
		return errNoExpunge
	}
	e := &w.c.enc
	e.lock()
	defer e.unlock()
	e.raw("* VANISHED ").numSet(uids).crlf()
	return w.end()
}

// QResync reports whether expunges are to be written with WriteVanished.
func (w *ExpungeWriter) QResync() bool {
	_, q := w.c.modSeqsOn()
	return q
}

// WriteVanished writes "* VANISHED uids" (nothing for CLOSE).
func (w *ExpungeWriter) WriteVanished(uids imap.UIDSet) error {
	if w.silent {
		return nil
	}
	return writeVanished(w.c, uids)
}

// QResync reports whether expunges are to be written with WriteVanished.
func (w *MoveWriter) QResync() bool {
	_, q := w.c.modSeqsOn()
	return q
}

// WriteVanished writes "* VANISHED uids".
func (w *MoveWriter) WriteVanished(uids imap.UIDSet) error { return writeVanished(w.c, uids) }

func writeVanished(c *Conn, uids imap.UIDSet) error {
	e := &c.enc
	e.lock()
	defer e.unlock()
	e.raw("* VANISHED ").numSet(uids).crlf()
	return e.err
}
