package maildirbackend_test

import (
	"fmt"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
)

// TestSession_answersFromTheDiskNow: STATUS, SELECT and EXAMINE of a
// folder that is open (another session has it selected) answer from the
// disk as it is when the command runs, not from the state before the
// watcher reported another program's change, as Dovecot, which syncs on
// each of them (differential seed 11: EXAMINE right after a flag rename in
// cur/ said UNSEEN 1 where Dovecot said UNSEEN 4).
func TestSession_answersFromTheDiskNow(t *testing.T) {
	const rounds = 150
	s := maildirtest.NewServer(t, nil)
	var keys []string
	for i := 0; i < 4; i++ {
		keys = append(keys, maildirtest.Deliver(t, s.Maildir, maildirtest.Message(fmt.Sprint(i))))
	}
	holder := s.Dial(t, nil) // keeps INBOX open and watched
	if _, err := holder.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	c := s.Dial(t, nil)
	seen := map[string]bool{}
	stale := 0
	for i := 0; i < rounds; i++ {
		switch i % 3 {
		case 0: // another program changes a flag
			k := keys[i%len(keys)]
			seen[k] = !seen[k]
			letters := ""
			if seen[k] {
				letters = "S"
			}
			maildirtest.SetFlags(t, s.Maildir, k, letters)
			unseen := 0
			for _, k := range keys {
				if !seen[k] {
					unseen++
				}
			}
			st, err := c.Status("INBOX", &imap.StatusOptions{NumUnseen: true}).Wait()
			if err != nil {
				t.Fatal(err)
			}
			if int(*st.NumUnseen) != unseen {
				stale++
				t.Logf("round %d: STATUS UNSEEN %d after a flag rename, disk has %d", i, *st.NumUnseen, unseen)
			}
		case 1: // a delivery
			k := maildirtest.Deliver(t, s.Maildir, maildirtest.Message("more"))
			keys = append(keys, k)
			data, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: i%2 == 0}).Wait()
			if err != nil {
				t.Fatal(err)
			}
			if int(data.NumMessages) != len(keys) {
				stale++
				t.Logf("round %d: SELECT %d EXISTS after a delivery, disk has %d", i, data.NumMessages, len(keys))
			}
		case 2: // another program removes a message
			k := keys[0]
			keys = keys[1:]
			delete(seen, k)
			maildirtest.Remove(t, s.Maildir, k)
			data, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: i%2 == 0}).Wait()
			if err != nil {
				t.Fatal(err)
			}
			if int(data.NumMessages) != len(keys) {
				stale++
				t.Logf("round %d: SELECT %d EXISTS after an unlink, disk has %d", i, data.NumMessages, len(keys))
			}
		}
	}
	if stale > 0 {
		t.Errorf("%d of %d answers were from before another program's change", stale, rounds)
	}
}
