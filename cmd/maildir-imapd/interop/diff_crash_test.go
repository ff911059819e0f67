package interop

import (
	"fmt"
	"regexp"
	"testing"
	"time"
)

// dovecotCrashed matches the line Dovecot's master logs when an imap
// process dies of a signal (docs/differences.md, "a Dovecot imap process
// crashes"): seed 2026, step 25,470, `RENAME "A.x.deep" "B"` while
// another session had B selected: signal 11.
var dovecotCrashed = regexp.MustCompile(`Fatal: master: service\(imap\): child \d+ killed with signal \d+`)

// dovecotIndexReplaced matches what Dovecot logs when it finds that
// another program removed a folder and made it again under its open index
// (the outside rmdir and mkdir steps): it notices, and rebuilds.
var dovecotIndexReplaced = regexp.MustCompile(`Error: Mailbox .*: Corrupted transaction log file .*dovecot\.index\.log seq \d+: indexid changed`)

// dovecotIndexCorrupted matches what Dovecot logs when its own index of a
// folder went wrong under outside changes (seed 2026, step 15,799 of an
// earlier generator: after an outside rmdir and mkdir, two of its
// sessions showed the same folder differently at a sync point, and it
// logged "duplicate transaction log sequence"). Its sessions' answers
// are then not an oracle until they start again.
var dovecotIndexCorrupted = regexp.MustCompile(`Error: .*(duplicate transaction log sequence|Corrupted index|Fixed index file)`)

// dovecotFaults counts the crash and corruption lines in Dovecot's log.
func dovecotFaults(log string) int {
	return len(dovecotCrashed.FindAllString(log, -1)) + len(dovecotIndexCorrupted.FindAllString(log, -1))
}

// survivedDovecotCrash reports whether a Dovecot imap process crashed, or
// Dovecot found its index corrupt, since the last look (a new line of
// dovecotCrashed or dovecotIndexCorrupted in its log). If so, the step's
// answers cannot be compared (a session of Dovecot's is gone mid-command,
// or shows what its broken index says); every session of both worlds logs in again, unselected,
// and the run goes on: what the crash left on disk is compared at the
// next sync point and full-state comparison like anything else.
func survivedDovecotCrash(t *testing.T, ws [2]*world, s step) bool {
	w := ws[0]
	// Dovecot's master logs the crash when it reaps the child, which can
	// be a moment after the client saw the connection end.
	n := 0
	for end := time.Now().Add(2 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		n = dovecotFaults(w.dc.Log(t))
		if n > w.faults || time.Now().After(end) {
			break
		}
	}
	if n <= w.faults {
		return false
	}
	w.faults = n
	log := w.dc.Log(t)
	t.Logf("Dovecot faulted at %s (%d so far: %d crashes of an imap process, %d index corruptions); every session starts again",
		s, n, len(dovecotCrashed.FindAllString(log, -1)), len(dovecotIndexCorrupted.FindAllString(log, -1)))
	for _, w := range ws {
		w.log.add(fmt.Sprintf("Dovecot crashed or corrupted its index at %s: every session logs in again", s))
		for i, old := range w.sess {
			old.w.close()
			ns, err := w.connect(i)
			if err != nil {
				t.Logf("%s: reconnect after the crash: %v", w.name, err)
				return false
			}
			w.sess[i] = ns
		}
	}
	return true
}
