package maildirbackend

import (
	"bytes"
	"errors"
	"io/fs"
	"sort"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/imapmsg"
)

// Search evaluates every RFC 9051 search key over the client's view. Flag,
// UID, sequence, size and date keys use memory; header, BODY and TEXT keys
// read the files, decoding MIME words, transfer encodings and charsets.
func (s *Session) Search(kind imapserver.NumKind, criteria *imap.SearchCriteria, options *imap.SearchOptions) (*imap.SearchData, error) {
	sel, err := s.selected()
	if err != nil {
		return nil, err
	}
	q := sel.compile(criteria)
	headerOnly := !needsBody(criteria)
	uids := sel.view.UIDs()
	flags, kwBits := sel.f.flagTable(uids, sel)
	var (
		data   imap.SearchData
		seqSet imap.SeqSet
		uidSet imap.UIDSet
		hits   []imap.UID
	)
	for i, uid := range uids {
		c := &candidate{f: sel.f, uid: uid, seq: uint32(i + 1), flags: flags[i], kwBits: kwBits, headerOnly: headerOnly}
		ok, err := c.match(q)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		hits = append(hits, uid)
		num := c.seq
		if kind == imapserver.NumKindUID {
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
	uidSet = uidSetOf(hits)
	if kind == imapserver.NumKindSeq {
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

// query is a search criteria with its sequence and UID sets resolved
// against the view into sorted UID lists.
type query struct {
	c    *imap.SearchCriteria
	sets [][]imap.UID
	not  []*query
	or   [][2]*query
}

func (sel *selection) compile(c *imap.SearchCriteria) *query {
	q := &query{c: c}
	for _, set := range c.SeqNum {
		q.sets = append(q.sets, sel.resolve(set))
	}
	for _, set := range c.UID {
		q.sets = append(q.sets, sel.resolve(set))
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
	filled  bool
	content []byte
	read    bool
	gone    bool

	headerOnly bool // the query reads headers only: content is the header

	flags  *flagSet          // nil: expunged on disk
	kwBits map[string]uint32 // lower-case keyword name to its bit
}

// flagTable returns the flags of each UID (nil when gone) and the folder's
// keyword bits, read under one lock: flag keys then cost no lock and no
// allocation per message.
func (f *folder) flagTable(uids []imap.UID, sel *selection) ([]*flagSet, map[string]uint32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]*flagSet, len(uids))
	j := 0
	for i, uid := range uids {
		for j < len(f.msgs) && f.msgs[j].uid < uid {
			j++
		}
		if j < len(f.msgs) && f.msgs[j].uid == uid {
			fs := f.msgs[j].flags
			fs.recent = sel.recent[uid]
			out[i] = &fs
		}
	}
	kw := make(map[string]uint32)
	for i := 0; i < 26; i++ {
		if name, ok := f.keywords.Name(byte('a' + i)); ok {
			kw[strings.ToLower(name)] = 1 << i
		}
	}
	return out, kw
}

// needsBody reports whether a search key anywhere in c reads past the
// header (BODY, TEXT): otherwise only message headers are read, a small
// part of a mailbox's bytes.
func needsBody(c *imap.SearchCriteria) bool {
	if len(c.Body) > 0 || len(c.Text) > 0 {
		return true
	}
	for i := range c.Not {
		if needsBody(&c.Not[i]) {
			return true
		}
	}
	for i := range c.Or {
		if needsBody(&c.Or[i][0]) || needsBody(&c.Or[i][1]) {
			return true
		}
	}
	return false
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

func (c *candidate) fill() error {
	sn := c.snapshot()
	if c.filled || c.gone {
		return nil
	}
	c.filled = true
	err := c.f.fill(sn, &imap.FetchOptions{InternalDate: true, RFC822Size: true, Envelope: true})
	if errors.Is(err, fs.ErrNotExist) {
		c.gone = true
		return nil
	}
	return err
}

func (c *candidate) body() ([]byte, error) {
	sn := c.snapshot()
	if c.read || c.gone {
		return c.content, nil
	}
	c.read = true
	read := c.f.readMessage
	if c.headerOnly {
		read = c.f.readHeader
	}
	b, err := read(sn)
	if errors.Is(err, fs.ErrNotExist) {
		c.gone = true
		return nil, nil
	}
	c.content = b
	return b, err
}

func (c *candidate) match(q *query) (bool, error) {
	for _, set := range q.sets {
		i := sort.Search(len(set), func(i int) bool { return set[i] >= c.uid })
		if i == len(set) || set[i] != c.uid {
			return false, nil
		}
	}
	cr := q.c
	if len(cr.Flag) > 0 || len(cr.NotFlag) > 0 {
		if c.flags == nil {
			return false, nil
		}
		for _, fl := range cr.Flag {
			if !c.hasFlag(fl) {
				return false, nil
			}
		}
		for _, fl := range cr.NotFlag {
			if c.hasFlag(fl) {
				return false, nil
			}
		}
	}
	if cr.Larger != 0 || cr.Smaller != 0 || !cr.Since.IsZero() || !cr.Before.IsZero() ||
		!cr.SentSince.IsZero() || !cr.SentBefore.IsZero() {
		if err := c.fill(); err != nil {
			return false, err
		}
		if c.gone {
			return false, nil
		}
		sn := c.snapshot()
		if cr.Larger != 0 && sn.vsize <= cr.Larger {
			return false, nil
		}
		if cr.Smaller != 0 && sn.vsize >= cr.Smaller {
			return false, nil
		}
		if !matchDate(time.Unix(sn.mtime, 0).UTC(), cr.Since, cr.Before) {
			return false, nil
		}
		if !cr.SentSince.IsZero() || !cr.SentBefore.IsZero() {
			var sent time.Time
			if sn.parsed != nil && sn.parsed.Envelope != nil {
				sent = sn.parsed.Envelope.Date
			}
			if sent.IsZero() || !matchDate(sent, cr.SentSince, cr.SentBefore) {
				return false, nil
			}
		}
	}
	for _, h := range cr.Header {
		if strings.EqualFold(h.Key, "Subject") {
			// A client's header listing cached the envelope: answer
			// SUBJECT from it, without opening the file.
			if ok, answered := imapmsg.MatchSubject(c.snapshot().parsed, h.Value); answered {
				if !ok {
					return false, nil
				}
				continue
			}
		}
		b, err := c.body()
		if err != nil || c.gone {
			return false, err
		}
		ok, err := imapmsg.MatchHeader(bytes.NewReader(b), h.Key, h.Value)
		if err != nil || !ok {
			return false, err
		}
	}
	if len(cr.Body) > 0 || len(cr.Text) > 0 {
		b, err := c.body()
		if err != nil {
			return false, err
		}
		if c.gone {
			return false, nil
		}
		for _, v := range cr.Body {
			ok, err := imapmsg.MatchBody(bytes.NewReader(b), v)
			if err != nil || !ok {
				return false, err
			}
		}
		for _, v := range cr.Text {
			ok, err := imapmsg.MatchText(bytes.NewReader(b), v)
			if err != nil || !ok {
				return false, err
			}
		}
	}
	for _, n := range q.not {
		ok, err := c.match(n)
		if err != nil || ok {
			return false, err
		}
	}
	for _, or := range q.or {
		ok, err := c.match(or[0])
		if err != nil {
			return false, err
		}
		if !ok {
			if ok, err = c.match(or[1]); err != nil || !ok {
				return false, err
			}
		}
	}
	return true, nil
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
