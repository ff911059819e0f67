package maildirbackend_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
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

// TestCopy_keepsSourceOrder copies messages whose UID order differs from
// their file names' order into a folder another session has selected, so
// that the watcher reports the links while COPY makes them: the copies must
// take ascending UIDs in the order of their sources (RFC 4315 pairs
// COPYUID's sets in order; Dovecot does so), never the file-name order in
// which a sync numbers the files it finds. The check reads the messages
// back: COPYUID's sets, sorted, would hide the order.
func TestCopy_keepsSourceOrder(t *testing.T) {
	const n = 200
	s := maildirtest.NewServer(t, nil)
	c := s.Dial(t, nil)
	if err := c.Create("Dest", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	// Each delivery is older by name than the one before; the APPEND
	// after it numbers it first (TestAppend_deliveredBeforeGetsLowerUID).
	for i := range n {
		name := fmt.Sprintf("%d.M%dP1.test", 1700000000-i, i)
		tmp := filepath.Join(s.Maildir, "tmp", name)
		if err := os.WriteFile(tmp, []byte(maildirtest.Message(fmt.Sprintf("delivered %d", i))), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(s.Maildir, "new", name)); err != nil {
			t.Fatal(err)
		}
		msg := maildirtest.Message(fmt.Sprintf("appended %d", i))
		cmd := c.Append("INBOX", int64(len(msg)), nil)
		cmd.Write([]byte(msg))
		cmd.Close()
		if _, err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	watcher := s.Dial(t, nil)
	if _, err := watcher.Select("Dest", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	want := subjectsInUIDOrder(t, c)
	if _, err := c.Copy(imap.SeqSet{{Start: 1, Stop: 0}}, "Dest").Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("Dest", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	got := subjectsInUIDOrder(t, c)
	if !slices.Equal(got, want) {
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				t.Fatalf("copy %d of %d is %q, its source %q (UID order differs)", i+1, len(got), got[i], want[i])
			}
		}
		t.Fatalf("%d copies of %d sources", len(got), len(want))
	}
}

// subjectsInUIDOrder returns the subjects of the selected mailbox's messages.
func subjectsInUIDOrder(t *testing.T, c *imapclient.Client) []string {
	t.Helper()
	msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Envelope: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(msgs, func(a, b *imapclient.FetchMessageBuffer) int { return int(a.UID) - int(b.UID) })
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.Envelope.Subject
	}
	return out
}
