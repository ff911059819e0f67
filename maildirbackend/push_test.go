package maildirbackend_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
	"github.com/maildir-imapd/maildir-imapd/watch"
)

// pushRecorder collects unilateral updates of an IDLE client.
type pushRecorder struct {
	exists  chan uint32
	expunge chan uint32
	flags   chan imapclient.FetchMessageBuffer
}

func newPushRecorder() (*pushRecorder, *imapclient.Options) {
	r := &pushRecorder{
		exists:  make(chan uint32, 100),
		expunge: make(chan uint32, 100),
		flags:   make(chan imapclient.FetchMessageBuffer, 100),
	}
	return r, &imapclient.Options{UnilateralDataHandler: &imapclient.UnilateralDataHandler{
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				r.exists <- *d.NumMessages
			}
		},
		Expunge: func(seq uint32) { r.expunge <- seq },
		Fetch: func(m *imapclient.FetchMessageData) {
			buf, err := m.Collect()
			if err == nil {
				// \Recent is this session's own state: the tests check
				// the message's flags.
				buf.Flags = slices.DeleteFunc(buf.Flags, func(f imap.Flag) bool { return f == `\Recent` })
				r.flags <- *buf
			}
		},
	}}
}

// idleIn selects mailbox and starts IDLE; the caller ends it with Close.
func idleIn(t *testing.T, c *imapclient.Client, mailbox string) *imapclient.IdleCommand {
	t.Helper()
	if _, err := c.Select(mailbox, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	idleCmd, err := c.Idle()
	if err != nil {
		t.Fatal(err)
	}
	return idleCmd
}

func wait[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

func TestPush_deliveryFlagsExpungeWhileIdle(t *testing.T) {
	s := maildirtest.NewServer(t, nil)
	first := maildirtest.Deliver(t, s.Maildir, maildirtest.Message("before"))
	rec, opts := newPushRecorder()
	c := s.Dial(t, opts)
	idleCmd := idleIn(t, c, "INBOX")
	defer idleCmd.Close()

	k := maildirtest.Deliver(t, s.Maildir, maildirtest.Message("pushed"))
	if n := wait(t, rec.exists, "EXISTS after delivery"); n != 2 {
		t.Fatalf("EXISTS %d, want 2", n)
	}
	maildirtest.SetFlags(t, s.Maildir, k, "FS")
	fm := wait(t, rec.flags, "FETCH FLAGS after rename")
	if fm.SeqNum != 2 || len(fm.Flags) != 2 {
		t.Fatalf("FETCH %+v", fm)
	}
	maildirtest.Remove(t, s.Maildir, first)
	if seq := wait(t, rec.expunge, "EXPUNGE after unlink"); seq != 1 {
		t.Fatalf("EXPUNGE %d, want 1", seq)
	}
}

func TestPush_otherSessionsChangesOnceAndChangeBeforeIdle(t *testing.T) {
	s := maildirtest.NewServer(t, nil)
	maildirtest.Deliver(t, s.Maildir, maildirtest.Message("a"))
	rec, opts := newPushRecorder()
	watcher := s.Dial(t, opts)
	actor := s.Dial(t, nil)
	for _, c := range []*imapclient.Client{watcher, actor} {
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
	}
	// A change made between the watcher's last command and its IDLE must
	// be sent as soon as IDLE starts.
	if _, err := actor.Store(imap.UIDSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}, nil).Collect(); err != nil {
		t.Fatal(err)
	}
	idleCmd, err := watcher.Idle()
	if err != nil {
		t.Fatal(err)
	}
	fm := wait(t, rec.flags, "FETCH at IDLE start")
	if len(fm.Flags) != 1 || fm.Flags[0] != imap.FlagSeen {
		t.Fatalf("flags %v", fm.Flags)
	}
	// The file-system echo of that rename must not produce a second FETCH.
	select {
	case extra := <-rec.flags:
		t.Fatalf("duplicate FETCH %+v", extra)
	case <-time.After(300 * time.Millisecond):
	}
	idleCmd.Close()
	if err := idleCmd.Wait(); err != nil {
		t.Fatal(err)
	}
}

func TestPush_burstEveryUIDOnce(t *testing.T) {
	s := maildirtest.NewServer(t, nil)
	c := s.Dial(t, nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	const n = 300
	for i := 0; i < n; i++ {
		maildirtest.Deliver(t, s.Maildir, maildirtest.Message("burst"))
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if err := c.Noop().Wait(); err != nil {
			t.Fatal(err)
		}
		if c.Mailbox().NumMessages == n || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	msgs := fetchAll(t, c)
	if len(msgs) != n {
		t.Fatalf("%d messages, want %d", len(msgs), n)
	}
	seen := map[imap.UID]bool{}
	for i, m := range msgs {
		if seen[m.UID] || m.SeqNum != uint32(i+1) {
			t.Fatalf("duplicate UID or bad seq: %+v", m)
		}
		seen[m.UID] = true
	}
}

func TestPush_pollingFallback(t *testing.T) {
	// One watch allowed: INBOX needs two (new/ and cur/), so it is polled.
	s := maildirtest.NewServer(t, &maildirtest.Options{Watch: watch.Options{MaxWatches: 1, PollInterval: 50 * time.Millisecond}})
	rec, opts := newPushRecorder()
	c := s.Dial(t, opts)
	idleCmd := idleIn(t, c, "INBOX")
	defer idleCmd.Close()
	k := maildirtest.Deliver(t, s.Maildir, maildirtest.Message("polled"))
	if n := wait(t, rec.exists, "EXISTS via polling"); n != 1 {
		t.Fatalf("EXISTS %d", n)
	}
	maildirtest.Remove(t, s.Maildir, k)
	if seq := wait(t, rec.expunge, "EXPUNGE via polling"); seq != 1 {
		t.Fatalf("EXPUNGE %d", seq)
	}
	if st := s.Backend; st == nil {
		t.Fatal("no backend")
	}
}

func TestPush_folderDeletedUnderSelectedSession(t *testing.T) {
	s := maildirtest.NewServer(t, nil)
	admin := s.Dial(t, nil)
	if err := admin.Create("Work", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	maildirtest.Deliver(t, s.Folder("Work"), maildirtest.Message("w1"))
	maildirtest.Deliver(t, s.Folder("Work"), maildirtest.Message("w2"))
	rec, opts := newPushRecorder()
	c := s.Dial(t, opts)
	idleCmd := idleIn(t, c, "Work")
	if err := os.RemoveAll(s.Folder("Work")); err != nil {
		t.Fatal(err)
	}
	wait(t, rec.expunge, "first EXPUNGE")
	wait(t, rec.expunge, "second EXPUNGE")
	idleCmd.Close()
	if err := idleCmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Noop().Wait(); err != nil {
		t.Fatalf("connection must survive: %v", err)
	}
}

func TestPush_twoProcessesShareOneMaildir(t *testing.T) {
	a := maildirtest.NewServer(t, nil)
	b := maildirtest.NewServer(t, &maildirtest.Options{Maildir: a.Maildir})
	maildirtest.Deliver(t, a.Maildir, maildirtest.Message("shared"))
	ca := a.Dial(t, nil)
	rec, opts := newPushRecorder()
	cb := b.Dial(t, opts)
	for _, c := range []*imapclient.Client{ca, cb} {
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
	}
	idleCmd, err := cb.Idle()
	if err != nil {
		t.Fatal(err)
	}
	defer idleCmd.Close()
	if _, err := ca.Store(imap.UIDSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Collect(); err != nil {
		t.Fatal(err)
	}
	fm := wait(t, rec.flags, "FETCH from the other process")
	if fm.UID != 0 && fm.UID != 1 || len(fm.Flags) != 1 || fm.Flags[0] != imap.FlagFlagged {
		t.Fatalf("FETCH %+v", fm)
	}
	msg := "Subject: via a\r\n\r\nx\r\n"
	cmd := ca.Append("INBOX", int64(len(msg)), nil)
	cmd.Write([]byte(msg))
	cmd.Close()
	ad, err := cmd.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if n := wait(t, rec.exists, "EXISTS from the other process"); n != 2 {
		t.Fatalf("EXISTS %d", n)
	}
	idleCmd.Close()
	idleCmd.Wait()
	res, err := cb.UIDSearch(&imap.SearchCriteria{}, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if got := res.All.String(); got != "1:"+strconv.Itoa(int(ad.UID)) || ad.UID != 2 {
		t.Fatalf("UIDs seen by b: %s, appended UID %d", got, ad.UID)
	}
}

func TestPush_deletedUIDListRestoredFromMemory(t *testing.T) {
	s := maildirtest.NewServer(t, nil)
	maildirtest.Deliver(t, s.Maildir, maildirtest.Message("a"))
	maildirtest.Deliver(t, s.Maildir, maildirtest.Message("b"))
	rec, opts := newPushRecorder()
	c := s.Dial(t, opts)
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	// A cron job deletes the control file (chatmail/relay#374), then mail
	// arrives: the UIDs clients know must survive.
	if err := os.Remove(filepath.Join(s.Maildir, "dovecot-uidlist")); err != nil {
		t.Fatal(err)
	}
	idleCmd, err := c.Idle()
	if err != nil {
		t.Fatal(err)
	}
	maildirtest.Deliver(t, s.Maildir, maildirtest.Message("c"))
	if n := wait(t, rec.exists, "EXISTS"); n != 3 {
		t.Fatalf("EXISTS %d", n)
	}
	idleCmd.Close()
	idleCmd.Wait()
	// A fresh process reads the restored file.
	s2 := maildirtest.NewServer(t, &maildirtest.Options{Maildir: s.Maildir})
	c2 := s2.Dial(t, nil)
	sel2, err := c2.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sel2.UIDValidity != sel.UIDValidity || sel2.UIDNext != 4 {
		t.Fatalf("after restore: UIDVALIDITY %d (was %d), UIDNEXT %d", sel2.UIDValidity, sel.UIDValidity, sel2.UIDNext)
	}
	res, err := c2.UIDSearch(&imap.SearchCriteria{}, nil).Wait()
	if err != nil || res.All.String() != "1:3" {
		t.Fatalf("UIDs %v %v", res.All, err)
	}
}

func TestPush_keepaliveDuringIdle(t *testing.T) {
	s := maildirtest.NewServer(t, &maildirtest.Options{Backend: maildirbackend.Options{KeepaliveInterval: 50 * time.Millisecond}})
	conn, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	r.ReadString('\n') // greeting
	fmt.Fprintf(conn, "a LOGIN %s %s\r\nb SELECT INBOX\r\nc IDLE\r\n", maildirtest.User, maildirtest.Password)
	stillHere := 0
	for stillHere < 2 {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if line == "* OK Still here\r\n" {
			stillHere++
		}
	}
	fmt.Fprintf(conn, "DONE\r\nd NOOP\r\n")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if strings.HasPrefix(line, "d OK") {
			break
		}
	}
}
