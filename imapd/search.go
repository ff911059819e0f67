package imapd

import (
	"fmt"
	"strings"

	"github.com/emersion/go-imap/v2"
)

// SEARCH and UID SEARCH (RFC 9051 section 6.4.4), with ESEARCH (RFC 4731)
// and SEARCHRES (RFC 5182).

func init() {
	register(selected, handleSearch, "SEARCH", "UID SEARCH")
}

// errBadCharset answers a CHARSET other than US-ASCII and UTF-8.
var errBadCharset = &imap.Error{
	Type: imap.StatusResponseTypeNo,
	Code: imap.ResponseCodeBadCharset + " (US-ASCII UTF-8)",
	Text: "Only US-ASCII and UTF-8 are supported",
}

// searchArgs is a parsed SEARCH, SORT or THREAD command.
type searchArgs struct {
	criteria *imap.SearchCriteria
	opts     imap.SearchOptions
	// extended is set when RETURN was given: the answer is ESEARCH.
	extended bool
	// saveOnly is set when RETURN asked for SAVE and nothing else: no
	// ESEARCH is sent (RFC 5182 section 2.4).
	saveOnly bool
}

func handleSearch(c *Conn, cmd *command) error {
	a, err := cmd.p.searchArgs()
	if err != nil {
		return err
	}
	data, err := c.session.Search(cmd.kind, a.criteria, &a.opts)
	if err != nil {
		return err
	}
	e := &c.enc
	e.lock()
	defer e.unlock()
	switch {
	case a.saveOnly:
	case a.extended || e.rev2:
		writeESearch(e, cmd.tag, cmd.kind, data, &a.opts)
	default:
		if err := writeSearch(e, data.All, data.ModSeq); err != nil {
			return err
		}
	}
	return e.err
}

// searchArgs reads SP [RETURN SP "(" opts ")" SP] [CHARSET SP astring SP]
// search-key *(SP search-key) CRLF.
func (p *parser) searchArgs() (*searchArgs, error) {
	a := new(searchArgs)
	if err := p.sp(); err != nil {
		return nil, err
	}
	first, err := p.maybeSearchAtom()
	if err != nil {
		return nil, err
	}
	if strings.EqualFold(first, "RETURN") {
		if err := p.sp(); err != nil {
			return nil, err
		}
		if err := p.returnOpts(&a.opts, true); err != nil {
			return nil, err
		}
		a.extended = true
		a.saveOnly = a.opts.ReturnSave && !a.opts.ReturnMin && !a.opts.ReturnMax && !a.opts.ReturnAll && !a.opts.ReturnCount
		if err := p.sp(); err != nil {
			return nil, err
		}
		if first, err = p.maybeSearchAtom(); err != nil {
			return nil, err
		}
	}
	charsetErr := error(nil)
	if strings.EqualFold(first, "CHARSET") {
		if err := p.sp(); err != nil {
			return nil, err
		}
		cs, err := p.astring()
		if err != nil {
			return nil, err
		}
		charsetErr = checkCharset(cs)
		if err := p.sp(); err != nil {
			return nil, err
		}
		if first, err = p.maybeSearchAtom(); err != nil {
			return nil, err
		}
	}
	if a.criteria, err = p.searchProgram(first); err != nil {
		return nil, err
	}
	if err := p.crlf(); err != nil {
		return nil, err
	}
	if charsetErr != nil {
		return nil, charsetErr
	}
	if !a.opts.ReturnMin && !a.opts.ReturnMax && !a.opts.ReturnAll && !a.opts.ReturnCount {
		a.opts.ReturnAll = true
	}
	return a, nil
}

// maybeSearchAtom reads an atom if one comes next (not a sequence set, "$"
// or "("), else returns "".
func (p *parser) maybeSearchAtom() (string, error) {
	b, err := p.peek()
	if err != nil {
		return "", err
	}
	if b == '(' || startsNumSet(b) {
		return "", nil
	}
	return p.atom()
}

// checkCharset accepts the charsets whose strings are UTF-8.
func checkCharset(cs string) error {
	if strings.EqualFold(cs, "US-ASCII") || strings.EqualFold(cs, "UTF-8") {
		return nil
	}
	return errBadCharset
}

// returnOpts reads "(" [search-return-opt *(SP search-return-opt)] ")";
// SAVE only when save is set (SEARCH, not SORT).
func (p *parser) returnOpts(o *imap.SearchOptions, save bool) error {
	return p.list(func() error {
		a, err := p.atom()
		if err != nil {
			return err
		}
		switch strings.ToUpper(a) {
		case "MIN":
			o.ReturnMin = true
		case "MAX":
			o.ReturnMax = true
		case "ALL":
			o.ReturnAll = true
		case "COUNT":
			o.ReturnCount = true
		case "SAVE":
			if !save {
				return syntaxf("RETURN option SAVE is not supported here")
			}
			o.ReturnSave = true
		default:
			return syntaxf("unknown RETURN option %s", a)
		}
		return nil
	})
}

// writeESearch writes "* ESEARCH (TAG "tag") [UID] [MIN n] [MAX n] [ALL
// set] [COUNT n]", in Dovecot's order; MIN, MAX and ALL are left out when
// nothing matched.
func writeESearch(e *encoder, tag string, kind NumKind, data *imap.SearchData, o *imap.SearchOptions) {
	e.raw("* ESEARCH (TAG ").quoted(tag).byte(')')
	if kind == NumKindUID {
		e.raw(" UID")
	}
	if o.ReturnMin && data.Min > 0 {
		e.raw(" MIN ").num(data.Min)
	}
	if o.ReturnMax && data.Max > 0 {
		e.raw(" MAX ").num(data.Max)
	}
	if o.ReturnAll && data.All != nil && !numSetEmpty(data.All) {
		e.raw(" ALL ").numSet(data.All)
	}
	if o.ReturnCount {
		e.raw(" COUNT ").num(data.Count)
	}
	if data.ModSeq != 0 {
		e.raw(" MODSEQ ").num64(int64(data.ModSeq))
	}
	e.crlf()
}

func numSetEmpty(s imap.NumSet) bool {
	switch s := s.(type) {
	case imap.SeqSet:
		return len(s) == 0
	case imap.UIDSet:
		return len(s) == 0
	}
	return true
}

// writeSearch writes "* SEARCH n n ...", the IMAP4rev1 answer.
func writeSearch(e *encoder, all imap.NumSet, modSeq uint64) error {
	nums, err := searchNums(all)
	if err != nil {
		return err
	}
	e.raw("* SEARCH")
	for _, n := range nums {
		e.sp().num(n)
	}
	if modSeq != 0 && len(nums) > 0 {
		e.raw(" (MODSEQ ").num64(int64(modSeq)).byte(')')
	}
	e.crlf()
	return nil
}

// searchNums lists the numbers of a search result.
func searchNums(all imap.NumSet) ([]uint32, error) {
	var nums []uint32
	ok := true
	switch s := all.(type) {
	case imap.SeqSet:
		nums, ok = s.Nums()
	case imap.UIDSet:
		var uids []imap.UID
		uids, ok = s.Nums()
		nums = make([]uint32, len(uids))
		for i, u := range uids {
			nums[i] = uint32(u)
		}
	}
	if !ok {
		return nil, fmt.Errorf("imapd: SEARCH result %v has no end", all)
	}
	return nums, nil
}
