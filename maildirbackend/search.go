package maildirbackend

import (
	"errors"
	"io/fs"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

// Search evaluates every RFC 9051 search key over the client's view. Flag,
// UID, sequence, size and date keys use memory; header, BODY and TEXT keys
// read the files, decoding MIME words, transfer encodings and charsets.
func (s *Session) Search(kind imapserver.NumKind, criteria *imap.SearchCriteria, options *imap.SearchOptions) (*imap.SearchData, error) {
	return s.search(kind == imapserver.NumKindUID, criteria, options)
}

func (s *Session) search(byUID bool, criteria *imap.SearchCriteria, options *imap.SearchOptions) (*imap.SearchData, error) {
	sel, err := s.selected()
	if err != nil {
		return nil, err
	}
	if keys, depth := searchSize(criteria); keys > maxSearchKeys || depth > maxSearchDepth {
		return nil, errSearchLimit
	}
	q := sel.compile(criteria)
	uids := sel.view.UIDs()
	flags, kwBits, keys, where := sel.f.flagTable(uids, sel)
	plan := sel.f.planContent(criteria, keys)
	ctx, stop := s.commandContext()
	defer stop()
	if len(plan.keys) > 0 {
		defer s.b.ftsSlot.scanning()()
	}
	matched, err := runSearch(ctx, len(uids), func(i int) (bool, error) {
		c := &candidate{f: sel.f, uid: uids[i], seq: uint32(i + 1), flags: flags[i], kwBits: kwBits, plan: plan, doc: plan.doc(i), prog: q,
			key: keys[i], where: &where[i]}
		defer c.close()
		r, err := c.eval(q, false)
		if err == nil && r == unknown {
			r, err = c.eval(q, true)
		}
		return r == yes, err
	})
	if err != nil {
		return nil, err
	}
	var (
		data   imap.SearchData
		seqSet imap.SeqSet
		uidSet imap.UIDSet
		hits   []imap.UID
	)
	for i, uid := range uids {
		if !matched[i] {
			continue
		}
		hits = append(hits, uid)
		num := uint32(i + 1)
		if byUID {
			num = uint32(uid)
		}
		if data.Min == 0 || num < data.Min {
			data.Min = num
		}
		if num > data.Max {
			data.Max = num
		}
		data.Count++
	}
	if usesModSeq(criteria) {
		// RFC 7162 section 3.1.5: the highest MODSEQ of the matches.
		data.ModSeq = sel.f.maxModSeq(hits)
	}
	uidSet = uidSetOf(hits)
	if !byUID {
		for _, uid := range hits {
			seqSet.AddNum(sel.view.SeqNum(uid))
		}
		data.All = compactSeqSet(seqSet)
	} else {
		data.All = uidSet
	}
	if options.ReturnSave {
		sel.searchRes = uidSet
	}
	return &data, nil
}

// uidSetOf builds a compact UID set from ascending UIDs.
func uidSetOf(uids []imap.UID) imap.UIDSet {
	var set imap.UIDSet
	for i := 0; i < len(uids); {
		j := i
		for j+1 < len(uids) && uids[j+1] == uids[j]+1 {
			j++
		}
		set = append(set, imap.UIDRange{Start: uids[i], Stop: uids[j]})
		i = j + 1
	}
	return set
}

func compactSeqSet(in imap.SeqSet) imap.SeqSet {
	var nums []uint32
	for _, r := range in {
		for n := r.Start; n <= r.Stop && n != 0; n++ {
			nums = append(nums, n)
		}
	}
	sort.Slice(nums, func(i, j int) bool { return nums[i] < nums[j] })
	var out imap.SeqSet
	for i := 0; i < len(nums); {
		j := i
		for j+1 < len(nums) && nums[j+1] == nums[j]+1 {
			j++
		}
		out = append(out, imap.SeqRange{Start: nums[i], Stop: nums[j]})
		i = j + 1
	}
	return out
}

// Limits of a SEARCH program. Dovecot refuses over-complex programs too;
// beyond these a client gets NO [LIMIT] before anything is evaluated.
const (
	maxSearchKeys  = 1000
	maxSearchDepth = 100
)

// errSearchLimit answers a SEARCH program over maxSearchKeys keys or
// maxSearchDepth levels of NOT and OR.
var errSearchLimit = &imap.Error{
	Type: imap.StatusResponseTypeNo,
	Code: imap.ResponseCodeLimit,
	Text: "Search program too complex",
}

// searchSize returns the number of keys in c and its nesting depth.
func searchSize(c *imap.SearchCriteria) (keys, depth int) {
	keys = len(c.SeqNum) + len(c.UID) + len(c.Flag) + len(c.NotFlag) + len(c.Header) + len(c.Body) + len(c.Text)
	for _, t := range []time.Time{c.Since, c.Before, c.SentSince, c.SentBefore} {
		if !t.IsZero() {
			keys++
		}
	}
	if c.Larger != 0 {
		keys++
	}
	if c.Smaller != 0 {
		keys++
	}
	sub := func(x *imap.SearchCriteria) {
		k, d := searchSize(x)
		keys += k
		depth = max(depth, d)
	}
	for i := range c.Not {
		keys++
		sub(&c.Not[i])
	}
	for i := range c.Or {
		keys++
		sub(&c.Or[i][0])
		sub(&c.Or[i][1])
	}
	if len(c.Not) > 0 || len(c.Or) > 0 {
		depth++
	}
	return keys, depth
}

// query is a search criteria with its sequence and UID sets resolved
// against the view into sorted, merged ranges: a set costs its number of
// ranges, not of messages, and is evaluated in O(log ranges).
type query struct {
	c    *imap.SearchCriteria
	sets []numRanges
	not  []*query
	or   [][2]*query
}

// numRanges is a resolved sequence set (bySeq) or UID set: ascending,
// disjoint closed ranges.
type numRanges struct {
	bySeq  bool
	ranges [][2]uint32
}

func (n *numRanges) contains(seq uint32, uid imap.UID) bool {
	v := uint32(uid)
	if n.bySeq {
		v = seq
	}
	i := sort.Search(len(n.ranges), func(i int) bool { return n.ranges[i][1] >= v })
	return i < len(n.ranges) && n.ranges[i][0] <= v
}

// resolveRanges resolves "*" (and "$") of a set against the view.
func (sel *selection) resolveRanges(set imap.NumSet) numRanges {
	uids := sel.view.UIDs()
	if imap.IsSearchRes(set) {
		set = sel.searchRes
	}
	var out numRanges
	switch set := set.(type) {
	case imap.SeqSet:
		out.bySeq = true
		n := uint32(len(uids))
		for _, r := range set {
			out.add(r.Start, r.Stop, n)
		}
	case imap.UIDSet:
		var last uint32
		if len(uids) > 0 {
			last = uint32(uids[len(uids)-1])
		}
		for _, r := range set {
			out.add(uint32(r.Start), uint32(r.Stop), last)
		}
	}
	out.merge()
	return out
}

// add adds start:stop, 0 standing for star.
func (n *numRanges) add(start, stop, star uint32) {
	if start == 0 {
		start = star
	}
	if stop == 0 {
		stop = star
	}
	if start > stop {
		start, stop = stop, start
	}
	if start == 0 {
		start = 1
	}
	if stop >= start {
		n.ranges = append(n.ranges, [2]uint32{start, stop})
	}
}

func (n *numRanges) merge() {
	sort.Slice(n.ranges, func(i, j int) bool { return n.ranges[i][0] < n.ranges[j][0] })
	out := n.ranges[:0]
	for _, r := range n.ranges {
		if k := len(out); k > 0 && (r[0] <= out[k-1][1] || r[0] == out[k-1][1]+1) {
			out[k-1][1] = max(out[k-1][1], r[1])
			continue
		}
		out = append(out, r)
	}
	n.ranges = out
}

func (sel *selection) compile(c *imap.SearchCriteria) *query {
	q := &query{c: c}
	for _, set := range c.SeqNum {
		q.sets = append(q.sets, sel.resolveRanges(set))
	}
	for _, set := range c.UID {
		q.sets = append(q.sets, sel.resolveRanges(set))
	}
	for i := range c.Not {
		q.not = append(q.not, sel.compile(&c.Not[i]))
	}
	for i := range c.Or {
		q.or = append(q.or, [2]*query{sel.compile(&c.Or[i][0]), sel.compile(&c.Or[i][1])})
	}
	return q
}

// candidate is one message being matched; what it needs is loaded once.
type candidate struct {
	f       *folder
	uid     imap.UID
	seq     uint32
	sn      snapshot
	snapped bool
	file    *os.File // open while header, BODY or TEXT keys read it
	gone    bool

	flags  *flagSet          // nil: expunged on disk
	kwBits map[string]uint32 // lower-case keyword name to its bit

	key     string       // the message's key when the search began ("": gone)
	where   *msgWhere    // where its file was then; may be nil
	prog    *query       // the whole program
	plan    *contentPlan // the program's BODY and TEXT keys
	doc     int64        // its full-text index document; -1: not indexed
	hits    []bool       // per content key of plan, once the file was read
	partial []bool       // per content key, found so far, while the file is read

	modSeq uint64 // 0 until a MODSEQ key needs it (condstore.go)
}

// flagTable returns the flags of each UID (nil when gone), the folder's
// keyword bits, each UID's key ("" when gone) and where its file was, read
// under one lock: flag keys then cost no lock and no allocation per
// message, and reading a file takes no lock either (searchopen.go).
func (f *folder) flagTable(uids []imap.UID, sel *selection) ([]*flagSet, map[string]uint32, []string, []msgWhere) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]*flagSet, len(uids))
	keys := make([]string, len(uids))
	where := make([]msgWhere, len(uids))
	sets := make([]flagSet, len(uids)) // one allocation, not one per message
	j := 0
	for i, uid := range uids {
		for j < len(f.msgs) && f.msgs[j].uid < uid {
			j++
		}
		if j < len(f.msgs) && f.msgs[j].uid == uid {
			sets[i] = f.msgs[j].flags
			sets[i].recent = sel.recent[uid]
			out[i] = &sets[i]
			keys[i] = f.msgs[j].key
			where[i] = msgWhere{inNew: f.msgs[j].inNew, info: f.msgs[j].info, content: f.msgs[j].content}
		}
	}
	kw := make(map[string]uint32)
	for i := 0; i < 26; i++ {
		if name, ok := f.keywords.Name(byte('a' + i)); ok {
			kw[strings.ToLower(name)] = 1 << i
		}
	}
	return out, kw, keys, where
}

// hasFlag reports whether the message has flag fl (\Recent as this
// session sees it).
func (c *candidate) hasFlag(fl imap.Flag) bool {
	if bit := stdFlag(fl); bit != 0 {
		return c.flags.std&bit != 0
	}
	if strings.EqualFold(string(fl), `\Recent`) {
		return c.flags.recent
	}
	if strings.HasPrefix(string(fl), `\`) {
		return false
	}
	bit := c.kwBits[strings.ToLower(string(fl))]
	return bit != 0 && c.flags.kw&bit != 0
}

func (c *candidate) snapshot() *snapshot {
	if !c.snapped {
		c.snapped = true
		var ok bool
		c.sn, ok = c.f.snap(c.uid)
		c.gone = !ok
	}
	return &c.sn
}

// fill learns what the date and size keys of cr need: INTERNALDATE (a
// stat), RFC822.SIZE (the name's W=, or the cache, or a parse) and the
// Date field (the cache, or the header).
func (c *candidate) fill(cr *imap.SearchCriteria) error {
	var need needs
	if !cr.Since.IsZero() || !cr.Before.IsZero() {
		need |= needDate
	}
	if (cr.Larger != 0 || cr.Smaller != 0) && c.snapshot().vsize < 0 {
		need |= needComplete
	}
	if !cr.SentSince.IsZero() || !cr.SentBefore.IsZero() {
		need |= needSummary
	}
	return c.fillNeeds(need)
}

// fillNeeds fills need of the candidate's snapshot, marking it gone when
// its file is.
func (c *candidate) fillNeeds(need needs) error {
	sn := c.snapshot()
	if c.gone {
		return nil
	}
	err := c.f.fillNeeds(sn, sn.lacks(need))
	if errors.Is(err, fs.ErrNotExist) {
		c.gone = true
		return nil
	}
	return err
}

// open returns the message file, opened once per candidate; nil when the
// message is gone.
func (c *candidate) open() (*os.File, error) {
	sn := c.snapshot()
	if c.file != nil || c.gone {
		return c.file, nil
	}
	file, err := c.f.openMessage(sn)
	if errors.Is(err, fs.ErrNotExist) {
		c.gone = true
		return nil, nil
	}
	c.file = file
	return file, err
}

func (c *candidate) close() {
	if c.file != nil {
		c.file.Close()
		c.file = nil
	}
}

// matchDate compares dates only, ignoring time and zone (RFC 3501 6.4.4).
func matchDate(t, since, before time.Time) bool {
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	if !since.IsZero() && d.Before(time.Date(since.Year(), since.Month(), since.Day(), 0, 0, 0, 0, time.UTC)) {
		return false
	}
	if !before.IsZero() && !d.Before(time.Date(before.Year(), before.Month(), before.Day(), 0, 0, 0, 0, time.UTC)) {
		return false
	}
	return true
}
