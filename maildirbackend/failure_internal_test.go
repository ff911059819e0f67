package maildirbackend

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/dovecot"
	"github.com/maildir-imapd/maildir-imapd/watch"
)

// The tests of this file inject real failures (a uidlist lock held by
// another owner, a destination renamed away, a concurrent MOVE) and check
// issue 8's rule: a NO means nothing happened, and every message ends up in
// exactly one place, exactly once.

// shortLockTimeout makes a held uidlist lock fail commands fast.
func shortLockTimeout(t *testing.T) {
	old := lockTimeout
	lockTimeout = 300 * time.Millisecond
	t.Cleanup(func() { lockTimeout = old })
}

// holdUIDListLock takes dir's dovecot-uidlist.lock as another process
// would, until the returned function is called.
func holdUIDListLock(t *testing.T, dir string) func() {
	t.Helper()
	lock, err := dovecot.LockUIDList(dir, time.Second)
	if err != nil {
		t.Fatalf("take the uidlist lock: %v", err)
	}
	var once sync.Once
	release := func() { once.Do(func() { lock.Unlock() }) }
	t.Cleanup(release)
	return release
}

// messageFiles lists the message file names of a folder's new/ and cur/.
func messageFiles(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	for _, sub := range []string{"new", "cur"} {
		es, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			names = append(names, sub+"/"+e.Name())
		}
	}
	sort.Strings(names)
	return names
}

// messageKeys lists the keys of a folder's messages.
func messageKeys(t *testing.T, dir string) []string {
	t.Helper()
	var keys []string
	for _, n := range messageFiles(t, dir) {
		k, _ := splitName(n[len("new/"):])
		keys = append(keys, k)
	}
	return keys
}

func appendMsg(c *imapclient.Client, mailbox, body string) (*imap.AppendData, error) {
	cmd := c.Append(mailbox, int64(len(body)), nil)
	if _, err := cmd.Write([]byte(body)); err != nil {
		return nil, err
	}
	if err := cmd.Close(); err != nil {
		return nil, err
	}
	return cmd.Wait()
}

func imapCode(err error) imap.ResponseCode {
	var ie *imap.Error
	if errors.As(err, &ie) {
		return ie.Code
	}
	return ""
}

// Issue 8, item 1: an APPEND answered NO leaves no file behind, so that the
// client's retry cannot make a duplicate.
func TestFailure_appendNoLeavesNothing(t *testing.T) {
	shortLockTimeout(t)
	s := newListServer(t, nil)
	c := s.dial(t)
	if _, err := appendMsg(c, "INBOX", "Subject: first\r\n\r\nx\r\n"); err != nil {
		t.Fatal(err)
	}
	before := messageFiles(t, s.maildir)
	release := holdUIDListLock(t, s.maildir)
	_, err := appendMsg(c, "INBOX", "Subject: refused\r\n\r\ny\r\n")
	if code := imapCode(err); code != imap.ResponseCodeInUse {
		t.Fatalf("APPEND under a held lock = %v, want NO [INUSE]", err)
	}
	if got := messageFiles(t, s.maildir); strings.Join(got, " ") != strings.Join(before, " ") {
		t.Fatalf("files after a refused APPEND = %v, want %v", got, before)
	}
	release()
	c2 := s.dial(t)
	st, err := c2.Status("INBOX", &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if *st.NumMessages != 1 {
		t.Fatalf("STATUS INBOX = %d messages after a refused APPEND, want 1", *st.NumMessages)
	}
}

// Issue 8, item 3: COPY and MOVE that fail leave nothing in the destination
// and, for MOVE, the source as it was.
func TestFailure_copyMoveLeaveNothing(t *testing.T) {
	shortLockTimeout(t)
	s := newListServer(t, nil)
	c := s.dial(t)
	if err := c.Create("Dest", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		if _, err := appendMsg(c, "INBOX", fmt.Sprintf("Subject: %d\r\n\r\nbody\r\n", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(s.maildir, ".Dest")
	src := messageFiles(t, s.maildir)
	holdUIDListLock(t, dest)
	var all imap.SeqSet
	all.AddRange(1, 6)
	if _, err := c.Copy(all, "Dest").Wait(); imapCode(err) != imap.ResponseCodeInUse {
		t.Fatalf("COPY = %v, want NO [INUSE]", err)
	}
	if got := messageFiles(t, dest); len(got) != 0 {
		t.Fatalf("Dest after a failed COPY holds %v", got)
	}
	if _, err := c.Move(all, "Dest").Wait(); imapCode(err) != imap.ResponseCodeInUse {
		t.Fatalf("MOVE = %v, want NO [INUSE]", err)
	}
	if got := messageFiles(t, dest); len(got) != 0 {
		t.Fatalf("Dest after a failed MOVE holds %v", got)
	}
	if got := messageFiles(t, s.maildir); strings.Join(got, " ") != strings.Join(src, " ") {
		t.Fatalf("source after a failed MOVE = %v, want %v", got, src)
	}
	msgs, err := c.Fetch(all, &imap.FetchOptions{UID: true}).Collect()
	if err != nil || len(msgs) != 6 {
		t.Fatalf("FETCH after a failed MOVE = %d messages, %v", len(msgs), err)
	}
}

// Issue 8, item 4: two sessions UID MOVE the same 200 messages at once;
// each arrives in the destination exactly once.
func TestMove_concurrentSameMessages(t *testing.T) {
	s := newListServer(t, nil)
	c := s.dial(t)
	if err := c.Create("Dest", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	const n = 200
	for i := range n {
		writeMessage(t, s.maildir, fmt.Sprintf("m%03d", i))
	}
	var wg sync.WaitGroup
	results := make([]*imapclient.MoveData, 2)
	errs := make([]error, 2)
	for i := range 2 {
		cl := s.dial(t)
		if _, err := cl.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var uids imap.UIDSet
			uids.AddRange(1, n)
			results[i], errs[i] = cl.Move(uids, "Dest").Wait()
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("MOVE %d: %v", i, err)
		}
	}
	keys := messageKeys(t, filepath.Join(s.maildir, ".Dest"))
	if len(keys) != n {
		t.Fatalf("Dest holds %d messages, want %d", len(keys), n)
	}
	seen := map[string]bool{}
	for _, k := range keys {
		if seen[k] {
			t.Fatalf("key %s twice in Dest", k)
		}
		seen[k] = true
	}
	if left := messageFiles(t, s.maildir); len(left) != 0 {
		t.Fatalf("INBOX still holds %v", left)
	}
	moved := 0
	for _, r := range results {
		if r != nil && r.SourceUIDs != nil {
			ss, _ := r.SourceUIDs.(imap.UIDSet).Nums()
			moved += len(ss)
		}
	}
	if moved != n {
		t.Fatalf("the two COPYUIDs name %d source messages, want %d", moved, n)
	}
}

// Issue 8, item 5: MOVE while the destination is renamed back and forth
// answers OK or NO [TRYCREATE], never a server bug, and loses or
// duplicates nothing.
func TestMove_destinationRenamed(t *testing.T) {
	s := newListServer(t, nil)
	c := s.dial(t)
	if err := c.Create("Dest", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	const n = 60
	for i := range n {
		writeMessage(t, s.maildir, fmt.Sprintf("r%03d", i))
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	a, b := filepath.Join(s.maildir, ".Dest"), filepath.Join(s.maildir, ".Away")
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			os.Rename(a, b)
			os.Rename(b, a)
		}
	}()
	for uid := imap.UID(1); uid <= n; uid++ {
		_, err := c.Move(imap.UIDSetNum(uid), "Dest").Wait()
		if err != nil && imapCode(err) != imap.ResponseCodeTryCreate && imapCode(err) != imap.ResponseCodeNonExistent {
			t.Errorf("UID MOVE %d = %v; want OK or NO [TRYCREATE]", uid, err)
		}
	}
	close(stop)
	<-done
	var all []string
	for _, dir := range []string{s.maildir, a} {
		all = append(all, messageKeys(t, dir)...)
	}
	seen := map[string]bool{}
	for _, k := range all {
		if seen[k] {
			t.Fatalf("key %s twice", k)
		}
		seen[k] = true
	}
	if len(seen) != n {
		t.Fatalf("%d messages in INBOX and Dest, want %d", len(seen), n)
	}
}

// writeMessage delivers a message into dir/new as an MTA does.
func writeMessage(t *testing.T, dir, key string) {
	t.Helper()
	tmp := filepath.Join(dir, "tmp", key)
	if err := os.WriteFile(tmp, []byte("Subject: "+key+"\r\n\r\nbody\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "new", key)); err != nil {
		t.Fatal(err)
	}
}

// Issue 8, item 2: a sync that failed because another process held the
// uidlist lock is retried until it succeeds: the delivery reaches the IDLE
// client once the lock is free, with no other change and no safety check.
func TestSync_retriedAfterBusyLock(t *testing.T) {
	w, err := watch.New(&watch.Options{PollInterval: time.Hour, SafetyInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	s := newListServer(t, &Options{Watcher: w})
	exists := make(chan uint32, 16)
	c, err := imapclient.DialInsecure(s.addr, &imapclient.Options{
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					exists <- *d.NumMessages
				}
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login("u", "p").Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	idle, err := c.Idle()
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	release := holdUIDListLock(t, s.maildir)
	writeMessage(t, s.maildir, "delivered-under-lock")
	// The sync the delivery started fails at least once (it gives up after
	// backgroundLockWait); then the lock goes.
	time.Sleep(3 * backgroundLockWait)
	select {
	case n := <-exists:
		t.Fatalf("EXISTS %d while the lock is held", n)
	default:
	}
	release()
	select {
	case n := <-exists:
		if n != 1 {
			t.Fatalf("EXISTS %d, want 1", n)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the delivery never reached the IDLE client: the failed sync was not retried")
	}
}

// Issue 8, item 6: while an APPEND to INBOX waits for a foreign uidlist
// lock, a session leaving INBOX for another folder, and other sessions'
// STATUS and LIST, are not held up.
func TestLockWait_doesNotStallAccount(t *testing.T) {
	old := lockTimeout
	lockTimeout = 10 * time.Second
	t.Cleanup(func() { lockTimeout = old })
	s := newListServer(t, nil)
	c := s.dial(t)
	if err := c.Create("Other", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := appendMsg(c, "INBOX", "Subject: x\r\n\r\nx\r\n"); err != nil {
		t.Fatal(err)
	}
	b := s.dial(t)
	if _, err := b.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	release := holdUIDListLock(t, s.maildir)
	appendDone := make(chan error, 1)
	go func() {
		_, err := appendMsg(c, "INBOX", "Subject: waits\r\n\r\ny\r\n")
		appendDone <- err
	}()
	time.Sleep(300 * time.Millisecond) // let the APPEND reach the lock wait
	// A third session asks for INBOX too: it waits for INBOX, and must
	// not make anyone else wait.
	third := s.dial(t)
	thirdDone := make(chan error, 1)
	go func() {
		_, err := third.Status("INBOX", &imap.StatusOptions{NumMessages: true}).Wait()
		thirdDone <- err
	}()
	time.Sleep(100 * time.Millisecond)
	other := s.dial(t)
	if _, err := other.Status("Other", &imap.StatusOptions{NumMessages: true}).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := other.List("", "*", nil).Collect(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Select("Other", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-appendDone:
		t.Fatalf("the APPEND ended (%v) before the other commands: they waited for INBOX's lock", err)
	default:
	}
	release()
	if err := <-appendDone; err != nil {
		t.Fatalf("APPEND after the lock was released: %v", err)
	}
	if err := <-thirdDone; err != nil {
		t.Fatalf("STATUS INBOX after the lock was released: %v", err)
	}
}

// COPY numbers the copies in the order of their sources, as Dovecot does,
// even when their file names sort the other way (found by the differential
// test).
func TestCopy_keepsSourceOrder(t *testing.T) {
	s := newListServer(t, nil)
	c := s.dial(t)
	if err := c.Create("X", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	writeMessage(t, s.maildir, "zzz-first")
	if _, err := c.Status("INBOX", &imap.StatusOptions{UIDNext: true}).Wait(); err != nil {
		t.Fatal(err) // numbers zzz-first: UID 1
	}
	writeMessage(t, s.maildir, "aaa-second")
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		st, err := c.Status("INBOX", &imap.StatusOptions{NumMessages: true}).Wait()
		if err != nil {
			t.Fatal(err)
		}
		if *st.NumMessages == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the second delivery never appeared")
		}
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	var all imap.SeqSet
	all.AddRange(1, 2)
	if _, err := c.Copy(all, "X").Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("X", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err := c.Fetch(all, &imap.FetchOptions{Envelope: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[0].Envelope.Subject != "zzz-first" || msgs[1].Envelope.Subject != "aaa-second" {
		t.Fatalf("X in UID order: %v, %v; want zzz-first, aaa-second", msgs[0].Envelope.Subject, msgs[1].Envelope.Subject)
	}
}

// A sync that finds a message unlinked and another delivered, and then
// cannot number the delivery (another process holds the uidlist lock),
// still tells the views of the expunge: the folder state has dropped the
// message, so no later sync would ever expunge it, and every session,
// including a new SELECT, would list it for good (found by
// TestConcurrent_bothServers under load: UIDs whose files were gone stayed
// in SEARCH ALL and the EXISTS count while FETCH skipped them).
func TestSync_failedAssignStillExpunges(t *testing.T) {
	shortLockTimeout(t)
	s := newListServer(t, nil)
	writeMessage(t, s.maildir, "unlinked-outside")
	c := s.dial(t)
	if sel, err := c.Select("INBOX", nil).Wait(); err != nil || sel.NumMessages != 1 {
		t.Fatalf("SELECT INBOX = %v, %v; want 1 message", sel, err)
	}
	release := holdUIDListLock(t, s.maildir)
	writeMessage(t, s.maildir, "delivered-under-lock")
	if err := os.Remove(filepath.Join(s.maildir, "new", "unlinked-outside")); err != nil {
		t.Fatal(err)
	}
	// This SELECT's sync sees both changes and cannot number the
	// delivery (a watcher-started sync may fail the same way first).
	if _, err := c.Select("INBOX", nil).Wait(); imapCode(err) != imap.ResponseCodeInUse {
		t.Fatalf("SELECT INBOX under a held lock = %v, want NO [INUSE]", err)
	}
	release()
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	data, err := c.UIDSearch(&imap.SearchCriteria{}, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if uids := data.AllUIDs(); sel.NumMessages != 1 || len(uids) != 1 || uids[0] != 2 {
		t.Fatalf("after the lock went: SELECT says %d messages, UID SEARCH ALL %v; want 1 message, UID 2",
			sel.NumMessages, uids)
	}
}
