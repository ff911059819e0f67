package maildirbackend

import (
	"bytes"
	"io"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/imapmsg"
)

// tri is the value of a search key that may not be known yet.
type tri int8

const (
	no tri = iota
	yes
	unknown // needs the file: a header, BODY or TEXT key
)

// eval evaluates q for the candidate. With full false, it reads no file:
// keys that need one are unknown unless the full-text index rules them
// out, and the result is unknown only when such a key decides it. With
// full true, it reads what it must, once (see contentHit), and the result
// is yes or no. Cheap keys come first at every level, and a level stops
// at its first no.
func (c *candidate) eval(q *query, full bool) (tri, error) {
	for i := range q.sets {
		if !q.sets[i].contains(c.seq, c.uid) {
			return no, nil
		}
	}
	cr := q.c
	if cr.ModSeq != nil && c.modSeqOf() < cr.ModSeq.ModSeq {
		return no, nil
	}
	if len(cr.Flag) > 0 || len(cr.NotFlag) > 0 {
		if c.flags == nil {
			return no, nil
		}
		for _, fl := range cr.Flag {
			if !c.hasFlag(fl) {
				return no, nil
			}
		}
		for _, fl := range cr.NotFlag {
			if c.hasFlag(fl) {
				return no, nil
			}
		}
	}
	res := yes
	if r, err := c.evalDates(cr, full); err != nil || r == no {
		return no, err
	} else if r == unknown {
		res = unknown
	}
	for _, h := range cr.Header {
		if strings.EqualFold(h.Key, "Subject") {
			// A client's header listing cached the envelope: answer
			// SUBJECT from it, without opening the file.
			if ok, answered := imapmsg.MatchSubject(c.snapshot().summary(), h.Value); answered {
				if !ok {
					return no, nil
				}
				continue
			}
		}
		if !full {
			res = unknown
			continue
		}
		var r io.Reader
		if fields := c.f.cachedFieldsOf(c.snapshot(), h.Key); fields != nil {
			r = bytes.NewReader(imapmsg.HeaderFieldsMessage(fields))
		} else {
			file, err := c.open()
			if err != nil || c.gone {
				return no, err
			}
			r = io.NewSectionReader(file, 0, 1<<62)
		}
		ok, err := imapmsg.MatchHeader(r, h.Key, h.Value)
		if err != nil || !ok {
			return no, err
		}
	}
	for _, v := range cr.Body {
		if r, err := c.contentKey(c.plan.body[v], full); err != nil || r == no {
			return no, err
		} else if r == unknown {
			res = unknown
		}
	}
	for _, v := range cr.Text {
		if r, err := c.contentKey(c.plan.text[v], full); err != nil || r == no {
			return no, err
		} else if r == unknown {
			res = unknown
		}
	}
	for _, n := range q.not {
		r, err := c.eval(n, full)
		if err != nil || r == yes {
			return no, err
		}
		if r == unknown {
			res = unknown
		}
	}
	for _, or := range q.or {
		r, err := c.evalOr(or, full)
		if err != nil || r == no {
			return no, err
		}
		if r == unknown {
			res = unknown
		}
	}
	return res, nil
}

func (c *candidate) evalOr(or [2]*query, full bool) (tri, error) {
	a, err := c.eval(or[0], full)
	if err != nil || a == yes {
		return a, err
	}
	b, err := c.eval(or[1], full)
	if err != nil || b == yes {
		return b, err
	}
	if a == unknown || b == unknown {
		return unknown, nil
	}
	return no, nil
}

// evalDates evaluates the size and date keys of cr: from memory when the
// sizes and dates are known, else unknown unless full.
func (c *candidate) evalDates(cr *imap.SearchCriteria, full bool) (tri, error) {
	if cr.Larger == 0 && cr.Smaller == 0 && cr.Since.IsZero() && cr.Before.IsZero() &&
		cr.SentSince.IsZero() && cr.SentBefore.IsZero() {
		return yes, nil
	}
	sn := c.snapshot()
	if c.gone {
		return no, nil
	}
	sent := !cr.SentSince.IsZero() || !cr.SentBefore.IsZero()
	if !full && (sn.vsize < 0 || sn.mtime == 0 || sent && sn.content == nil) {
		return unknown, nil
	}
	if err := c.fill(cr); err != nil {
		return no, err
	}
	if c.gone {
		return no, nil
	}
	if cr.Larger != 0 && sn.vsize <= cr.Larger {
		return no, nil
	}
	if cr.Smaller != 0 && sn.vsize >= cr.Smaller {
		return no, nil
	}
	if !matchDate(time.Unix(sn.mtime, 0).UTC(), cr.Since, cr.Before) {
		return no, nil
	}
	if sent {
		var date time.Time
		if sn.content != nil {
			date = sn.content.sum.Envelope.Date
		}
		if date.IsZero() {
			// No Date: (or one that does not parse) is the epoch,
			// 1-Jan-1970, as in Dovecot.
			date = time.Unix(0, 0).UTC()
		}
		if !matchDate(date, cr.SentSince, cr.SentBefore) {
			return no, nil
		}
	}
	return yes, nil
}

// contentKey evaluates content key k of the plan: no when the full-text
// index rules it out, yes when it knows the message contains it (or when
// a read under way has found it: see decided), else unknown unless full,
// else read.
func (c *candidate) contentKey(k int, full bool) (tri, error) {
	if c.excluded(k) {
		return no, nil
	}
	if c.known(k) {
		return yes, nil
	}
	if !full {
		if c.partial != nil && c.partial[k] {
			return yes, nil
		}
		return unknown, nil
	}
	ok, err := c.contentHit(k)
	if err != nil || !ok {
		return no, err
	}
	return yes, nil
}

// contentHit reports whether content key k matches, reading the file the
// first time any content key is asked: every key of the program is
// answered in that one read (imapmsg.MatchMessage), except those the
// index ruled out, and the read stops once the program's answer is known.
func (c *candidate) contentHit(k int) (bool, error) {
	if c.hits == nil {
		file, parsed, err := c.openContent()
		if err != nil || file == nil {
			return false, err
		}
		var keys imapmsg.Keys
		var at []int // plan key numbers: body keys, then text keys
		for i, key := range c.plan.keys {
			if !c.excluded(i) && !c.known(i) && !key.text {
				at = append(at, i)
				keys.Body = append(keys.Body, key.value)
			}
		}
		for i, key := range c.plan.keys {
			if !c.excluded(i) && !c.known(i) && key.text {
				at = append(at, i)
				keys.Text = append(keys.Text, key.value)
			}
		}
		// Keys the index knows the message holds are hits before the
		// read, for the early stop and for the result.
		c.partial = make([]bool, len(c.plan.keys))
		for i := range c.partial {
			c.partial[i] = c.known(i)
		}
		// The callback works on a copy (sharing partial): were c itself
		// captured, every candidate would be allocated on the heap, not
		// only those whose file is read.
		cc := new(candidate)
		*cc = *c
		keys.Decided = func(bh, th []bool) bool { return cc.decided(at, bh, th) }
		bh, th, err := imapmsg.MatchMessage(file, parsed, keys)
		if err != nil {
			return false, err
		}
		c.hits, c.partial = c.partial, nil
		for j, i := range at {
			c.hits[i] = j < len(bh) && bh[j] || j >= len(bh) && th[j-len(bh)]
		}
	}
	return c.hits[k], nil
}

// decided reports whether the program's answer for the candidate is
// known from the hits found so far (bh, th: for the plan keys at), the
// keys without a hit being unknown: then the read can stop, and those
// keys count as not found.
func (c *candidate) decided(at []int, bh, th []bool) bool {
	for j, i := range at {
		c.partial[i] = j < len(bh) && bh[j] || j >= len(bh) && th[j-len(bh)]
	}
	r, err := c.eval(c.prog, false)
	return err == nil && r != unknown
}

// excluded reports whether the full-text index rules out content key k
// for the candidate.
func (c *candidate) excluded(k int) bool {
	if c.doc < 0 || c.plan.cands == nil || c.plan.cands[k] == nil {
		return false
	}
	return !c.plan.cands[k].Contains(uint32(c.doc))
}

// known reports whether the full-text index knows that the candidate
// contains content key k.
func (c *candidate) known(k int) bool {
	return c.doc >= 0 && c.plan.sure != nil && c.plan.sure[k] != nil && c.plan.sure[k].Contains(uint32(c.doc))
}
