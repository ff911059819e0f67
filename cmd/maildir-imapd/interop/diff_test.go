package interop

import (
	"cmp"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The differential test ("the oracle"): maildir-imapd and a private
// Dovecot, each on its own copy of one initial Maildir, get the same seeded
// random sequence of steps (IMAP commands on several sessions, actions of
// another program on the Maildir, restarts); after every step their
// answers and their sessions' views must agree, and every few hundred
// steps and at the end so must the whole account. What may legitimately
// differ is normalised, each case listed in docs/differences.md.
//
//	MAILDIR_IMAPD_E2E_REQUIRE=1 go test -run TestDifferential ./cmd/maildir-imapd/interop -diff.seed=N -diff.steps=100000
var (
	diffSeed     = flag.Uint64("diff.seed", 0, "seed of TestDifferential (0: a fresh one, printed)")
	diffSteps    = flag.Int("diff.steps", 0, "steps of TestDifferential (0: $MAILDIR_IMAPD_DIFF_STEPS, else the CI budget)")
	diffTolerate = flag.String("diff.tolerate", "", "comma-separated known bugs (docs/differences.md) to normalise away while exploring past them; CI tolerates none")
	diffShrink   = flag.Duration("diff.shrink", 90*time.Second, "time TestDifferential may spend shrinking a failing sequence")
	diffFresh    = flag.Bool("diff.fresh", true, "also run a fresh seed at the CI budget (off: -diff.fresh=false or MAILDIR_IMAPD_DIFF_FRESH=0)")
	diffTrace    = flag.Int("diff.trace", 80, "transcript lines per server shown with a difference")
)

const (
	diffCISteps   = 1000 // the CI budget: 16 to 21 s a seed with -race on 2 busy cores (6 seeds: 114 s)
	diffSessions  = 3    // sessions per server
	diffPoolSize  = 16   // messages in the pool
	diffFullEvery = 250  // steps between full-state comparisons
)

// settled are the rows of docs/differences.md that are decided: deliberate
// differences, and the limits of go-imap's server that the engine issue
// removes. Their normalisation always applies; every other name is a known
// bug that fails the test unless -diff.tolerate names it.
var settled = map[string]bool{
	"subscribe-nonexistent": true, // deliberate
	"delete-selected":       true, // deliberate
	"append-binary":         true, // deliberate: a NUL is kept (base64), not turned into 0x80
}

// tolerate reports whether the difference name is normalised away in this
// run: a settled one always, a known bug when -diff.tolerate names it.
func tolerate(name string) bool {
	if settled[name] {
		return true
	}
	for _, n := range strings.Split(*diffTolerate, ",") {
		if n == name {
			return true
		}
	}
	return false
}

// TestDifferential runs the seeded sequence against both servers. On a
// difference it prints the seed and a shrunk sequence that still fails.
//
// Without -diff.seed or -diff.steps (or MAILDIR_IMAPD_DIFF_STEPS), as in
// CI, it runs a fresh seed and the fixed seeds of diffCISeeds, each at the
// CI budget. The fresh seed is named in its subtest ("fresh_seed=N") so
// that a failure can be replayed with -diff.seed=N; -diff.fresh=false or
// MAILDIR_IMAPD_DIFF_FRESH=0 leaves it out. The fixed seeds agree today,
// so a change that makes one of them differ fails every run. -diff.seed
// runs one given seed, -diff.steps (or the environment) sets the length.
func TestDifferential(t *testing.T) {
	requireTool(t, "dovecot", "dovecot-imapd dovecot-core")
	steps := *diffSteps
	if steps == 0 {
		if v, err := strconv.Atoi(os.Getenv("MAILDIR_IMAPD_DIFF_STEPS")); err == nil && v > 0 {
			steps = v
		}
	}
	if *diffSeed != 0 || steps != 0 {
		seed := *diffSeed
		if seed == 0 {
			seed = freshSeed()
		}
		runDifferential(t, seed, cmp.Or(steps, diffCISteps))
		return
	}
	if *diffFresh && os.Getenv("MAILDIR_IMAPD_DIFF_FRESH") != "0" {
		fresh := freshSeed()
		t.Run(fmt.Sprintf("fresh_seed=%d", fresh), func(t *testing.T) { runDifferential(t, fresh, diffCISteps) })
	}
	for _, seed := range diffCISeeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { runDifferential(t, seed, diffCISteps) })
	}
}

// diffCISeeds are the fixed seeds CI runs (see TestDifferential); seed 26 found the RENAME bug of a child left in place
// at step 650 (docs/differences.md).
var diffCISeeds = []uint64{7, 13, 26, 40, 41}

// freshSeed returns a new seed, small enough to type.
func freshSeed() uint64 { return 1 + rand.Uint64N(1<<31) }

// runDifferential runs one seed for steps steps.
func runDifferential(t *testing.T, seed uint64, steps int) {
	t.Logf("seed %d, %d steps (re-run: go test -run TestDifferential ./cmd/maildir-imapd/interop -diff.seed=%d -diff.steps=%d)",
		seed, steps, seed, steps)
	c := newDiffCase(t, seed)
	g := &gen{r: rand.New(rand.NewPCG(seed, 2)), cs: newCondStoreStream(seed), nsess: diffSessions, nmsg: len(c.pool)}
	var seq []step
	start := time.Now()
	fail, kinds := c.run(func(i int) (step, bool) {
		if i >= steps {
			return step{}, false
		}
		seq = append(seq, g.next())
		return seq[i], true
	})
	t.Logf("%d steps in %v; by kind: %s", len(seq), time.Since(start).Round(time.Millisecond), kinds)
	if fail == nil {
		return
	}
	t.Errorf("seed %d: step %d (%s) differs:\n%s", seed, fail.step, seq[fail.step], fail.what)
	t.Logf("last lines of the dovecot sessions:\n%s", fail.logs[0])
	t.Logf("last lines of the maildir-imapd sessions:\n%s", fail.logs[1])
	small := c.shrink(seq[:fail.step+1], *diffShrink)
	var b strings.Builder
	for _, s := range small.seq {
		fmt.Fprintf(&b, "  %s\n", s)
	}
	t.Errorf("seed %d: shrunk to %d steps:\n%sdifference at its last step:\n%s\ndovecot transcript:\n%s\nmaildir-imapd transcript:\n%s",
		seed, len(small.seq), b.String(), small.fail.what, small.fail.logs[0], small.fail.logs[1])
}

// diffCase is what every run of one seed shares: the message pool and the
// initial Maildir.
type diffCase struct {
	t        *testing.T
	pool     [][]byte
	template string
}

func newDiffCase(t *testing.T, seed uint64) *diffCase {
	r := rand.New(rand.NewPCG(seed, 1))
	c := &diffCase{t: t, pool: messagePool(r, diffPoolSize), template: t.TempDir()}
	if err := writeTemplate(c.template, r, c.pool); err != nil {
		t.Fatal(err)
	}
	return c
}

// failure is a difference found at a step.
type failure struct {
	step int
	what string
	logs [2]string // the last transcript lines of each world
}

// run starts both worlds and runs the steps next returns until it says
// stop, comparing after each. It returns the first difference (nil if
// none) and a count of steps by kind.
func (c *diffCase) run(next func(i int) (step, bool)) (*failure, string) {
	var ws [2]*world
	for i, name := range []string{"dovecot", "maildir-imapd"} {
		w, err := newWorld(c.t, name, c.template, diffSessions)
		if err != nil {
			return &failure{what: err.Error()}, ""
		}
		ws[i] = w
	}
	defer func() {
		ws[1].stop()
		ws[0].stop()
		ws[0].dc.CheckLog(c.t, dovecotChildRenameRefused, dovecotIndexReplaced, dovecotCrashed, dovecotIndexCorrupted)
	}()
	kinds := map[string]int{}
	i := 0
	for ; ; i++ {
		s, ok := next(i)
		if !ok {
			break
		}
		kinds[s.kind()]++
		if what := c.step(ws, s); what != "" {
			keepWorlds(c.t, ws)
			return &failure{step: i, what: what, logs: [2]string{ws[0].log.String(), ws[1].log.String()}}, countKinds(kinds)
		}
		if (i+1)%diffFullEvery == 0 {
			if what := compareFull(ws); what != "" {
				keepWorlds(c.t, ws)
				return &failure{step: i, what: what, logs: [2]string{ws[0].log.String(), ws[1].log.String()}}, countKinds(kinds)
			}
		}
	}
	if what := compareFull(ws); what != "" {
		keepWorlds(c.t, ws)
		return &failure{step: i - 1, what: what, logs: [2]string{ws[0].log.String(), ws[1].log.String()}}, countKinds(kinds)
	}
	return nil, countKinds(kinds)
}

func countKinds(m map[string]int) string {
	var ks []string
	for k, n := range m {
		ks = append(ks, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(ks)
	return strings.Join(ks, " ")
}

// step does s on both worlds and compares: the results, then the
// sessions at a sync point. It returns a description of a difference. A
// difference that comes with a crash of a Dovecot imap process is not one
// (see survivedDovecotCrash).
func (c *diffCase) step(ws [2]*world, s step) string {
	what := c.compareStep(ws, s)
	if what != "" && survivedDovecotCrash(c.t, ws, s) {
		return ""
	}
	return what
}

// compareStep is step without the crash check.
func (c *diffCase) compareStep(ws [2]*world, s step) string {
	if v := verbOf(s.Cmd); strings.HasSuffix(v, "MOVE") && s.Sess >= 0 && s.Sess < len(ws[0].sess) &&
		ws[0].sess[s.Sess].readOnly && ws[0].sess[s.Sess].selected != "" {
		// differences.md, "MOVE in an EXAMINEd mailbox": Dovecot
		// moves, maildir-imapd refuses; the step copies instead.
		s.Cmd = strings.Replace(s.Cmd, "MOVE", "COPY", 1)
	}
	if s.Restart {
		for _, w := range ws {
			if err := w.restart(false); err != nil {
				return err.Error()
			}
		}
	}
	var subs []string
	if verbOf(s.Cmd) == "RENAME" && tolerate("rename-subscriptions") {
		var err error
		if subs, err = ws[0].subscribed(s.Sess); err != nil {
			return err.Error()
		}
	}
	var res [2][]string
	err := both(ws, func(w *world) error {
		r, err := c.exec(w, s)
		res[w.index()] = r
		return err
	})
	if err != nil {
		return err.Error()
	}
	if tolerate("subscribe-nonexistent") {
		if err := alignSubscribe(ws, s, res); err != nil {
			return err.Error()
		}
	}
	if subs != nil && res[0][len(res[0])-1] == "OK" && res[1][len(res[1])-1] == "OK" {
		if err := alignRename(ws, s, subs); err != nil {
			return err.Error()
		}
	}
	alignEmptyCopy(s, res)
	alignNegatedOr(s, &res)
	alignNegatedSameKind(s, &res)
	alignStaleSort(ws, s, &res)
	if tolerate("empty-seqset") && ws[0].sess[s.Sess].selected != "" && len(ws[0].sess[s.Sess].msgs) == 0 &&
		len(res[0]) == 1 && res[0][0] == "BAD" && len(res[1]) == 1 {
		res[1][0] = "BAD"
	}
	if a, b := strings.Join(res[0], "\n"), strings.Join(res[1], "\n"); a != b {
		return fmt.Sprintf("results differ (- dovecot, + maildir-imapd):\n%s%s", explainDiff(res[0], res[1]), searchFacts(ws, s))
	}
	what, err := syncPoint(ws)
	if err != nil {
		return err.Error()
	}
	return what
}

// targetOf returns the (quoted) destination mailbox of an APPEND, COPY or
// MOVE, "" for other commands.
func targetOf(cmd string) string {
	switch verbOf(cmd) {
	case "APPEND":
		rest := cmd[len("APPEND "):]
		if end := strings.Index(rest[1:], `"`); strings.HasPrefix(rest, `"`) && end >= 0 {
			return rest[:end+2]
		}
	case "COPY", "MOVE", "UID COPY", "UID MOVE":
		if i := strings.LastIndex(cmd[:len(cmd)-1], `"`); strings.HasSuffix(cmd, `"`) && i >= 0 {
			return cmd[i:]
		}
	}
	return ""
}

// exec does s on one world and returns its canonical result.
func (c *diffCase) exec(w *world, s step) ([]string, error) {
	if s.Restart {
		return nil, nil
	}
	if s.Out != nil {
		r, err := s.Out.apply(w, c.pool)
		w.log.add(fmt.Sprintf("outside: %s: %s", s.Out, r))
		if err == nil && s.Out.Action == "deliver" && r == "delivered" {
			// differences.md: "a delivery removed at once": both
			// servers number it now, as a client's STATUS would.
			rs, err := w.sess[0].w.cmd("STATUS " + quote(s.Out.Folder) + " (UIDNEXT)")
			if err != nil {
				return nil, fmt.Errorf("STATUS after a delivery: %w", err)
			}
			w.absorb(w.sess[0], "STATUS", rs) // updates it carried for s0
		}
		return []string{r}, err
	}
	sess := w.sess[s.Sess]
	if target := targetOf(s.Cmd); target != "" {
		// differences.md: "UIDs of files an APPEND or COPY overtakes"
		if _, err := sess.w.cmd("STATUS " + target + " (UIDNEXT)"); err != nil {
			return nil, fmt.Errorf("s%d STATUS before %s: %w", s.Sess, s.Cmd, err)
		}
	}
	var lits [][]byte
	for _, m := range s.Lits {
		lits = append(lits, appendBody(c.pool[m]))
	}
	text, done, marked, err := w.withMark(sess, s.Cmd) // diff_condstore_test.go
	if done || err != nil {
		return marked, err
	}
	var rs []resp
	if s.Idle {
		rs, err = sess.w.idle(20 * time.Millisecond)
	} else {
		rs, err = sess.w.cmd(text, lits...)
	}
	if err == errBye {
		out := w.absorb(sess, s.Cmd, rs)
		ns, err := w.connect(s.Sess)
		w.sess[s.Sess] = ns
		return append(out, "(reconnected)"), err
	}
	if err != nil {
		return nil, fmt.Errorf("s%d %s: %w", s.Sess, s.Cmd, err)
	}
	out := w.absorb(sess, s.Cmd, rs)
	if s.Idle {
		// What IDLE pushes depends on timing (differences.md); only the
		// tagged response counts.
		return out[len(out)-1:], nil
	}
	return out, nil
}

// compareFull compares the whole account as each server reports it.
func compareFull(ws [2]*world) string {
	var st [2][]string
	err := both(ws, func(w *world) error {
		s, err := w.fullState()
		st[w.index()] = s
		return err
	})
	if err != nil {
		return err.Error()
	}
	if a, b := strings.Join(st[0], "\n"), strings.Join(st[1], "\n"); a != b {
		return fmt.Sprintf("full state differs (- dovecot, + maildir-imapd):\n%s", explainDiff(st[0], st[1]))
	}
	return ""
}

// explainDiff renders the lines only in a ("-") or only in b ("+"); a
// long line is cut around its first difference from its counterpart (the
// line at the same place in the other list).
func explainDiff(a, b []string) string {
	in := func(ls []string) map[string]bool {
		m := make(map[string]bool)
		for _, l := range ls {
			m[l] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	var out strings.Builder
	show := func(sign, l string, other []string, i int) {
		o := ""
		if i < len(other) {
			o = other[i]
		}
		p := 0
		for p < len(l) && p < len(o) && l[p] == o[p] {
			p++
		}
		from, to := max(0, p-60), min(len(l), p+100)
		cut := l[from:to]
		if from > 0 {
			cut = fmt.Sprintf("[%d bytes]…", from) + cut
		}
		if to < len(l) {
			cut += fmt.Sprintf("…[%d bytes]", len(l)-to)
		}
		fmt.Fprintf(&out, "%s %s\n", sign, cut)
	}
	for i, l := range a {
		if !mb[l] {
			show("-", l, b, i)
		}
	}
	for i, l := range b {
		if !ma[l] {
			show("+", l, a, i)
		}
	}
	return out.String()
}

// shrunk is a smaller failing sequence.
type shrunk struct {
	seq  []step
	fail *failure
}

// shrink removes steps from a failing sequence while it still fails
// (delta debugging: chunks of halving size), for at most budget.
func (c *diffCase) shrink(seq []step, budget time.Duration) shrunk {
	end := time.Now().Add(budget)
	replay := func(s []step) *failure {
		f, _ := c.run(func(i int) (step, bool) {
			if i >= len(s) {
				return step{}, false
			}
			return s[i], true
		})
		return f
	}
	best := shrunk{seq: seq, fail: replay(seq)}
	if best.fail == nil {
		c.t.Logf("the sequence of %d steps did not fail again when replayed (timing?)", len(seq))
		best.fail = &failure{what: "(did not fail on replay)"}
		return best
	}
	best.seq = seq[:best.fail.step+1]
	for chunk := len(best.seq) / 2; chunk >= 1 && time.Now().Before(end); {
		removed := false
		for at := 0; at+chunk <= len(best.seq) && time.Now().Before(end); {
			try := append(append([]step(nil), best.seq[:at]...), best.seq[at+chunk:]...)
			if f := replay(try); f != nil {
				best = shrunk{seq: try[:f.step+1], fail: f}
				removed = true
				continue
			}
			at += chunk
		}
		if !removed {
			chunk /= 2
		}
	}
	return best
}

// keepWorlds copies both worlds' Maildirs, as the failing step left them,
// to the directory $MAILDIR_IMAPD_DIFF_KEEP (if set) for a look by hand:
// dovecot/ and maildir-imapd/ under it, with each server's log beside
// (dovecot.log, maildir-imapd.log). Only the first failure of a run
// is kept (shrinking fails again and again).
func keepWorlds(t *testing.T, ws [2]*world) {
	dir := os.Getenv("MAILDIR_IMAPD_DIFF_KEEP")
	if dir == "" {
		return
	}
	if _, err := os.Stat(dir); err == nil {
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Logf("keeping the Maildirs: %v", err)
		return
	}
	for _, w := range ws {
		// cp -a keeps the modification times: the internal dates.
		dst := filepath.Join(dir, w.name)
		if out, err := exec.Command("cp", "-a", w.acct.maildir, dst).CombinedOutput(); err != nil {
			t.Logf("keeping %s's Maildir: %v %s", w.name, err, out)
			continue
		}
		t.Logf("%s's Maildir kept in %s", w.name, dst)
		// The server's log since its last start: the daemon logs at
		// debug level (watch events, syncs), Dovecot its errors.
		var log string
		if w.mi != nil {
			log = w.mi.proc.output.String()
		} else {
			log = w.dc.Log(t)
		}
		if err := os.WriteFile(dst+".log", []byte(log), 0o644); err != nil {
			t.Logf("keeping %s's log: %v", w.name, err)
		}
	}
}
