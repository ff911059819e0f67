package interop

import (
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
)

// CONDSTORE (RFC 7162) in the differential test. The two servers' MODSEQ
// values differ (Dovecot counts from 1, maildir-imapd from a time-derived
// base: docs/differences.md), so the steps never name one: a MARK step
// records, in each world, the session's HIGHESTMODSEQ of its selected
// mailbox, and "$MARK" in a later command stands for it. What is compared
// is the structure: which messages changed since the mark (FETCH
// CHANGEDSINCE, SEARCH MODSEQ), which STORE (UNCHANGEDSINCE) refused
// ([MODIFIED set]); MODSEQ and HIGHESTMODSEQ values are normalised to "_".
//
// The steps come from a random stream of their own, so that every other
// step of a seed stays what it was.

// markRef is what a CONDSTORE step writes for the session's mark.
const markRef = "$MARK"

// condStoreStep returns a CONDSTORE or QRESYNC step about one time in
// fifteen.
func (g *gen) condStoreStep() (step, bool) {
	if g.cs == nil || g.cs.IntN(1000) >= 70 {
		return step{}, false
	}
	pick := func(xs []string) string { return xs[g.cs.IntN(len(xs))] }
	s := step{Sess: g.cs.IntN(g.nsess)}
	switch g.cs.IntN(11) {
	case 0:
		s.Cmd = "STATUS " + quote(pick(diffNames)) + " (HIGHESTMODSEQ MESSAGES)"
	case 1, 2:
		s.Cmd = "MARK"
	case 8, 9, 10:
		s.Cmd = "QRESYNC"
	case 3:
		s.Cmd = "UID FETCH " + pick(diffUIDSets) + " (FLAGS) (CHANGEDSINCE " + markRef + ")"
	case 4:
		s.Cmd = "FETCH " + pick(diffSeqSets) + " (UID MODSEQ) (CHANGEDSINCE " + markRef + ")"
	case 5:
		// MODSEQ n finds the messages changed at n or later: $MARK+1 asks
		// for those changed after the mark (a message at the mark may be
		// one of many that Dovecot gives the modseq at which it began
		// to count them).
		s.Cmd = pick([]string{"UID SEARCH MODSEQ ", "SEARCH MODSEQ ", "UID SEARCH RETURN (ALL COUNT) MODSEQ ", "SEARCH UNSEEN MODSEQ "}) + markRef + "+1"
	default:
		s.Cmd = "UID STORE " + pick(diffUIDSets) + " (UNCHANGEDSINCE " + markRef + ") " +
			pick([]string{"+FLAGS ", "-FLAGS ", "+FLAGS.SILENT "}) + "(" + pick(diffFlags) + ")"
	}
	return s, true
}

// newCondStoreStream is the CONDSTORE steps' random stream of a seed.
func newCondStoreStream(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 7162)) }

// withMark handles the CONDSTORE steps of a session: MARK records the
// mark and answers "marked" (done); a command with $MARK gets the mark in
// its place (taken first when the session has none for its mailbox).
func (w *world) withMark(s *session, cmd string) (text string, done bool, out []string, err error) {
	if cmd == "QRESYNC" {
		out, err := w.qresync(s)
		return "", true, out, err
	}
	if cmd != "MARK" && !strings.Contains(cmd, markRef) {
		return cmd, false, nil, nil
	}
	if s.selected == "" {
		if cmd == "MARK" {
			return "", true, []string{"not selected"}, nil
		}
		return strings.ReplaceAll(strings.ReplaceAll(cmd, markRef+"+1", "1"), markRef, "1"), false, nil, nil // both: no mailbox selected
	}
	stale := false
	if cmd != "MARK" && s.markBox == s.selected {
		// A mark of an earlier incarnation of the name (deleted and made
		// again, by a session or another program) is not comparable: the
		// two servers number a new mailbox's MODSEQs differently.
		uv, err := w.uidValidityOf(s, s.selected)
		if err != nil {
			return "", true, nil, err
		}
		stale = uv != s.markUV
	}
	if cmd == "MARK" || s.markBox != s.selected || stale {
		if err := w.takeMark(s); err != nil {
			return "", true, nil, err
		}
		if cmd == "MARK" {
			return "", true, []string{"marked"}, nil
		}
	}
	next := s.mark
	if n, err := strconv.ParseUint(s.mark, 10, 64); err == nil {
		next = strconv.FormatUint(n+1, 10)
	}
	cmd = strings.ReplaceAll(cmd, markRef+"+1", next)
	return strings.ReplaceAll(cmd, markRef, s.mark), false, nil, nil
}

// takeMark records the session's mark: HIGHESTMODSEQ and UIDVALIDITY of
// its selected mailbox, and the UIDs it has (the known-uids of a later
// QRESYNC step).
func (w *world) takeMark(s *session) error {
	rs, err := s.w.cmd("STATUS " + s.selected + " (HIGHESTMODSEQ UIDVALIDITY)")
	if err != nil {
		return err
	}
	w.absorb(s, "STATUS", rs)
	s.mark, s.markBox = highestModSeqOf(rs), s.selected
	s.markUV = statusItemOf(rs, "UIDVALIDITY")
	rs, err = s.w.cmd("UID SEARCH ALL")
	if err != nil {
		return err
	}
	w.absorb(s, "UID SEARCH", rs)
	s.markUIDs = ""
	for _, r := range rs {
		if len(r.vals) > 0 && strings.EqualFold(r.vals[0].s, "SEARCH") {
			var uids []string
			for _, v := range r.vals[1:] {
				uids = append(uids, v.s)
			}
			s.markUIDs = strings.Join(uids, ",")
		}
	}
	return nil
}

// uidValidityOf asks a session for the UIDVALIDITY of a mailbox.
func (w *world) uidValidityOf(s *session, box string) (string, error) {
	rs, err := s.w.cmd("STATUS " + box + " (UIDVALIDITY)")
	if err != nil {
		return "", err
	}
	w.absorb(s, "STATUS", rs)
	return statusItemOf(rs, "UIDVALIDITY"), nil
}

// statusItemOf finds a STATUS item's value in an answer, "" if none.
func statusItemOf(rs []resp, item string) string {
	for _, r := range rs {
		if len(r.vals) == 3 && strings.EqualFold(r.vals[0].s, "STATUS") {
			l := r.vals[2].l
			for i := 0; i+1 < len(l); i += 2 {
				if strings.EqualFold(l[i].s, item) {
					return l[i+1].s
				}
			}
		}
	}
	return ""
}

// qresync is the QRESYNC step: a new connection of the same user, QRESYNC
// enabled, EXAMINEs the session's marked mailbox with (QRESYNC (uidvalidity
// mark known-uids)), the UIDs the session had at the mark, then asks UID
// FETCH 1:* (FLAGS) (CHANGEDSINCE mark VANISHED). The result is what each
// said vanished and which messages changed, by UID; the connection is not
// one of the modelled sessions.
func (w *world) qresync(s *session) ([]string, error) {
	if s.markUV == "" {
		return []string{"no mark"}, nil // the mark stays when the session selects another mailbox
	}
	c, err := dialRaw(w.addr(), func(dir, line string) { w.log.add("q " + dir + ": " + line) })
	if err != nil {
		return nil, err
	}
	defer c.close()
	if _, err := c.cmd("ENABLE QRESYNC"); err != nil {
		return nil, err
	}
	known := ""
	if s.markUIDs != "" {
		known = " " + s.markUIDs
	}
	out := []string{"EXAMINE (QRESYNC)"}
	rs, err := c.cmd("EXAMINE " + s.markBox + " (QRESYNC (" + s.markUV + " " + s.mark + known + "))")
	if err != nil {
		return nil, err
	}
	out = append(out, qresyncLines(rs)...)
	if uv := uidValidityCodeOf(rs); uv != s.markUV {
		// The name was made again since the mark: the server ignored
		// the QRESYNC parameters (RFC 7162 3.2.5), and the mark's MODSEQ
		// means nothing in the new mailbox, whose MODSEQs each server
		// numbers its own way (Dovecot from 1, maildir-imapd from a
		// time-derived base: docs/differences.md).
		return append(out, "UIDVALIDITY changed since the mark"), nil
	}
	out = append(out, "UID FETCH (CHANGEDSINCE VANISHED)")
	rs, err = c.cmd("UID FETCH 1:* (FLAGS) (CHANGEDSINCE " + s.mark + " VANISHED)")
	if err != nil {
		return nil, err
	}
	return append(out, qresyncLines(rs)...), nil
}

// qresyncLines renders the VANISHED and FETCH responses of rs by UID, and
// the tagged status.
func qresyncLines(rs []resp) []string {
	var out []string
	for i, r := range rs {
		switch {
		case i == len(rs)-1:
			out = append(out, "tagged "+r.status)
		case len(r.vals) >= 2 && strings.EqualFold(r.vals[0].s, "VANISHED"):
			out = append(out, "VANISHED "+renderAll(r.vals[1:]))
		case len(r.vals) == 3 && strings.EqualFold(r.vals[1].s, "FETCH"):
			uid, flags := "", ""
			l := r.vals[2].l
			for j := 0; j+1 < len(l); j += 2 {
				switch strings.ToUpper(l[j].s) {
				case "UID":
					uid = l[j+1].s
				case "FLAGS":
					flags = flagSet(l[j+1])
				}
			}
			out = append(out, "FETCH UID "+uid+" FLAGS "+flags)
		}
	}
	sort.Strings(out[:max(0, len(out)-1)])
	return out
}

// uidValidityCodeOf finds the [UIDVALIDITY n] of a SELECT or EXAMINE
// answer, "" if none.
func uidValidityCodeOf(rs []resp) string {
	for _, r := range rs {
		if f := strings.Fields(r.raw); len(f) >= 4 && f[0] == "*" && f[1] == "OK" && strings.EqualFold(f[2], "[UIDVALIDITY") {
			return strings.TrimSuffix(f[3], "]")
		}
	}
	return ""
}

// highestModSeqOf finds the HIGHESTMODSEQ of a STATUS answer ("1" when
// there is none: the command then compares what both answer to 1).
func highestModSeqOf(rs []resp) string {
	for _, r := range rs {
		if len(r.vals) == 3 && strings.EqualFold(r.vals[0].s, "STATUS") {
			l := r.vals[2].l
			for i := 0; i+1 < len(l); i += 2 {
				if strings.EqualFold(l[i].s, "HIGHESTMODSEQ") {
					return l[i+1].s
				}
			}
		}
	}
	return "1"
}

// searchLine renders "* SEARCH n ... [(MODSEQ m)]" with the numbers sorted
// and the MODSEQ value normalised.
func searchLine(args []val) (nums []string, modSeq bool) {
	for _, a := range args {
		if a.k == 'l' {
			modSeq = true
			continue
		}
		nums = append(nums, a.s)
	}
	return nums, modSeq
}

// normaliseESearch replaces the value after MODSEQ in ESEARCH data.
func normaliseESearch(args []val) []val {
	out := make([]val, len(args))
	copy(out, args)
	for i := 0; i+1 < len(out); i++ {
		if strings.EqualFold(out[i].s, "MODSEQ") {
			out[i+1] = val{k: 'a', s: "_"}
		}
	}
	return out
}
