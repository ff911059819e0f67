package maildirbackend_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/dovecot"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
	"github.com/maildir-imapd/maildir-imapd/watch"
)

// TestAppend_deliveredBeforeGetsLowerUID delivers a file into new/ of a
// folder another session has selected and at once APPENDs to that folder,
// many times: every delivered file must have a UID in dovecot-uidlist, lower
// than the one of the message appended after it (RFC 3501 2.3.1.1: UIDs
// ascend in arrival order), as with Dovecot, whose STATUS or SELECT before
// the APPEND numbers the waiting files. Before the fix the APPEND overtook
// a delivery the watcher had not reported yet: always for a polled folder
// (beyond the inotify limit), now and then with inotify (the differential
// test's seeds 8 and 16: two messages with each other's UIDs).
func TestAppend_deliveredBeforeGetsLowerUID(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts watch.Options
	}{
		{"inotify", watch.Options{}},
		{"polled", watch.Options{MaxWatches: 1, PollInterval: time.Hour}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := maildirtest.NewServer(t, &maildirtest.Options{Watch: tc.opts})
			sel := s.Dial(t, nil)
			if _, err := sel.Select("INBOX", nil).Wait(); err != nil {
				t.Fatal(err)
			}
			checkDeliveriesFirst(t, s, s.Dial(t, nil), 40)
		})
	}
}

// checkDeliveriesFirst runs the rounds of TestAppend_deliveredBeforeGetsLowerUID.
func checkDeliveriesFirst(t *testing.T, s *maildirtest.Server, app *imapclient.Client, rounds int) {
	t.Helper()
	delivered := make([]string, rounds)
	appended := make([]uint32, rounds)
	for i := range rounds {
		delivered[i] = maildirtest.Deliver(t, s.Maildir, maildirtest.Message(fmt.Sprintf("delivered %d", i)))
		msg := maildirtest.Message(fmt.Sprintf("appended %d", i))
		cmd := app.Append("INBOX", int64(len(msg)), nil)
		if _, err := cmd.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Close(); err != nil {
			t.Fatal(err)
		}
		data, err := cmd.Wait()
		if err != nil {
			t.Fatal(err)
		}
		appended[i] = uint32(data.UID)
	}
	list, err := dovecot.ReadUIDList(filepath.Join(s.Maildir, "dovecot-uidlist"))
	if err != nil {
		t.Fatal(err)
	}
	uids := make(map[string]uint32, len(list.Records))
	for _, r := range list.Records {
		uids[r.Key] = r.UID
	}
	late := 0
	for i, key := range delivered {
		if u := uids[key]; u == 0 || u > appended[i] {
			if late++; late <= 5 {
				t.Errorf("delivery %d has UID %d (0: none) after the later APPEND took UID %d", i, u, appended[i])
			}
		}
	}
	if late > 5 {
		t.Errorf("... %d of %d deliveries overtaken in all", late, rounds)
	}
}
