package maildirbackend_test

import (
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
	"github.com/maildir-imapd/maildir-imapd/watch"
)

// The tests of this file are the folder lifecycle cases of issue 7: a
// folder's identity is its directory, so a folder deleted, renamed over or
// removed by another program and created again is a new folder, with no
// message and no UID of the old one. Each asserts what Dovecot 2.3 answers.

// appendText appends one small message and returns its APPENDUID data.
func appendText(t *testing.T, c *imapclient.Client, mailbox, subject string) *imap.AppendData {
	t.Helper()
	msg := maildirtest.Message(subject)
	cmd := c.Append(mailbox, int64(len(msg)), nil)
	if _, err := cmd.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := cmd.Wait()
	if err != nil {
		t.Fatalf("APPEND %s: %v", mailbox, err)
	}
	return data
}

// uidsOf fetches the UIDs of the selected mailbox (UID FETCH 1:*, which an
// empty mailbox answers too).
func uidsOf(t *testing.T, c *imapclient.Client) []imap.UID {
	t.Helper()
	var all imap.UIDSet
	all.AddRange(1, 0)
	msgs, err := c.Fetch(all, &imap.FetchOptions{UID: true}).Collect()
	if err != nil {
		t.Fatalf("UID FETCH 1:* UID: %v", err)
	}
	uids := make([]imap.UID, len(msgs))
	for i, m := range msgs {
		uids[i] = m.UID
	}
	return uids
}

// Issue 7, item 1: CREATE, APPEND, SELECT, CLOSE, DELETE, CREATE, APPEND,
// SELECT, pipelined. The second folder is new: Dovecot gives it a new
// UIDVALIDITY, UID 1 and one message.
func TestLifecycle_deleteCreatePipelined(t *testing.T) {
	s := maildirtest.NewServer(t, nil)
	c := s.Dial(t, nil)
	for i := range 20 {
		create1 := c.Create("X", nil)
		msg := maildirtest.Message("first")
		app1 := c.Append("X", int64(len(msg)), nil)
		app1.Write([]byte(msg))
		app1.Close()
		sel1 := c.Select("X", nil)
		close1 := c.UnselectAndExpunge()
		del := c.Delete("X")
		create2 := c.Create("X", nil)
		msg2 := maildirtest.Message("second")
		app2 := c.Append("X", int64(len(msg2)), nil)
		app2.Write([]byte(msg2))
		app2.Close()
		sel2 := c.Select("X", nil)
		for _, cmd := range []interface{ Wait() error }{create1, close1, del, create2} {
			if err := cmd.Wait(); err != nil {
				t.Fatalf("iteration %d: %v", i, err)
			}
		}
		d1, err := app1.Wait()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sel1.Wait(); err != nil {
			t.Fatal(err)
		}
		d2, err := app2.Wait()
		if err != nil {
			t.Fatal(err)
		}
		sd, err := sel2.Wait()
		if err != nil {
			t.Fatal(err)
		}
		if d2.UIDValidity == d1.UIDValidity || d2.UID != 1 {
			t.Fatalf("iteration %d: second APPENDUID %d %d, first %d %d: want a new UIDVALIDITY and UID 1",
				i, d2.UIDValidity, d2.UID, d1.UIDValidity, d1.UID)
		}
		if sd.NumMessages != 1 || sd.UIDValidity != d2.UIDValidity || sd.UIDNext != 2 {
			t.Fatalf("iteration %d: SELECT = %d EXISTS, UIDVALIDITY %d, UIDNEXT %d; want 1, %d, 2",
				i, sd.NumMessages, sd.UIDValidity, sd.UIDNext, d2.UIDValidity)
		}
		if uids := uidsOf(t, c); len(uids) != 1 || uids[0] != 1 {
			t.Fatalf("iteration %d: FETCH 1:* UID = %v, want [1]", i, uids)
		}
		if err := c.Unselect().Wait(); err != nil {
			t.Fatal(err)
		}
		if err := c.Delete("X").Wait(); err != nil {
			t.Fatal(err)
		}
	}
}

// Issue 7, item 2: RENAME A A3, then RENAME B A (B empty): A is B now.
func TestLifecycle_renameOver(t *testing.T) {
	s := maildirtest.NewServer(t, nil)
	c := s.Dial(t, nil)
	for _, name := range []string{"A", "B"} {
		if err := c.Create(name, nil).Wait(); err != nil {
			t.Fatal(err)
		}
	}
	a1 := appendText(t, c, "A", "a1")
	appendText(t, c, "A", "a2")
	b, err := c.Status("B", &imap.StatusOptions{UIDValidity: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	// Open A in this process, as a client that looked at it would.
	if _, err := c.Select("A", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Unselect().Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Rename("A", "A3", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Rename("B", "A", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	st, err := c.Status("A", &imap.StatusOptions{NumMessages: true, UIDNext: true, UIDValidity: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if *st.NumMessages != 0 || st.UIDNext != 1 || st.UIDValidity != b.UIDValidity {
		t.Fatalf("STATUS A = %d messages, UIDNEXT %d, UIDVALIDITY %d; want 0, 1, %d (B's)",
			*st.NumMessages, st.UIDNext, st.UIDValidity, b.UIDValidity)
	}
	sd, err := c.Select("A", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sd.NumMessages != 0 {
		t.Fatalf("SELECT A = %d EXISTS, want 0", sd.NumMessages)
	}
	if uids := uidsOf(t, c); len(uids) != 0 {
		t.Fatalf("FETCH 1:* = %v, want nothing", uids)
	}
	st3, err := c.Status("A3", &imap.StatusOptions{NumMessages: true, UIDValidity: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if *st3.NumMessages != 2 || st3.UIDValidity != a1.UIDValidity {
		t.Fatalf("STATUS A3 = %d messages, UIDVALIDITY %d; want 2, %d", *st3.NumMessages, st3.UIDValidity, a1.UIDValidity)
	}
}

// Issue 7, item 3: another program removes a folder, a client creates it
// again and appends, and the folder is removed again. Every answer follows
// the disk.
func TestLifecycle_removedByOtherProgram(t *testing.T) {
	s := maildirtest.NewServer(t, nil)
	c := s.Dial(t, nil)
	idler := s.Dial(t, nil)
	if err := c.Create("X", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	first := appendText(t, c, "X", "old")
	if _, err := idler.Select("X", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	dir := s.Folder("X")
	for round := range 3 {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Status("X", &imap.StatusOptions{NumMessages: true}).Wait(); err == nil {
			t.Fatalf("round %d: STATUS of a removed folder succeeded", round)
		}
		if _, err := c.Select("X", nil).Wait(); err == nil {
			t.Fatalf("round %d: SELECT of a removed folder succeeded", round)
		}
		if names := listNames(t, c); strings.Contains(names, " X ") {
			t.Fatalf("round %d: LIST shows the removed folder: %s", round, names)
		}
		if err := c.Create("X", nil).Wait(); err != nil {
			t.Fatalf("round %d: CREATE: %v", round, err)
		}
		d := appendText(t, c, "X", "new")
		if d.UID != 1 || d.UIDValidity == first.UIDValidity {
			t.Fatalf("round %d: APPENDUID %d %d after re-create; want a new UIDVALIDITY and UID 1", round, d.UIDValidity, d.UID)
		}
		first = d
		st, err := c.Status("X", &imap.StatusOptions{NumMessages: true, UIDValidity: true}).Wait()
		if err != nil {
			t.Fatal(err)
		}
		if *st.NumMessages != 1 || st.UIDValidity != d.UIDValidity {
			t.Fatalf("round %d: STATUS = %d messages UIDVALIDITY %d; want 1 %d", round, *st.NumMessages, st.UIDValidity, d.UIDValidity)
		}
		if _, err := c.Copy(seqSetAll(), "X").Wait(); err == nil {
			// Nothing selected on c: COPY must fail with BAD, not matter.
			t.Fatalf("round %d: COPY without a selected mailbox succeeded", round)
		}
		sd, err := c.Select("X", nil).Wait()
		if err != nil {
			t.Fatal(err)
		}
		if sd.NumMessages != 1 || sd.UIDValidity != d.UIDValidity {
			t.Fatalf("round %d: SELECT = %d EXISTS UIDVALIDITY %d", round, sd.NumMessages, sd.UIDValidity)
		}
		if _, err := c.Copy(seqSetAll(), "X").Wait(); err != nil {
			t.Fatalf("round %d: COPY into the re-created folder: %v", round, err)
		}
		if err := c.Unselect().Wait(); err != nil {
			t.Fatal(err)
		}
	}
	// The old selection saw its messages go and stays usable.
	if err := idler.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
}

// listNames returns LIST "" "*" as " name name … ".
func listNames(t *testing.T, c *imapclient.Client) string {
	t.Helper()
	mboxes, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString(" ")
	for _, m := range mboxes {
		b.WriteString(m.Mailbox + " ")
	}
	return b.String()
}

// Issue 7, item 4: after a folder is removed and created again, a delivery
// into the new new/ reaches an IDLE client at once: the watch follows the
// new directory. The deadline only keeps a broken build from hanging; the
// safety check and polling run far less often than it, so an inotify that
// follows the old directory fails the test.
func TestLifecycle_watchFollowsRecreatedFolder(t *testing.T) {
	s := maildirtest.NewServer(t, &maildirtest.Options{
		// No polling and no safety check: only inotify can deliver.
		Watch: watch.Options{PollInterval: time.Hour, SafetyInterval: -1},
	})
	c := s.Dial(t, nil)
	if err := c.Create("X", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	// A session keeps the first folder open while it is replaced.
	keep := s.Dial(t, nil)
	if _, err := keep.Select("X", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	// The server may be writing its own files into the folder (the
	// full-text index's directory) while rm -rf runs: like a user, run it
	// again when a file appeared behind it.
	var err error
	for range 10 {
		if err = os.RemoveAll(s.Folder("X")); !errors.Is(err, syscall.ENOTEMPTY) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Create("X", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	exists := make(chan uint32, 16)
	w := s.Dial(t, &imapclient.Options{UnilateralDataHandler: &imapclient.UnilateralDataHandler{
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				exists <- *d.NumMessages
			}
		},
	}})
	if _, err := w.Select("X", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	idleCmd, err := w.Idle()
	if err != nil {
		t.Fatal(err)
	}
	defer idleCmd.Close()
	maildirtest.Deliver(t, s.Folder("X"), maildirtest.Message("after re-create"))
	select {
	case n := <-exists:
		if n != 1 {
			t.Fatalf("EXISTS %d, want 1", n)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no EXISTS: the watch does not follow the re-created folder")
	}
}

// EXAMINE answers PERMANENTFLAGS () as Dovecot does: nothing can be stored
// in a read-only selection (RFC 3501 7.1).
func TestExamine_noPermanentFlags(t *testing.T) {
	s := maildirtest.NewServer(t, nil)
	c := s.Dial(t, nil)
	sd, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if len(sd.PermanentFlags) != 0 {
		t.Fatalf("EXAMINE PERMANENTFLAGS = %v, want ()", sd.PermanentFlags)
	}
	sd, err = c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if len(sd.PermanentFlags) == 0 {
		t.Fatal("SELECT PERMANENTFLAGS is empty")
	}
}

// A sequence set in an empty mailbox is BAD, "*" included, as Dovecot
// answers ("Invalid messageset"); UID sets and SEARCH are fine.
func TestEmptyMailbox_sequenceSetsAreBad(t *testing.T) {
	s := maildirtest.NewServer(t, nil)
	c := s.Dial(t, nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Fetch(seqSetAll(), &imap.FetchOptions{Flags: true}).Collect(); err == nil {
		t.Error("FETCH 1:* in an empty mailbox succeeded")
	}
	var last imap.SeqSet
	last.AddRange(2, 0)
	if _, err := c.Store(last, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{"kw"}}, nil).Collect(); err == nil {
		t.Error("STORE 2:* in an empty mailbox succeeded")
	}
	if uids := uidsOf(t, c); len(uids) != 0 {
		t.Errorf("UID FETCH 1:* = %v", uids)
	}
	if _, err := c.Search(&imap.SearchCriteria{SeqNum: []imap.SeqSet{seqSetAll()}}, nil).Wait(); err != nil {
		t.Errorf("SEARCH 1:*: %v", err)
	}
}

// SENTBEFORE/SENTSINCE/SENTON take a message without a Date: header as
// sent on 1-Jan-1970, as Dovecot 2.3 answers (found by the differential
// test), whatever its INTERNALDATE.
func TestSearch_missingDateIsTheEpoch(t *testing.T) {
	s := maildirtest.NewServer(t, nil)
	c := s.Dial(t, nil)
	msg := "From: a@example.org\r\nSubject: no date\r\n\r\nbody\r\n"
	cmd := c.Append("INBOX", int64(len(msg)), &imap.AppendOptions{Time: time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)})
	cmd.Write([]byte(msg))
	cmd.Close()
	if _, err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	data, err := c.Search(&imap.SearchCriteria{SentBefore: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if got := data.AllSeqNums(); len(got) != 1 {
		t.Fatalf("SEARCH SENTBEFORE 1-Jan-2024 = %v, want [1]", got)
	}
	data, err = c.Search(&imap.SearchCriteria{SentSince: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if got := data.AllSeqNums(); len(got) != 0 {
		t.Fatalf("SEARCH SENTSINCE 1-Jan-2024 = %v, want none", got)
	}
}

// RENAME of a mailbox that does not exist but has children renames the
// children, as Dovecot does (found by the differential test).
func TestRename_parentWithoutFolder(t *testing.T) {
	s := maildirtest.NewServer(t, nil)
	c := s.Dial(t, nil)
	if err := c.Create("P.child", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Rename("P", "Q", nil).Wait(); err != nil {
		t.Fatalf("RENAME P Q: %v", err)
	}
	if names := listNames(t, c); !strings.Contains(names, " Q.child ") || strings.Contains(names, "P.child") {
		t.Fatalf("LIST after RENAME = %s", names)
	}
	if err := c.Rename("Nothing", "Else", nil).Wait(); err == nil {
		t.Fatal("RENAME of a mailbox without folder or children succeeded")
	}
}
