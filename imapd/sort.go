package imapd

import (
	"strings"

	"github.com/emersion/go-imap/v2"
)

// SORT and UID SORT (RFC 5256), with SORT=DISPLAY (RFC 5957) and ESORT
// (RFC 5267).

func init() {
	register(selected, handleSort, "SORT", "UID SORT")
}

// sortArgs is a parsed SORT command.
type sortArgs struct {
	criteria []SortCriterion
	search   *imap.SearchCriteria
	opts     imap.SearchOptions
	extended bool // RETURN was given: the answer is ESEARCH
}

func handleSort(c *Conn, cmd *command) error {
	s, ok := c.session.(SessionSort)
	if !ok {
		return &imap.Error{Type: imap.StatusResponseTypeBad, Text: "Unknown command " + cmd.name}
	}
	a, err := cmd.p.sortArgs()
	if err != nil {
		return err
	}
	nums, err := s.Sort(cmd.kind, a.criteria, a.search)
	if err != nil {
		return err
	}
	modSeq, err := sortModSeq(c, cmd.kind, a.search, nums)
	if err != nil {
		return err
	}
	e := &c.enc
	e.lock()
	defer e.unlock()
	if a.extended {
		writeESort(e, cmd.tag, cmd.kind, nums, &a.opts, modSeq)
	} else {
		e.raw("* SORT")
		for _, n := range nums {
			e.sp().num(n)
		}
		if modSeq != 0 {
			e.raw(" (MODSEQ ").num64(int64(modSeq)).byte(')')
		}
		e.crlf()
	}
	return e.err
}

// sortModSeq is the MODSEQ a SORT answer carries (RFC 7162 3.1.5): when
// the search program has a MODSEQ key and messages matched, the highest
// MODSEQ among them, which the session's SEARCH of the same program
// reports; 0 otherwise.
func sortModSeq(c *Conn, kind NumKind, search *imap.SearchCriteria, nums []uint32) (uint64, error) {
	if len(nums) == 0 || !usesModSeq(search) {
		return 0, nil
	}
	data, err := c.session.Search(kind, search, &imap.SearchOptions{})
	if err != nil {
		return 0, err
	}
	return data.ModSeq, nil
}

// usesModSeq reports whether a search program has a MODSEQ key.
func usesModSeq(c *imap.SearchCriteria) bool {
	if c == nil {
		return false
	}
	if c.ModSeq != nil {
		return true
	}
	for i := range c.Not {
		if usesModSeq(&c.Not[i]) {
			return true
		}
	}
	for i := range c.Or {
		if usesModSeq(&c.Or[i][0]) || usesModSeq(&c.Or[i][1]) {
			return true
		}
	}
	return false
}

// sortArgs reads SP [RETURN SP "(" opts ")" SP] "(" sort-criteria ")" SP
// charset SP search-program CRLF.
func (p *parser) sortArgs() (*sortArgs, error) {
	a := new(sortArgs)
	if err := p.sp(); err != nil {
		return nil, err
	}
	if b, err := p.peek(); err != nil {
		return nil, err
	} else if b != '(' {
		kw, err := p.atom()
		if err != nil {
			return nil, err
		}
		if !strings.EqualFold(kw, "RETURN") {
			return nil, syntaxf("expected sort criteria")
		}
		if err := p.sp(); err != nil {
			return nil, err
		}
		if err := p.returnOpts(&a.opts, false); err != nil {
			return nil, err
		}
		if !a.opts.ReturnMin && !a.opts.ReturnMax && !a.opts.ReturnCount {
			a.opts.ReturnAll = true
		}
		a.extended = true
		if err := p.sp(); err != nil {
			return nil, err
		}
	}
	var err error
	if a.criteria, err = p.sortCriteria(); err != nil {
		return nil, err
	}
	if a.search, err = p.charsetAndProgram(); err != nil {
		return nil, err
	}
	return a, nil
}

// charsetAndProgram reads SP charset SP search-program CRLF, as SORT and
// THREAD have them. A charset other than US-ASCII and UTF-8 is refused once
// the command is read.
func (p *parser) charsetAndProgram() (*imap.SearchCriteria, error) {
	cs, err := p.spThen(p.astring)
	if err != nil {
		return nil, err
	}
	if err := p.sp(); err != nil {
		return nil, err
	}
	crit, err := p.searchProgram("")
	if err != nil {
		return nil, err
	}
	if err := p.crlf(); err != nil {
		return nil, err
	}
	if err := checkCharset(cs); err != nil {
		return nil, err
	}
	return crit, nil
}

// sortKeys are the sort keys of RFC 5256 and RFC 5957.
var sortKeys = map[string]bool{
	"ARRIVAL": true, "CC": true, "DATE": true, "FROM": true, "SIZE": true,
	"SUBJECT": true, "TO": true, "DISPLAYFROM": true, "DISPLAYTO": true,
}

// sortCriteria reads "(" sort-criterion *(SP sort-criterion) ")", where
// sort-criterion is ["REVERSE" SP] sort-key.
func (p *parser) sortCriteria() ([]SortCriterion, error) {
	var l []SortCriterion
	err := p.list(func() error {
		key, err := p.atom()
		if err != nil {
			return err
		}
		var sc SortCriterion
		if strings.EqualFold(key, "REVERSE") {
			sc.Reverse = true
			if key, err = p.spThen(p.atom); err != nil {
				return err
			}
		}
		sc.Key = strings.ToUpper(key)
		if !sortKeys[sc.Key] {
			return syntaxf("unknown sort key %s", key)
		}
		l = append(l, sc)
		return nil
	})
	if err == nil && len(l) == 0 {
		err = syntaxf("empty sort criteria")
	}
	return l, err
}

// writeESort writes the ESEARCH answer of a SORT with RETURN (RFC 5267):
// MIN and MAX are the first and last messages in the sorted order, and ALL
// lists the messages in that order.
func writeESort(e *encoder, tag string, kind NumKind, nums []uint32, o *imap.SearchOptions, modSeq uint64) {
	e.raw("* ESEARCH (TAG ").quoted(tag).byte(')')
	if kind == NumKindUID {
		e.raw(" UID")
	}
	if len(nums) > 0 {
		if o.ReturnMin {
			e.raw(" MIN ").num(nums[0])
		}
		if o.ReturnMax {
			e.raw(" MAX ").num(nums[len(nums)-1])
		}
		if o.ReturnAll {
			e.raw(" ALL ")
			writeOrderedSet(e, nums)
		}
	}
	if o.ReturnCount {
		e.raw(" COUNT ").num(uint32(len(nums)))
	}
	if modSeq != 0 {
		e.raw(" MODSEQ ").num64(int64(modSeq))
	}
	e.crlf()
}

// writeOrderedSet writes nums as a sequence set that keeps their order:
// only runs that ascend by one become ranges ("1:3,7,5").
func writeOrderedSet(e *encoder, nums []uint32) {
	for i := 0; i < len(nums); {
		j := i
		for j+1 < len(nums) && nums[j+1] == nums[j]+1 {
			j++
		}
		if i > 0 {
			e.byte(',')
		}
		e.num(nums[i])
		if j > i {
			e.byte(':').num(nums[j])
		}
		i = j + 1
	}
}
