package imapd

import (
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
)

// The search-key grammar of RFC 9051 section 6.4.4 and RFC 3501 section
// 6.4.4 (NEW, OLD, RECENT), shared by SEARCH, SORT and THREAD. Keys are
// mapped into imap.SearchCriteria as go-imap's server maps them, so that
// a backend written for it sees the same criteria.

// maxSearchNesting bounds how deep NOT, OR and parentheses may nest while
// parsing; backends set their own, lower, limits on what they evaluate.
const maxSearchNesting = 1000

// errSearchNesting answers a search program nested deeper than
// maxSearchNesting.
var errSearchNesting = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeLimit, Text: "Search program nested too deeply"}

// searchProgram reads search-key *(SP search-key) into a criteria, up to
// and without the CRLF. first, if not empty, is the atom of the first key,
// already read by a caller that looked for RETURN or CHARSET.
func (p *parser) searchProgram(first string) (*imap.SearchCriteria, error) {
	c := new(imap.SearchCriteria)
	var err error
	if first != "" {
		err = p.searchKeyAtom(c, strings.ToUpper(first), 0)
	} else {
		err = p.searchKey(c, 0)
	}
	for err == nil {
		var more bool
		if more, err = p.maybeSP(); err != nil || !more {
			break
		}
		err = p.searchKey(c, 0)
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

// startsNumSet reports whether b begins a sequence set or "$".
func startsNumSet(b byte) bool { return isDigit(b) || b == '*' || b == '$' }

// searchKey reads one search key, ANDing it into c.
func (p *parser) searchKey(c *imap.SearchCriteria, depth int) error {
	if depth > maxSearchNesting {
		return errSearchNesting
	}
	b, err := p.peek()
	if err != nil {
		return err
	}
	switch {
	case b == '(':
		n := 0
		err := p.list(func() error {
			n++
			return p.searchKey(c, depth+1)
		})
		if err == nil && n == 0 {
			err = syntaxf("empty list of search keys")
		}
		return err
	case startsNumSet(b):
		set, err := p.numSet(NumKindSeq)
		if err != nil {
			return err
		}
		if imap.IsSearchRes(set) {
			c.UID = append(c.UID, set.(imap.UIDSet))
		} else {
			c.SeqNum = append(c.SeqNum, set.(imap.SeqSet))
		}
		return nil
	}
	a, err := p.atom()
	if err != nil {
		return err
	}
	return p.searchKeyAtom(c, strings.ToUpper(a), depth)
}

// searchKeyAtom reads the arguments of the search key named key (upper
// case) and ANDs the key into c.
func (p *parser) searchKeyAtom(c *imap.SearchCriteria, key string, depth int) error {
	switch key {
	case "ALL":
	case "ANSWERED", "DELETED", "DRAFT", "FLAGGED", "SEEN", "RECENT":
		c.Flag = append(c.Flag, systemFlag(key))
	case "UNANSWERED", "UNDELETED", "UNDRAFT", "UNFLAGGED", "UNSEEN":
		c.NotFlag = append(c.NotFlag, systemFlag(key[2:]))
	case "NEW":
		c.Flag = append(c.Flag, systemFlag("RECENT"))
		c.NotFlag = append(c.NotFlag, imap.FlagSeen)
	case "OLD":
		c.NotFlag = append(c.NotFlag, systemFlag("RECENT"))
	case "KEYWORD", "UNKEYWORD":
		f, err := p.spThen(p.flag)
		if err != nil {
			return err
		}
		if key == "KEYWORD" {
			c.Flag = append(c.Flag, canonicalFlag(f))
		} else {
			c.NotFlag = append(c.NotFlag, canonicalFlag(f))
		}
	case "BCC", "CC", "FROM", "SUBJECT", "TO":
		v, err := p.spThen(p.astring)
		if err != nil {
			return err
		}
		c.Header = append(c.Header, imap.SearchCriteriaHeaderField{Key: headerKeyName(key), Value: v})
	case "HEADER":
		k, err := p.spThen(p.astring)
		if err != nil {
			return err
		}
		v, err := p.spThen(p.astring)
		if err != nil {
			return err
		}
		c.Header = append(c.Header, imap.SearchCriteriaHeaderField{Key: k, Value: v})
	case "BODY", "TEXT":
		v, err := p.spThen(p.astring)
		if err != nil {
			return err
		}
		if key == "BODY" {
			c.Body = append(c.Body, v)
		} else {
			c.Text = append(c.Text, v)
		}
	case "SINCE", "BEFORE", "ON", "SENTSINCE", "SENTBEFORE", "SENTON":
		return p.searchDate(c, key)
	case "LARGER", "SMALLER":
		if err := p.sp(); err != nil {
			return err
		}
		n, err := p.number64()
		if err != nil {
			return err
		}
		if key == "LARGER" {
			and(c, &imap.SearchCriteria{Larger: n})
		} else {
			and(c, &imap.SearchCriteria{Smaller: n})
		}
	case "UID":
		if err := p.sp(); err != nil {
			return err
		}
		set, err := p.numSet(NumKindUID)
		if err != nil {
			return err
		}
		c.UID = append(c.UID, set.(imap.UIDSet))
	case "NOT", "OR":
		return p.searchNotOr(c, key, depth)
	case "MODSEQ":
		if p.c.condStore() == nil {
			return syntaxf("unknown search key %s", key)
		}
		return p.searchModSeq(c)
	default:
		return syntaxf("unknown search key %s", key)
	}
	return nil
}

// searchNotOr reads the operands of NOT (one key) or OR (two keys).
func (p *parser) searchNotOr(c *imap.SearchCriteria, key string, depth int) error {
	var ops [2]imap.SearchCriteria
	n := 1
	if key == "OR" {
		n = 2
	}
	for i := 0; i < n; i++ {
		if err := p.sp(); err != nil {
			return err
		}
		if err := p.searchKey(&ops[i], depth+1); err != nil {
			return err
		}
	}
	if key == "NOT" {
		c.Not = append(c.Not, ops[0])
	} else {
		c.Or = append(c.Or, ops)
	}
	return nil
}

// searchDate reads the date of SINCE, BEFORE, ON and their SENT forms. ON
// is SINCE the day and BEFORE the next, as go-imap's server has it.
func (p *parser) searchDate(c *imap.SearchCriteria, key string) error {
	if err := p.sp(); err != nil {
		return err
	}
	t, err := p.date()
	if err != nil {
		return err
	}
	var d imap.SearchCriteria
	switch key {
	case "SINCE":
		d.Since = t
	case "BEFORE":
		d.Before = t
	case "ON":
		d.Since, d.Before = t, t.Add(24*time.Hour)
	case "SENTSINCE":
		d.SentSince = t
	case "SENTBEFORE":
		d.SentBefore = t
	case "SENTON":
		d.SentSince, d.SentBefore = t, t.Add(24*time.Hour)
	}
	and(c, &d)
	return nil
}

// and intersects d into c. imap.SearchCriteria.And takes an unset (zero)
// Smaller as the smallest, so that "SMALLER 400 SENTSINCE 1-Jan-2023" lost
// its SMALLER under go-imap's server; here zero means unset for both
// sizes.
func and(c, d *imap.SearchCriteria) {
	larger, smaller := c.Larger, c.Smaller
	c.And(d)
	c.Larger = max(larger, d.Larger)
	switch {
	case smaller == 0:
		c.Smaller = d.Smaller
	case d.Smaller == 0:
		c.Smaller = smaller
	default:
		c.Smaller = min(smaller, d.Smaller)
	}
}

// spThen reads SP and then what read reads.
func (p *parser) spThen(read func() (string, error)) (string, error) {
	if err := p.sp(); err != nil {
		return "", err
	}
	return read()
}

// systemFlag returns the system flag named by a search key ("SEEN" is
// \Seen, "RECENT" \Recent).
func systemFlag(key string) imap.Flag {
	return imap.Flag(`\` + key[:1] + strings.ToLower(key[1:]))
}

// headerKeyName spells a header search key as a header name: "Bcc", "Cc",
// "From", "Subject", "To".
func headerKeyName(key string) string {
	return key[:1] + strings.ToLower(key[1:])
}
