package maildirbackend_test

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
)

// Wire tests of CONDSTORE and QRESYNC (RFC 7162) against the engine, with
// raw IMAP lines on a TCP connection.

var (
	reModSeq  = regexp.MustCompile(`MODSEQ \((\d+)\)`)
	reHighest = regexp.MustCompile(`HIGHESTMODSEQ (\d+)`)
	reUID     = regexp.MustCompile(`UID (\d+)`)
)

// firstNum returns the first number re captures in lines, or fails.
func firstNum(t *testing.T, re *regexp.Regexp, lines []string) uint64 {
	t.Helper()
	for _, l := range lines {
		if m := re.FindStringSubmatch(l); m != nil {
			n, _ := strconv.ParseUint(m[1], 10, 64)
			return n
		}
	}
	t.Fatalf("no %s in %q", re, lines)
	return 0
}

// fetchModSeqs maps UID to MODSEQ over the FETCH responses of lines.
func fetchModSeqs(t *testing.T, lines []string) map[uint64]uint64 {
	t.Helper()
	out := map[uint64]uint64{}
	for _, l := range lines {
		if !strings.Contains(l, " FETCH ") {
			continue
		}
		u, m := reUID.FindStringSubmatch(l), reModSeq.FindStringSubmatch(l)
		if u == nil || m == nil {
			t.Fatalf("FETCH without UID or MODSEQ: %q", l)
		}
		uid, _ := strconv.ParseUint(u[1], 10, 64)
		ms, _ := strconv.ParseUint(m[1], 10, 64)
		out[uid] = ms
	}
	return out
}

// only returns the lines that start with prefix.
func only(lines []string, prefix string) []string {
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

// newCondStoreServer serves a Maildir with n delivered messages.
func newCondStoreServer(t *testing.T, n int) (*maildirtest.Server, []string) {
	t.Helper()
	s := maildirtest.NewServer(t, &maildirtest.Options{Frontend: "imapd"}) // go-imap's server has no CONDSTORE
	var keys []string
	for i := 0; i < n; i++ {
		keys = append(keys, maildirtest.Deliver(t, s.Maildir, maildirtest.Message(fmt.Sprint("m", i+1))))
	}
	return s, keys
}

func TestCondStore_wire(t *testing.T) {
	s, _ := newCondStoreServer(t, 3)
	c := fxDial(t, s)
	caps := strings.Join(c.cmd("CAPABILITY"), " ")
	if !strings.Contains(caps, " CONDSTORE") || !strings.Contains(caps, " QRESYNC") {
		t.Fatalf("capabilities lack CONDSTORE/QRESYNC: %s", caps)
	}
	// SELECT (CONDSTORE) turns it on and gives HIGHESTMODSEQ.
	h0 := firstNum(t, reHighest, c.cmd("SELECT INBOX (CONDSTORE)"))
	st := c.cmd("STATUS INBOX (HIGHESTMODSEQ MESSAGES)")
	if got := firstNum(t, reHighest, st); got != h0 {
		t.Fatalf("STATUS HIGHESTMODSEQ %d, SELECT said %d", got, h0)
	}
	all := fetchModSeqs(t, c.cmd("FETCH 1:* (UID MODSEQ)"))
	if len(all) != 3 {
		t.Fatalf("FETCH MODSEQ: %v", all)
	}
	for uid, ms := range all {
		if ms == 0 || ms > h0 {
			t.Fatalf("UID %d MODSEQ %d, HIGHESTMODSEQ %d", uid, ms, h0)
		}
	}

	// STORE answers with the new MODSEQ, above every earlier one.
	st = c.cmd(`STORE 1 +FLAGS (\Seen)`)
	m1 := fetchModSeqs(t, st)[1]
	if m1 <= h0 {
		t.Fatalf("STORE gave MODSEQ %d, not above %d: %q", m1, h0, st)
	}
	changed := c.cmd("%s", fmt.Sprintf("FETCH 1:* (FLAGS) (CHANGEDSINCE %d)", h0))
	if len(changed) != 1 || !strings.HasPrefix(changed[0], "* 1 FETCH") || !strings.Contains(changed[0], fmt.Sprintf("MODSEQ (%d)", m1)) {
		t.Fatalf("CHANGEDSINCE %d: %q", h0, changed)
	}

	// UNCHANGEDSINCE: message 1 changed after h0, so it stays as it is
	// and is reported MODIFIED; 2 and 3 are stored.
	rc := c
	rc.tag++
	tag := "t" + strconv.Itoa(rc.tag)
	fmt.Fprintf(rc.c, "%s STORE 1:3 (UNCHANGEDSINCE %d) +FLAGS (\\Flagged)\r\n", tag, h0)
	var untagged []string
	var tagged string
	for tagged == "" {
		l := rc.readResponse()
		if strings.HasPrefix(l, tag+" ") {
			tagged = l
		} else {
			untagged = append(untagged, l)
		}
	}
	if !strings.HasPrefix(tagged, tag+" OK [MODIFIED 1]") {
		t.Fatalf("conditional STORE: %q", tagged)
	}
	got := fetchModSeqs(t, untagged)
	if _, ok := got[1]; ok || len(got) != 2 {
		t.Fatalf("conditional STORE FETCHes: %q", untagged)
	}
	flags := strings.Join(c.cmd("FETCH 1:3 (FLAGS)"), "\n")
	if strings.Count(flags, `\Flagged`) != 2 || strings.Contains(strings.Split(flags, "\n")[0], `\Flagged`) {
		t.Fatalf("flags after conditional STORE:\n%s", flags)
	}

	// SEARCH MODSEQ: the messages changed at or after m1, with the
	// highest MODSEQ among them.
	h1 := firstNum(t, reHighest, c.cmd("STATUS INBOX (HIGHESTMODSEQ)"))
	res := c.cmd("%s", fmt.Sprintf("SEARCH MODSEQ %d", m1+1))
	if len(res) != 1 || res[0] != fmt.Sprintf("* SEARCH 2 3 (MODSEQ %d)", h1) {
		t.Fatalf("SEARCH MODSEQ %d: %q (HIGHESTMODSEQ %d)", m1+1, res, h1)
	}
	res = c.cmd("%s", fmt.Sprintf(`UID SEARCH RETURN (ALL) MODSEQ "/flags/\\seen" all %d`, m1))
	if len(res) != 1 || !strings.HasSuffix(res[0], fmt.Sprintf("UID ALL 1:3 MODSEQ %d", h1)) {
		t.Fatalf("ESEARCH MODSEQ: %q", res)
	}
	if res := c.cmd("%s", fmt.Sprintf("SEARCH MODSEQ %d", h1+1)); len(res) != 1 || res[0] != "* SEARCH" {
		t.Fatalf("SEARCH above HIGHESTMODSEQ: %q", res)
	}
	// SORT with a MODSEQ key carries the highest MODSEQ as SEARCH does
	// (RFC 7162 3.1.5), and ESORT as ESEARCH.
	res = c.cmd("%s", fmt.Sprintf("SORT (ARRIVAL) UTF-8 MODSEQ %d", m1+1))
	if len(res) != 1 || res[0] != fmt.Sprintf("* SORT 2 3 (MODSEQ %d)", h1) {
		t.Fatalf("SORT MODSEQ %d: %q (HIGHESTMODSEQ %d)", m1+1, res, h1)
	}
	res = c.cmd("%s", fmt.Sprintf("UID SORT RETURN (ALL) (ARRIVAL) UTF-8 MODSEQ %d", m1))
	if len(res) != 1 || !strings.HasSuffix(res[0], fmt.Sprintf("UID ALL 1:3 MODSEQ %d", h1)) {
		t.Fatalf("ESORT MODSEQ: %q", res)
	}
	if res := c.cmd("%s", fmt.Sprintf("SORT (ARRIVAL) UTF-8 MODSEQ %d", h1+1)); len(res) != 1 || res[0] != "* SORT" {
		t.Fatalf("SORT above HIGHESTMODSEQ: %q", res)
	}
}

func TestCondStore_pushesCarryModSeq(t *testing.T) {
	s, keys := newCondStoreServer(t, 2)
	c := fxDial(t, s)
	c.cmd("ENABLE CONDSTORE")
	h0 := firstNum(t, reHighest, c.cmd("SELECT INBOX"))
	// Another program changes the flags of message 2 (as mutt does).
	maildirtest.SetFlags(t, s.Maildir, keys[1], "F")
	lines := c.idleUntil(t, " FETCH ")
	got := fetchModSeqs(t, only(lines, "* 2 FETCH"))
	if got[2] <= h0 {
		t.Fatalf("pushed FETCH without a MODSEQ above %d: %q", h0, lines)
	}
}

func TestQResync_wire(t *testing.T) {
	s, keys := newCondStoreServer(t, 5)
	c := fxDial(t, s)
	if en := c.cmd("ENABLE QRESYNC"); len(en) != 1 || en[0] != "* ENABLED QRESYNC" {
		t.Fatalf("ENABLE QRESYNC: %q", en)
	}
	sel := c.cmd("SELECT INBOX")
	h0 := firstNum(t, reHighest, sel)
	uv := firstNum(t, regexp.MustCompile(`UIDVALIDITY (\d+)`), sel)
	c.cmd("UNSELECT")

	// While the client is away: message 2 is expunged by another session,
	// message 4's file removed by another program, message 5 flagged.
	o := fxDial(t, s)
	o.cmd("SELECT INBOX")
	o.cmd(`STORE 2 +FLAGS (\Deleted)`)
	o.cmd("EXPUNGE")
	maildirtest.Remove(t, s.Maildir, keys[3])
	o.cmd(`UID STORE 5 +FLAGS (\Flagged)`)

	lines := c.cmd("%s", fmt.Sprintf("SELECT INBOX (QRESYNC (%d %d 1:5))", uv, h0))
	if v := only(lines, "* VANISHED"); len(v) != 1 || v[0] != "* VANISHED (EARLIER) 2,4" {
		t.Fatalf("VANISHED (EARLIER): %q", lines)
	}
	fetches := fetchModSeqs(t, only(lines, "* "))
	if len(fetches) != 1 || fetches[5] <= h0 {
		t.Fatalf("changed messages: %v in %q", fetches, lines)
	}
	// Only the known UIDs: 4 is not in 1:3.
	lines = c.cmd("%s", fmt.Sprintf("SELECT INBOX (QRESYNC (%d %d 1:3 (1:3 1:3)))", uv, h0))
	if v := only(lines, "* VANISHED"); len(v) != 1 || v[0] != "* VANISHED (EARLIER) 2" {
		t.Fatalf("VANISHED (EARLIER) within 1:3: %q", lines)
	}
	// A UIDVALIDITY of another life: a plain SELECT.
	lines = c.cmd("%s", fmt.Sprintf("SELECT INBOX (QRESYNC (%d %d))", uv+1, h0))
	if len(only(lines, "* VANISHED")) != 0 || strings.Contains(strings.Join(lines, "\n"), " FETCH ") {
		t.Fatalf("QRESYNC with another UIDVALIDITY: %q", lines)
	}

	// UID FETCH (CHANGEDSINCE ... VANISHED).
	lines = c.cmd("%s", fmt.Sprintf("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)", h0))
	if len(lines) != 2 || lines[0] != "* VANISHED (EARLIER) 2,4" || !strings.Contains(lines[1], "UID 5") {
		t.Fatalf("UID FETCH VANISHED: %q", lines)
	}

	// EXPUNGE and pushes say VANISHED, never EXPUNGE.
	o.cmd(`UID STORE 3 +FLAGS (\Deleted)`)
	c.cmd("NOOP") // takes the flag change
	maildirtest.Remove(t, s.Maildir, keys[2])
	lines = c.idleUntil(t, "* VANISHED")
	if v := only(lines, "* VANISHED"); len(v) != 1 || v[0] != "* VANISHED 3" {
		t.Fatalf("pushed expunge: %q", lines)
	}
	c.cmd(`UID STORE 1 +FLAGS (\Deleted)`)
	if lines := c.cmd("EXPUNGE"); len(lines) != 1 || lines[0] != "* VANISHED 1" {
		t.Fatalf("EXPUNGE of a QRESYNC session: %q", lines)
	}
	// RFC 7162 3.2.10: the tagged OK of an expunge carries HIGHESTMODSEQ,
	// as Dovecot's does.
	c.cmd(`UID STORE 5 +FLAGS (\Deleted)`)
	if got := c.tagged("UID EXPUNGE 5"); !strings.Contains(got, "OK [HIGHESTMODSEQ ") {
		t.Fatalf("UID EXPUNGE of a QRESYNC session: %q", got)
	}
}

func TestQResync_badUse(t *testing.T) {
	s, _ := newCondStoreServer(t, 1)
	c := fxDial(t, s)
	for _, cmd := range []string{
		"SELECT INBOX (QRESYNC (1 1))", // not enabled
		"SELECT INBOX (BOGUS)",
	} {
		if got := c.tagged(cmd); !strings.Contains(got, " BAD ") {
			t.Errorf("%s: %q, want BAD", cmd, got)
		}
	}
	c.cmd("SELECT INBOX")
	for _, cmd := range []string{
		"UID FETCH 1:* FLAGS (CHANGEDSINCE 1 VANISHED)", // QRESYNC not enabled
		"FETCH 1 FLAGS (CHANGEDSINCE 0)",
		"FETCH 1 FLAGS (VANISHED)",
		"STORE 1 (UNCHANGEDSINCE x) +FLAGS (\\Seen)",
		"SEARCH MODSEQ \"/flags/\\\\seen\" bogus 1",
	} {
		if got := c.tagged(cmd); !strings.Contains(got, " BAD ") {
			t.Errorf("%s: %q, want BAD", cmd, got)
		}
	}
	c.cmd("ENABLE QRESYNC")
	if got := c.tagged("FETCH 1 FLAGS (CHANGEDSINCE 1 VANISHED)"); !strings.Contains(got, " BAD ") {
		t.Errorf("FETCH (not UID) with VANISHED: %q, want BAD", got)
	}
}

// tagged sends a command and returns its tagged reply, whatever it is.
func (rc *fxConn) tagged(line string) string {
	rc.t.Helper()
	rc.tag++
	tag := "t" + strconv.Itoa(rc.tag)
	fmt.Fprintf(rc.c, "%s %s\r\n", tag, line)
	for {
		if l := rc.readResponse(); strings.HasPrefix(l, tag+" ") {
			return l
		}
	}
}

// idleUntil idles until a response containing want arrives, then ends the
// IDLE and returns the responses.
func (rc *fxConn) idleUntil(t *testing.T, want string) []string {
	t.Helper()
	rc.tag++
	tag := "t" + strconv.Itoa(rc.tag)
	fmt.Fprintf(rc.c, "%s IDLE\r\n", tag)
	var lines []string
	started, found := false, false
	for !started || !found {
		l := rc.readResponse()
		if strings.HasPrefix(l, "+ ") {
			started = true
			continue
		}
		if strings.HasPrefix(l, tag+" ") {
			t.Fatalf("IDLE: %q", l)
		}
		lines = append(lines, l)
		found = found || strings.Contains(l, want)
	}
	fmt.Fprintf(rc.c, "DONE\r\n")
	for {
		l := rc.readResponse()
		if strings.HasPrefix(l, tag+" ") {
			return lines
		}
		lines = append(lines, l)
	}
}

func TestCondStore_enabledWhileSelectedTellsHighest(t *testing.T) {
	s, _ := newCondStoreServer(t, 1)
	c := fxDial(t, s)
	sel := c.cmd("SELECT INBOX")
	if strings.Contains(strings.Join(sel, "\n"), "HIGHESTMODSEQ") {
		t.Fatalf("HIGHESTMODSEQ before CONDSTORE was enabled: %q", sel)
	}
	// FETCH MODSEQ turns CONDSTORE on: the client learns HIGHESTMODSEQ
	// first (RFC 7162 3.1).
	lines := c.cmd("FETCH 1 (MODSEQ)")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "* OK [HIGHESTMODSEQ ") || !strings.HasPrefix(lines[1], "* 1 FETCH (MODSEQ (") {
		t.Fatalf("FETCH MODSEQ enabling CONDSTORE: %q", lines)
	}
	if lines := c.cmd("STATUS INBOX (HIGHESTMODSEQ)"); len(lines) != 1 {
		t.Fatalf("STATUS once CONDSTORE is on: %q", lines)
	}
}

// TestQResync_keepsModifiedUTF7Names: ENABLE QRESYNC (or CONDSTORE) turns
// on nothing but itself; mailbox names stay modified UTF-7 (found by the
// differential test: a QRESYNC session could not open "Entw&APw-rfe").
func TestQResync_keepsModifiedUTF7Names(t *testing.T) {
	s, _ := newCondStoreServer(t, 0)
	c := fxDial(t, s)
	c.cmd(`CREATE "Entw&APw-rfe"`)
	c.cmd("ENABLE QRESYNC CONDSTORE")
	c.cmd(`EXAMINE "Entw&APw-rfe" (QRESYNC (1 1))`)
	if l := c.cmd(`LIST "" "Entw*"`); len(l) != 1 || !strings.HasSuffix(l[0], `Entw&APw-rfe`) {
		t.Fatalf("LIST after ENABLE QRESYNC: %q", l)
	}
}
