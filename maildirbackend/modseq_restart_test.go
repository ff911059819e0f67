package maildirbackend_test

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/dovecot"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/folderindex"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
)

// The index across restarts: what changed while no server ran is found at
// the next start and gets new MODSEQs; MODSEQs only grow, also when the
// index is deleted or the process is killed.

var reUIDValidity = regexp.MustCompile(`UIDVALIDITY (\d+)`)

// serveOnce runs fn against a server of root, then stops it and waits until
// its folders have let go of their index files.
func serveOnce(t *testing.T, root string, fn func(t *testing.T, c *fxConn)) {
	t.Helper()
	if !t.Run("serve", func(t *testing.T) {
		s := maildirtest.NewServer(t, &maildirtest.Options{Maildir: root, Frontend: "imapd"})
		fn(t, fxDial(t, s))
	}) {
		t.FailNow()
	}
	waitIndexFree(t, filepath.Join(root, folderindex.FileName))
}

// waitIndexFree waits until no open folder holds the index (a closing
// folder lets go of it in a goroutine of its own): bbolt holds an flock.
func waitIndexFree(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		f, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			return
		} else if err != nil {
			t.Fatal(err)
		}
		free := flockFree(f)
		f.Close() // drops the lock too
		if free {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("index still held")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestModSeq_restartFindsOutsideChanges(t *testing.T) {
	root := filepath.Join(t.TempDir(), "Maildir")
	for _, d := range []string{"cur", "new", "tmp"} {
		os.MkdirAll(filepath.Join(root, d), 0o700)
	}
	var keys []string
	for i := 0; i < 4; i++ {
		keys = append(keys, maildirtest.Deliver(t, root, maildirtest.Message(fmt.Sprint("m", i+1))))
	}
	var before map[uint64]uint64
	var h1, uv uint64
	serveOnce(t, root, func(t *testing.T, c *fxConn) {
		c.cmd("ENABLE QRESYNC")
		sel := c.cmd("SELECT INBOX")
		uv = firstNum(t, reUIDValidity, sel)
		c.cmd(`STORE 1 +FLAGS (\Answered)`)
		before = fetchModSeqs(t, c.cmd("UID FETCH 1:* (MODSEQ)"))
		h1 = firstNum(t, reHighest, c.cmd("STATUS INBOX (HIGHESTMODSEQ)"))
	})
	if len(before) != 4 {
		t.Fatalf("before: %v", before)
	}

	// While down: flags of UID 1 changed by mutt, UID 2 deleted by a cron
	// job, a delivery; UID 3 and 4 untouched.
	maildirtest.SetFlags(t, root, keys[0], "RS")
	maildirtest.Remove(t, root, keys[1])
	maildirtest.Deliver(t, root, maildirtest.Message("m5"))

	serveOnce(t, root, func(t *testing.T, c *fxConn) {
		c.cmd("ENABLE QRESYNC")
		lines := c.cmd("%s", fmt.Sprintf("SELECT INBOX (QRESYNC (%d %d))", uv, h1))
		h2 := firstNum(t, reHighest, lines)
		if h2 <= h1 {
			t.Fatalf("HIGHESTMODSEQ %d after restart, was %d", h2, h1)
		}
		if v := only(lines, "* VANISHED"); len(v) != 1 || v[0] != "* VANISHED (EARLIER) 2" {
			t.Fatalf("VANISHED (EARLIER) after restart: %q", lines)
		}
		changed := fetchModSeqs(t, only(lines, "* "))
		if len(changed) != 2 || changed[1] <= h1 || changed[5] <= h1 {
			t.Fatalf("changed since %d: %v (%q)", h1, changed, lines)
		}
		after := fetchModSeqs(t, c.cmd("UID FETCH 1:* (MODSEQ)"))
		for _, uid := range []uint64{3, 4} {
			if after[uid] != before[uid] {
				t.Errorf("UID %d untouched: MODSEQ %d, was %d", uid, after[uid], before[uid])
			}
		}
	})
}

func TestModSeq_deletedIndexNeverGoesBack(t *testing.T) {
	root := filepath.Join(t.TempDir(), "Maildir")
	for _, d := range []string{"cur", "new", "tmp"} {
		os.MkdirAll(filepath.Join(root, d), 0o700)
	}
	for i := 0; i < 3; i++ {
		maildirtest.Deliver(t, root, maildirtest.Message(fmt.Sprint("m", i+1)))
	}
	var h1, uv uint64
	serveOnce(t, root, func(t *testing.T, c *fxConn) {
		c.cmd("ENABLE QRESYNC")
		uv = firstNum(t, reUIDValidity, c.cmd("SELECT INBOX"))
		c.cmd(`STORE 2 +FLAGS (\Deleted)`)
		c.cmd("EXPUNGE")
		h1 = firstNum(t, reHighest, c.cmd("STATUS INBOX (HIGHESTMODSEQ)"))
	})
	if err := os.Remove(filepath.Join(root, folderindex.FileName)); err != nil {
		t.Fatal(err)
	}
	// A file that is no index at all is replaced too.
	serveOnce(t, root, func(t *testing.T, c *fxConn) {
		c.cmd("ENABLE QRESYNC")
		lines := c.cmd("%s", fmt.Sprintf("SELECT INBOX (QRESYNC (%d %d))", uv, h1))
		if h2 := firstNum(t, reHighest, lines); h2 <= h1 {
			t.Fatalf("HIGHESTMODSEQ %d from a rebuilt index, was %d", h2, h1)
		}
		// The new index does not know what went before it: every UID not
		// present is reported, every message changed.
		if v := only(lines, "* VANISHED"); len(v) != 1 || v[0] != "* VANISHED (EARLIER) 2" {
			t.Fatalf("VANISHED (EARLIER) from a rebuilt index: %q", lines)
		}
		if changed := fetchModSeqs(t, only(lines, "* ")); len(changed) != 2 {
			t.Fatalf("changed since %d: %v", h1, changed)
		}
	})
	if err := os.WriteFile(filepath.Join(root, folderindex.FileName), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	serveOnce(t, root, func(t *testing.T, c *fxConn) {
		if h := firstNum(t, reHighest, c.cmd("STATUS INBOX (HIGHESTMODSEQ)")); h <= h1 {
			t.Fatalf("HIGHESTMODSEQ %d from a replaced file, was %d", h, h1)
		}
	})
}

// TestModSeq_killDuringWrites kills a process that changes a folder in a
// loop (kill -9, at random points), then checks that the index opens as
// it was left (not replaced), that HIGHESTMODSEQ is at least the last one
// the process announced, and that the next server's MODSEQs are above it.
func TestModSeq_killDuringWrites(t *testing.T) {
	root := filepath.Join(t.TempDir(), "Maildir")
	for _, d := range []string{"cur", "new", "tmp"} {
		os.MkdirAll(filepath.Join(root, d), 0o700)
	}
	for i := 0; i < 20; i++ {
		maildirtest.Deliver(t, root, maildirtest.Message(fmt.Sprint("m", i+1)))
	}
	// A kill can leave dovecot-uidlist.lock behind without the pid that
	// lets the next process break it at once (the lock is created before
	// its content is written, and a rewrite's lock is the new file): it is
	// then broken when stale, after 120 s as in Dovecot. The test waits 2 s.
	defer func(d time.Duration) { dovecot.UIDListStaleTimeout = d }(dovecot.UIDListStaleTimeout)
	dovecot.UIDListStaleTimeout = 2 * time.Second
	var base uint64
	for round := 0; round < 5; round++ {
		last := runWriterUntilKilled(t, root, time.Duration(20+rand.IntN(200))*time.Millisecond)
		path := filepath.Join(root, folderindex.FileName)
		uv := readUIDValidity(t, root)
		x, err := folderindex.Open(path, uv, nil)
		if err != nil {
			t.Fatalf("round %d: open after kill: %v", round, err)
		}
		if base == 0 {
			base = x.Base()
		} else if x.Base() != base {
			t.Fatalf("round %d: the index was replaced (base %d, was %d)", round, x.Base(), base)
		}
		if x.HighestModSeq() < last {
			t.Fatalf("round %d: HIGHESTMODSEQ %d below %d, the last one announced", round, x.HighestModSeq(), last)
		}
		var bad []string
		x.Each(func(uid uint32, e folderindex.Entry) {
			if e.ModSeq > x.HighestModSeq() || e.ModSeq < x.Base() {
				bad = append(bad, fmt.Sprint(uid, ":", e.ModSeq))
			}
		})
		x.Close()
		if bad != nil {
			t.Fatalf("round %d: records outside [base, highest]: %v", round, bad)
		}
		serveOnce(t, root, func(t *testing.T, c *fxConn) {
			h := firstNum(t, reHighest, c.cmd("STATUS INBOX (HIGHESTMODSEQ)"))
			if h < last {
				t.Fatalf("round %d: server HIGHESTMODSEQ %d below %d", round, h, last)
			}
			c.cmd("SELECT INBOX")
			ms := fetchModSeqs(t, c.cmd(`STORE 1 FLAGS (\Draft)`))
			if len(ms) != 1 {
				t.Fatalf("round %d: STORE answered %v", round, ms)
			}
			for _, m := range ms {
				if m <= h {
					t.Fatalf("round %d: new MODSEQ %d not above %d", round, m, h)
				}
			}
		})
	}
}

func readUIDValidity(t *testing.T, root string) uint32 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "dovecot-uidlist"))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])
	for _, x := range f {
		if strings.HasPrefix(x, "V") {
			n, _ := strconv.ParseUint(x[1:], 10, 32)
			return uint32(n)
		}
	}
	t.Fatalf("no UIDVALIDITY in %q", f)
	return 0
}

// flockFree reports whether no one holds an flock on f (bbolt's lock).
func flockFree(f *os.File) bool {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil
}

// runWriterUntilKilled starts this test binary as a writer child on root,
// kills it with SIGKILL after d (once it has announced a first MODSEQ) and
// returns the last HIGHESTMODSEQ it announced.
func runWriterUntilKilled(t *testing.T, root string, d time.Duration) uint64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestModSeqWriterChild$", "-test.v")
	cmd.Env = append(os.Environ(), "MAILDIR_IMAPD_MODSEQ_CHILD="+root)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan uint64, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "modseq "); ok {
				n, _ := strconv.ParseUint(v, 10, 64)
				lines <- n
			}
		}
	}()
	var last uint64
	select {
	case last = <-lines:
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		t.Fatal("the writer announced nothing")
	}
	timer := time.After(d)
wait:
	for {
		select {
		case n, ok := <-lines:
			if !ok {
				break wait
			}
			last = n
		case <-timer:
			break wait
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	for n := range lines {
		last = n // announced before the kill landed
	}
	cmd.Wait()
	return last
}

// TestModSeqWriterChild is the writer of TestModSeq_killDuringWrites: run
// by it as a child process (it does nothing otherwise). It serves the
// Maildir and changes it in a loop: flags, expunges, APPENDs; after each
// command it prints the MODSEQ the server gave.
func TestModSeqWriterChild(t *testing.T) {
	root := os.Getenv("MAILDIR_IMAPD_MODSEQ_CHILD")
	if root == "" {
		return
	}
	s := maildirtest.NewServer(t, &maildirtest.Options{Maildir: root, Frontend: "imapd"})
	c := fxDial(t, s)
	c.cmd("ENABLE CONDSTORE")
	c.cmd("SELECT INBOX")
	for i := 0; ; i++ {
		switch i % 4 {
		case 0, 1:
			c.cmd(`STORE 1:* FLAGS (\Seen)`)
			c.cmd(`STORE 1:* -FLAGS (\Seen)`)
		case 2:
			c.cmd(`STORE 1 +FLAGS (\Deleted)`)
			c.cmd("EXPUNGE")
		case 3:
			msg := strings.ReplaceAll(maildirtest.Message(fmt.Sprint("a", i)), "\n", "\r\n")
			c.cmd("%s", fmt.Sprintf("APPEND INBOX {%d+}\r\n%s", len(msg), msg))
		}
		h := firstNum(t, reHighest, c.cmd("STATUS INBOX (HIGHESTMODSEQ)"))
		fmt.Printf("modseq %d\n", h)
	}
}
