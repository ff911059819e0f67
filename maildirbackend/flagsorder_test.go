package maildirbackend_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
)

var (
	flagsLine  = regexp.MustCompile(`^\* FLAGS \(([^)]*)\)`)
	fetchFlags = regexp.MustCompile(`^\* \d+ FETCH .*FLAGS \(([^)]*)\)`)
)

// keywordTracker follows one session's responses and reports a FETCH that
// shows a keyword no earlier "* FLAGS" announced (RFC 3501 section 7.2.6;
// ImapTest: "Keyword used without being in FLAGS").
type keywordTracker struct {
	t     *testing.T
	known map[string]bool
}

func (kt *keywordTracker) check(step string, lines []string) {
	kt.t.Helper()
	for _, l := range lines {
		if m := flagsLine.FindStringSubmatch(l); m != nil {
			kt.known = map[string]bool{}
			for _, f := range strings.Fields(m[1]) {
				kt.known[strings.ToLower(f)] = true
			}
			continue
		}
		if m := fetchFlags.FindStringSubmatch(l); m != nil {
			for _, f := range strings.Fields(m[1]) {
				if !strings.HasPrefix(f, `\`) && !kt.known[strings.ToLower(f)] {
					kt.t.Errorf("%s: %q shows %s before a * FLAGS announced it:\n%s", step, l, f, strings.Join(lines, "\n"))
				}
			}
		}
	}
}

// TestSession_keywordFlagsBeforeEveryFetch: a session must get "* FLAGS"
// listing a keyword before any FETCH showing it, whoever created the
// keyword, and in the answers to its own FETCH and STORE too.
func TestSession_keywordFlagsBeforeEveryFetch(t *testing.T) {
	s := maildirtest.NewServer(t, nil)
	maildirtest.Deliver(t, s.Maildir, maildirtest.Message("one"))
	maildirtest.Deliver(t, s.Maildir, maildirtest.Message("two"))
	a, b := fxDial(t, s), fxDial(t, s)
	kt := &keywordTracker{t: t}
	kt.check("A SELECT", a.cmd("SELECT INBOX"))
	b.cmd("SELECT INBOX")
	b.cmd("STORE 1 +FLAGS ($Label3)")
	kt.check("A NOOP", a.cmd("NOOP"))

	// B creates $Label4; A's FETCH must not show it before * FLAGS.
	b.cmd("STORE 1 +FLAGS ($Label4)")
	lines := a.cmd("FETCH 1:* (UID FLAGS)")
	kt.check("A FETCH", lines)
	if !strings.Contains(strings.Join(lines, "\n"), "$Label4") {
		t.Errorf("A never learns $Label4:\n%s", strings.Join(lines, "\n"))
	}

	// B creates $Label5 on message 2; A stores it on message 1: A's own
	// STORE answer must not show it before * FLAGS either.
	b.cmd("STORE 2 +FLAGS.SILENT ($Label5)")
	lines = a.cmd("STORE 1 +FLAGS ($Label5)")
	kt.check("A STORE", lines)
	lines = append(lines, a.cmd("FETCH 1:2 FLAGS")...)
	kt.check("A FETCH after STORE", lines)
	if got := strings.Join(lines, "\n"); !strings.Contains(got, "FLAGS ($Label3 $Label4 $Label5") {
		t.Errorf("A's final flags of message 1:\n%s", got)
	}

	// B creates $Label6 and marks message 2 with it; A's FETCH BODY[]
	// (which sets \Seen and answers with FLAGS) must not show it early.
	b.cmd("STORE 2 +FLAGS.SILENT ($Label6)")
	kt.check("A FETCH BODY[]", a.cmd("FETCH 2 (BODY[])"))
}
