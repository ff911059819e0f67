package interop

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
)

// step is one step of a differential sequence: an IMAP command on one
// session, an outside program's action on the Maildir, or a restart.
// Steps are concrete (no reference to what a server answered before), so
// that a shrunk sequence replays the same way.
type step struct {
	Sess    int      // session of an IMAP command
	Cmd     string   // IMAP command without tag; "\x00" marks a literal
	Lits    []int    // message of the pool for each literal
	Idle    bool     // Cmd is IDLE: DONE follows after a moment
	Out     *outside // an outside program's action
	Restart bool     // restart maildir-imapd (Dovecot: the sessions reconnect)
}

func (s step) String() string {
	switch {
	case s.Restart:
		return "restart"
	case s.Out != nil:
		return "outside: " + s.Out.String()
	}
	cmd := s.Cmd
	for _, m := range s.Lits {
		cmd = strings.Replace(cmd, "\x00", fmt.Sprintf("{message %d}", m), 1)
	}
	return fmt.Sprintf("s%d: %s", s.Sess, cmd)
}

// kind names the step's kind for the log: the command's verb, "outside
// <action>" or "restart".
func (s step) kind() string {
	switch {
	case s.Restart:
		return "restart"
	case s.Out != nil:
		return "outside " + s.Out.Action
	}
	return verbOf(s.Cmd)
}

// Mailbox names the steps use, as sent (modified UTF-7). Folders are
// created, deleted and renamed among these, so that names get reused.
var diffNames = []string{"INBOX", "A", "B", "A.x", "A.y", "B.z", "A.x.deep", "Entw&APw-rfe", "Sp ace", "Trash"}

// diffFlags are the flags STORE and APPEND set: system flags and a few
// keywords (at most 26 keywords fit a Maildir folder).
var diffFlags = []string{`\Seen`, `\Answered`, `\Flagged`, `\Deleted`, `\Draft`, "$Forwarded", "$Junk", "Work", "kw1", "kw2"}

var (
	diffSeqSets = []string{"1", "2", "1:2", "*", "1:*", "2:*", "1,3", "3:1", "4"}
	diffUIDSets = []string{"1:*", "1", "2:4", "*", "5:*", "1,3,5", "7", "100:200", "3"}
)

// gen generates steps from a seeded random source.
type gen struct {
	r     *rand.Rand
	nsess int
	nmsg  int // messages in the pool
	step  int
	cs    *rand.Rand // the CONDSTORE steps' own stream (diff_condstore_test.go); nil: none
}

func (g *gen) pick(xs []string) string { return xs[g.r.IntN(len(xs))] }

func (g *gen) name() string { return quote(g.pick(diffNames)) }

func (g *gen) flags() string {
	n := g.r.IntN(3)
	seen := map[string]bool{}
	var fs []string
	for i := 0; i < n; i++ {
		f := g.pick(diffFlags)
		if !seen[f] {
			seen[f] = true
			fs = append(fs, f)
		}
	}
	return "(" + strings.Join(fs, " ") + ")"
}

// next returns the next step.
func (g *gen) next() step {
	g.step++
	if s, ok := g.condStoreStep(); ok {
		return s
	}
	s := step{Sess: g.r.IntN(g.nsess)}
	p := g.r.IntN(1000)
	switch {
	case p < 2:
		return step{Restart: true}
	case p < 120:
		return step{Out: g.outside()}
	case p < 210:
		s.Cmd = g.pick([]string{"SELECT ", "SELECT ", "SELECT ", "EXAMINE "}) + g.name()
	case p < 250:
		s.Cmd = "CREATE " + g.name()
	case p < 275:
		s.Cmd = "DELETE " + g.name()
	case p < 300:
		from := g.name()
		if from == `"INBOX"` {
			// differences.md: "RENAME INBOX" (not generated)
			from = `"B"`
		}
		to := g.name()
		if to == `"INBOX"` {
			// differences.md: "RENAME to INBOX" (not generated)
			to = `"A.y"`
		}
		s.Cmd = "RENAME " + from + " " + to
	case p < 325:
		s.Cmd = g.pick([]string{"SUBSCRIBE ", "UNSUBSCRIBE "}) + g.name()
	case p < 355:
		s.Cmd = g.list()
	case p < 385:
		s.Cmd = "STATUS " + g.name() + " " + g.pick([]string{"(MESSAGES UIDNEXT UIDVALIDITY UNSEEN)", "(MESSAGES)", "(UIDNEXT UNSEEN)", "(UIDVALIDITY)"})
	case p < 470:
		s.Cmd, s.Lits = g.appendCmd()
	case p < 580:
		s.Cmd = g.store()
	case p < 650:
		s.Cmd = g.pick([]string{"COPY ", "MOVE ", "UID COPY ", "UID MOVE "})
		if strings.HasPrefix(s.Cmd, "UID") {
			s.Cmd += g.pick(diffUIDSets)
		} else {
			s.Cmd += g.pick(diffSeqSets)
		}
		s.Cmd += " " + g.name()
	case p < 690:
		s.Cmd = "EXPUNGE"
	case p < 710:
		s.Cmd = "UID EXPUNGE " + g.pick(diffUIDSets)
	case p < 800:
		if g.r.IntN(4) == 0 {
			s.Cmd = g.sortThread()
		} else {
			s.Cmd = g.search()
		}
	case p < 920:
		s.Cmd = g.fetch()
	case p < 940:
		s.Cmd = g.pick([]string{"NOOP", "CHECK", "UNSELECT"})
	case p < 970:
		s.Cmd = "CLOSE"
	default:
		s.Cmd, s.Idle = "IDLE", true
	}
	return s
}

func (g *gen) list() string {
	l := g.pick([]string{
		`LIST "" "*"`, `LIST "" "%"`, `LIST "" "A.%"`, `LIST "" "A*"`, `LIST "" "*x*"`, `LIST "" ""`,
		`LIST "" "INBOX"`, `LIST "A" "*"`, `LIST "" "Entw&APw-rfe"`,
		`LSUB "" "*"`, `LSUB "" "%"`, `LSUB "" "A.*"`,
		`LIST (SUBSCRIBED) "" "*"`, `LIST "" "*" RETURN (CHILDREN)`, `LIST "" "*" RETURN (SUBSCRIBED)`,
		`LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"`,
		`LIST "" "*" RETURN (STATUS (MESSAGES UIDNEXT UNSEEN))`,
		`LIST "" ("A" "B.*")`,
		"LIST \"\" \"!#$&'+,-.0123456789:;<=>?@^_`|[}%*\"", // issue 7, item 8: not valid mUTF-7
		`LIST "INBOX" *`,                                   // curl's imap://host/INBOX
	})
	if l == `LIST "A" "*"` && tolerate("list-reference") {
		return `LIST "" "A*"`
	}
	return l
}

func (g *gen) appendCmd() (string, []int) {
	cmd := "APPEND " + g.name()
	if g.r.IntN(3) > 0 {
		cmd += " " + g.flags()
	}
	// Always a date: without one the internal date is the clock's, which
	// differs between the servers by the moment (differences.md, row
	// "APPEND without a date" is avoided, not normalised).
	date := func() string {
		return quote(g.pick([]string{"02-Jun-2025 10:00:00 +0000", "31-Dec-2024 23:59:59 +0200", " 1-Jan-2020 00:00:01 -0530", "15-Mar-2023 12:30:00 +0000"}))
	}
	cmd += " " + date() + " \x00"
	lits := []int{g.r.IntN(g.nmsg)}
	if g.r.IntN(6) == 0 {
		// MULTIAPPEND (RFC 3502): a second message in the same command.
		cmd += " " + g.flags() + " " + date() + " \x00"
		lits = append(lits, g.r.IntN(g.nmsg))
	}
	return cmd, lits
}

func (g *gen) store() string {
	cmd := "STORE " + g.pick(diffSeqSets)
	if g.r.IntN(2) == 0 {
		cmd = "UID STORE " + g.pick(diffUIDSets)
	}
	cmd += " " + g.pick([]string{"+FLAGS", "-FLAGS", "FLAGS"})
	if g.r.IntN(3) == 0 {
		cmd += ".SILENT"
	}
	return cmd + " " + g.flags()
}

// searchKey returns one search key, nested up to depth.
func (g *gen) searchKey(depth int) string {
	keys := []string{
		"ALL", "ANSWERED", "DELETED", "FLAGGED", "SEEN", "UNSEEN", "DRAFT", "UNDELETED", "UNANSWERED", "UNFLAGGED", "UNDRAFT",
		"KEYWORD Work", "KEYWORD kw1", "UNKEYWORD kw2", "KEYWORD $Junk",
		`FROM "bob"`, `FROM "example.org"`, `FROM "builder"`, `TO "alice"`, `CC "carol"`, `BCC "dave"`,
		`SUBJECT "hello"`, `SUBJECT "report"`, `SUBJECT "Grüße"`, `BODY "zanzibar"`, `TEXT "zanzibar"`, `BODY "attachment"`,
		`HEADER X-Diff-Msg "3"`, `HEADER Message-ID "pool"`, `HEADER X-Missing ""`,
		"LARGER 500", "SMALLER 400", "LARGER 2000",
		"BEFORE 1-Jan-2024", "ON 2-Jun-2025", "SINCE 1-Jan-2023",
		"SENTBEFORE 1-Jan-2024", "SENTON 2-Jun-2025", "SENTSINCE 1-Jan-2023",
		"UID 1:3", "UID 2,5:*", "1:2", "*",
	}
	if depth > 0 {
		switch g.r.IntN(6) {
		case 0:
			return "NOT " + g.searchKey(depth-1)
		case 1:
			return "OR " + g.searchKey(depth-1) + " " + g.searchKey(depth-1)
		case 2:
			return "(" + g.searchKey(depth-1) + " " + g.searchKey(depth-1) + ")"
		}
	}
	return g.pick(keys)
}

func (g *gen) search() string {
	cmd := g.pick([]string{"SEARCH ", "UID SEARCH "})
	if g.r.IntN(8) == 0 {
		cmd += "CHARSET UTF-8 "
	}
	n := 1 + g.r.IntN(2)
	for i := 0; i < n; i++ {
		if i > 0 {
			cmd += " "
		}
		cmd += g.searchKey(2)
	}
	return cmd
}

// sortThread generates SORT (with ESORT's RETURN now and then) and THREAD
// commands over a random search program.
func (g *gen) sortThread() string {
	uid := g.pick([]string{"", "UID "})
	if g.r.IntN(3) == 0 {
		return uid + "THREAD " + g.pick([]string{"REFERENCES", "ORDEREDSUBJECT"}) + " UTF-8 " + g.sortSearchKey()
	}
	keys := []string{"ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO"}
	n := 1 + g.r.IntN(3)
	var crit []string
	for range n {
		k := g.pick(keys)
		if g.r.IntN(3) == 0 {
			k = "REVERSE " + k
		}
		crit = append(crit, k)
	}
	ret := ""
	if g.r.IntN(4) == 0 {
		ret = "RETURN " + g.pick([]string{"(MIN MAX)", "(ALL)", "(COUNT)", "()", "(MIN COUNT ALL)"}) + " "
	}
	return uid + "SORT " + ret + "(" + strings.Join(crit, " ") + ") UTF-8 " + g.sortSearchKey()
}

// sortSearchKey is a search program for SORT and THREAD without sequence
// numbers: Dovecot 2.3.19 panics on THREAD with a sequence set past the
// end of the mailbox (docs/differences.md, "THREAD with sequence numbers").
func (g *gen) sortSearchKey() string {
	for {
		k := g.searchKey(1)
		if !seqKey.MatchString(uidKey.ReplaceAllString(k, "UIDSET")) {
			return k
		}
	}
}

// seqKey finds a sequence-set search key; uidKey the keys with a number
// that is not a sequence number, removed before.
var (
	seqKey = regexp.MustCompile(`(^|[ (])[0-9*][0-9:,*]*($|[ )])`)
	uidKey = regexp.MustCompile(`(UID|SMALLER|LARGER) [0-9:,*]+`)
)

func (g *gen) fetch() string {
	items := []string{
		"FLAGS", "UID", "RFC822.SIZE", "INTERNALDATE", "ENVELOPE", "BODYSTRUCTURE", "BODY",
		"BODY[]", "BODY.PEEK[]", "BODY.PEEK[HEADER]", "BODY.PEEK[TEXT]", "BODY.PEEK[1]", "BODY.PEEK[1.MIME]",
		"BODY.PEEK[2]", "BODY.PEEK[1.1]", "BODY.PEEK[HEADER.FIELDS (From Subject)]", "BODY.PEEK[HEADER.FIELDS.NOT (Subject Date)]",
		"BODY.PEEK[]<0.10>", "BODY.PEEK[TEXT]<5.20>", "RFC822.HEADER", "RFC822.TEXT", "RFC822",
		"BINARY.PEEK[1]", "BINARY.SIZE[1]", "BINARY.PEEK[]", "BODY.PEEK[2.HEADER]",
	}
	var sel string
	switch g.r.IntN(10) {
	case 0:
		sel = g.pick([]string{"FAST", "ALL", "FULL"})
	default:
		n := 1 + g.r.IntN(3)
		var is []string
		for i := 0; i < n; i++ {
			it := g.pick(items)
			if it == "BODY.PEEK[1.1]" && tolerate("fetch-missing-part") {
				it = "BODY.PEEK[1]"
			}
			is = append(is, it)
		}
		sel = "(" + strings.Join(is, " ") + ")"
	}
	if g.r.IntN(2) == 0 {
		return "UID FETCH " + g.pick(diffUIDSets) + " " + sel
	}
	return "FETCH " + g.pick(diffSeqSets) + " " + sel
}

// outside generates an outside program's action.
func (g *gen) outside() *outside {
	o := &outside{Folder: g.pick(diffNames), K: g.r.IntN(100), Step: g.step}
	switch p := g.r.IntN(100); {
	case p < 40:
		o.Action, o.Msg = "deliver", g.r.IntN(g.nmsg)
		if g.r.IntN(2) == 0 {
			o.Folder = "INBOX"
		}
	case p < 65:
		o.Action = "flag"
		var info []byte
		for _, c := range "DFRST" {
			if g.r.IntN(3) == 0 {
				info = append(info, byte(c))
			}
		}
		o.Info = string(info)
	case p < 80:
		o.Action = "unlink"
	case p < 86:
		o.Action = "rmdir"
	case p < 92:
		o.Action = "mkdir"
	default:
		o.Action = "uidlist"
	}
	return o
}
