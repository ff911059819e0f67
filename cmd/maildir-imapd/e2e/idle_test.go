package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// waitFor receives from ch until ok accepts a value, failing after the
// deadline with what arrived.
func waitFor[T any](t *testing.T, ch <-chan T, what string, ok func(T) bool) {
	t.Helper()
	var seen []T
	timeout := time.After(deadline)
	for {
		select {
		case v := <-ch:
			if ok(v) {
				return
			}
			seen = append(seen, v)
		case <-timeout:
			t.Fatalf("no %s within %v; got %v", what, deadline, seen)
		}
	}
}

func TestIdle_deliveryExists(t *testing.T) {
	t.Parallel()
	root := filepath.Join(t.TempDir(), "Maildir")
	makeMaildir(t, root)
	old := putMessage(t, root, "cur", "S", message("Already here", "Old."))
	flagMe := putMessage(t, root, "cur", "S", message("Flag me", "Soon important."))
	d := startDaemon(t, singleUserConfig(root))

	exists := make(chan uint32, 64)
	expunged := make(chan uint32, 64)
	fetched := make(chan *imapclient.FetchMessageBuffer, 64)
	c := dialIMAP(t, d.Addr, &imapclient.Options{
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(m *imapclient.UnilateralDataMailbox) {
				if m.NumMessages != nil {
					exists <- *m.NumMessages
				}
			},
			Expunge: func(seq uint32) { expunged <- seq },
			Fetch: func(m *imapclient.FetchMessageData) {
				if buf, err := m.Collect(); err == nil {
					fetched <- buf
				}
			},
		},
	})
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatalf("SELECT: %v", err)
	}
	if sel.NumMessages != 2 {
		t.Fatalf("SELECT INBOX: %d messages, want 2", sel.NumMessages)
	}
	idle, err := c.Idle()
	if err != nil {
		t.Fatalf("IDLE: %v", err)
	}

	fresh := message("Pushed", "Delivered during IDLE.")
	deliver(t, root, fresh)
	waitFor(t, exists, "* 3 EXISTS after a delivery", func(n uint32) bool { return n == 3 })

	// Another program (an MUA on the same Maildir) flags message 2.
	if err := os.Rename(flagMe, strings.TrimSuffix(flagMe, ":2,S")+":2,FS"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, fetched, `* 2 FETCH (FLAGS (\Flagged \Seen)) after a rename`, func(m *imapclient.FetchMessageBuffer) bool {
		return m.SeqNum == 2 && slices.Contains(m.Flags, imap.FlagFlagged) && slices.Contains(m.Flags, imap.FlagSeen)
	})

	if err := os.Remove(old); err != nil {
		t.Fatal(err)
	}
	waitFor(t, expunged, "* 1 EXPUNGE after an unlink", func(seq uint32) bool { return seq == 1 })

	if err := idle.Close(); err != nil {
		t.Fatalf("DONE: %v", err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatalf("IDLE: %v", err)
	}
	// The pushed message is the delivered file.
	body := &imap.FetchItemBodySection{Peek: true}
	msgs, err := c.Fetch(imap.SeqSetNum(2), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{body}}).Collect()
	if err != nil {
		t.Fatalf("FETCH: %v", err)
	}
	if len(msgs) != 1 || normalize(string(msgs[0].FindBodySection(body))) != normalize(fresh) {
		t.Errorf("FETCH 2 BODY[] after the push = %+v; want the delivered message", msgs)
	}
}
