package maildirbackend_test

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/maildir-imapd/maildir-imapd/imapd"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend"
	"github.com/maildir-imapd/maildir-imapd/watch"
)

// The cache and index files are bbolt databases, mapped into memory. A user
// may truncate one of them in place while the server has it open; the pages
// past the new end then raise SIGBUS when read. These tests truncate them
// under a running server of two users and check that the server stays up,
// that the truncating user's answers stay right (MODSEQs never go down), and
// that the other user notices nothing.

// mfMessages is the messages per user: a cache file of about 2 MiB and an
// index of about 16 pages, so that a truncation removes many mapped pages.
const mfMessages = 800

// mfServer serves the users alice and bob, each with mfMessages messages in
// INBOX, through the imapd front-end (the daemon's, with CONDSTORE), and
// returns the address and the users' Maildirs.
func mfServer(t *testing.T) (addr string, roots map[string]string) {
	t.Helper()
	roots = mfMaildirs(t)
	addr, _ = mfServe(t, roots)
	return addr, roots
}

// mfMaildirs makes the Maildirs of alice and bob, each with mfMessages
// messages in INBOX.
func mfMaildirs(t *testing.T) (roots map[string]string) {
	t.Helper()
	roots = map[string]string{}
	for _, user := range []string{"alice", "bob"} {
		root := filepath.Join(t.TempDir(), user)
		for _, d := range []string{"cur", "new", "tmp"} {
			if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
				t.Fatal(err)
			}
		}
		for i := range mfMessages {
			b := mfMessage(user, i)
			name := fmt.Sprintf("%d.M%dP1.mapfault,S=%d:2,", 1700000000+i, i, len(b))
			if err := os.WriteFile(filepath.Join(root, "cur", name), []byte(b), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		roots[user] = root
	}
	return roots
}

// mfServe serves roots (user name to Maildir) through the imapd front-end
// and returns the address and a function that stops the server and closes
// the backend (and so its files); the test's end calls it too.
func mfServe(t *testing.T, roots map[string]string) (addr string, stop func()) {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	w, err := watch.New(&watch.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	b, err := maildirbackend.New(&maildirbackend.Options{
		Logger:  logger,
		Watcher: w,
		Authenticate: func(user, pass string) (string, error) {
			if root, ok := roots[user]; ok && pass == "secret" {
				return root, nil
			}
			return "", imapserver.ErrAuthFailed
		},
	})
	if err != nil {
		w.Close()
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln = maildirbackend.NewListenerWith(ln, &maildirbackend.ListenerOptions{Unbatched: true})
	srv := imapd.New(&imapd.Options{NewSession: b.NewEngineSession, InsecureAuth: true, Logger: logger})
	go srv.Serve(ln)
	stop = sync.OnceFunc(func() {
		srv.Close()
		b.Close()
		w.Close()
	})
	t.Cleanup(stop)
	return ln.Addr().String(), stop
}

// mfMessage is message i of user: a multipart message with a full
// envelope, so that its cache entry holds an envelope and a body structure.
func mfMessage(user string, i int) string {
	return fmt.Sprintf("From: Sender %[2]d <sender%[2]d@example.org>\r\n"+
		"To: %[1]s <%[1]s@example.org>\r\nCc: Copy %[2]d <copy%[2]d@example.net>\r\n"+
		"Subject: %[1]s message %[2]d about the mapped pages of a bbolt file\r\n"+
		"Date: Mon, 2 Feb 2026 10:%02[3]d:00 +0000\r\nMessage-ID: <%[2]d.%[1]s@example.org>\r\n"+
		"In-Reply-To: <%[4]d.%[1]s@example.org>\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: multipart/mixed; boundary=\"b%[2]d\"\r\n\r\n"+
		"--b%[2]d\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nbody of %[2]d\r\n"+
		"--b%[2]d\r\nContent-Type: application/octet-stream; name=\"a%[2]d.bin\"\r\n"+
		"Content-Transfer-Encoding: base64\r\n\r\nAAECAwQFBgcICQ==\r\n--b%[2]d--\r\n",
		user, i, i%60, max(i-1, 0))
}

type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// mfConn is a raw IMAP connection of one user.
type mfConn struct {
	c   net.Conn
	r   *bufio.Reader
	tag int
}

func mfDial(t *testing.T, addr, user string) *mfConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	mc := &mfConn{c: c, r: bufio.NewReaderSize(c, 1<<16)}
	c.SetDeadline(time.Now().Add(2 * time.Minute))
	if _, err := mc.r.ReadString('\n'); err != nil {
		t.Fatalf("greeting: %v", err)
	}
	mc.ok(t, "LOGIN "+user+" secret")
	return mc
}

// run sends a command and returns its whole answer (literals included)
// and the tagged line. A connection that ends fails the test: the server
// died.
func (mc *mfConn) run(t *testing.T, cmd string) (answer, tagged string) {
	t.Helper()
	mc.tag++
	tag := "m" + strconv.Itoa(mc.tag)
	mc.c.SetDeadline(time.Now().Add(2 * time.Minute))
	if _, err := fmt.Fprintf(mc.c, "%s %s\r\n", tag, cmd); err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	var out strings.Builder
	for {
		line, err := mc.r.ReadString('\n')
		if err != nil {
			t.Fatalf("%s: %v (the server is gone)", cmd, err)
		}
		if strings.HasPrefix(line, tag+" ") {
			return out.String(), line
		}
		out.WriteString(line)
		if n, ok := literalSize(line); ok {
			if _, err := io.CopyN(&out, mc.r, int64(n)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// ok runs a command that must succeed and returns its untagged answer.
func (mc *mfConn) ok(t *testing.T, cmd string) string {
	t.Helper()
	answer, tagged := mc.run(t, cmd)
	if !strings.Contains(tagged, " OK") {
		t.Fatalf("%s: %s", cmd, tagged)
	}
	return answer
}

const mfFetch = "FETCH 1:* (ENVELOPE BODYSTRUCTURE)"

// mfTruncate truncates path in place to size, as `truncate -s` does: the
// file keeps its inode, and the server's mapping of it loses its pages.
func mfTruncate(t *testing.T, path string, size int64) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if size < 0 {
		size = fi.Size() / 2 / 4096 * 4096
	}
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: truncated from %d to %d bytes", filepath.Base(path), fi.Size(), size)
}

// mfTruncations are the sizes the tests truncate to: a few bytes (every
// page but part of the first is gone, the meta pages included) and half
// the file (the meta pages stay, B+tree pages go); -1 stands for half.
var mfTruncations = []struct {
	name string
	size int64
}{
	{"fewBytes", 10},
	{"half", -1},
}

// TestMapFault_cacheTruncated: alice's cache file is truncated while her
// session, with INBOX selected and its entries in the file, keeps asking
// for envelopes and body structures. The answers stay the same, bob's too,
// and the file is replaced.
func TestMapFault_cacheTruncated(t *testing.T) {
	for _, tc := range mfTruncations {
		for _, check := range mfModes {
			t.Run(tc.name+"/"+check.name, func(t *testing.T) {
				defer check.set()()
				// Only a few messages' content stays in memory: FETCH
				// reads the others' entries from the file.
				defer maildirbackend.SetContentBudget(4 << 10)()
				addr, roots := mfServer(t)
				alice, bob := mfDial(t, addr, "alice"), mfDial(t, addr, "bob")
				alice.ok(t, "SELECT INBOX")
				bob.ok(t, "SELECT INBOX")
				want, wantBob := alice.ok(t, mfFetch), bob.ok(t, mfFetch)
				if n := strings.Count(want, " FETCH "); n != mfMessages {
					t.Fatalf("%d FETCH responses, want %d", n, mfMessages)
				}
				cache := filepath.Join(roots["alice"], "maildir-imapd.cache")
				bobCache := filepath.Join(roots["bob"], "maildir-imapd.cache")
				// Every entry written (a batch waits a second at most) and
				// read back: the folder now reads them from the file.
				waitUntil(t, func() bool { fi, err := os.Stat(cache); return err == nil && fi.Size() > 256<<10 })
				if got := alice.ok(t, mfFetch); got != want {
					t.Fatal("answers from the cache file differ")
				}
				bobBefore := mfStat(t, bobCache)

				mfTruncate(t, cache, tc.size)
				for round := range 4 {
					if got := alice.ok(t, mfFetch); got != want {
						t.Fatalf("round %d: alice's answers changed after the truncation", round)
					}
					if got := bob.ok(t, mfFetch); got != wantBob {
						t.Fatalf("round %d: bob's answers changed", round)
					}
				}
				// The file was replaced: a new one, written again.
				waitUntil(t, func() bool { fi, err := os.Stat(cache); return err == nil && fi.Size() > 256<<10 })
				if got := alice.ok(t, mfFetch); got != want {
					t.Fatal("answers from the new cache file differ")
				}
				bobAfter := mfStat(t, bobCache)
				if !os.SameFile(bobBefore, bobAfter) || bobAfter.Size() < bobBefore.Size() {
					t.Fatalf("bob's cache file changed: %d bytes, was %d", bobAfter.Size(), bobBefore.Size())
				}
				// A new session of alice's reads the new file.
				alice2 := mfDial(t, addr, "alice")
				alice2.ok(t, "EXAMINE INBOX")
				if got := alice2.ok(t, mfFetch); got != want {
					t.Fatal("a new session's answers differ")
				}
			})
		}
	}
}

func mfStat(t *testing.T, path string) fs.FileInfo {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

// TestMapFault_indexTruncated: alice's folder index is truncated while her
// CONDSTORE session stores flags and reads MODSEQs. Every command
// succeeds, no MODSEQ or HIGHESTMODSEQ goes down (within the session, for
// a later session, or for bob), and bob's index is untouched.
func TestMapFault_indexTruncated(t *testing.T) {
	for _, tc := range mfTruncations {
		for _, check := range mfModes {
			t.Run(tc.name+"/"+check.name, func(t *testing.T) {
				defer check.set()()
				addr, roots := mfServer(t)
				alice, bob := mfDial(t, addr, "alice"), mfDial(t, addr, "bob")
				alice.ok(t, "SELECT INBOX (CONDSTORE)")
				bob.ok(t, "SELECT INBOX (CONDSTORE)")
				// Messages of the whole range changed, so that the
				// index's pages are written all over the file.
				for i := 1; i <= mfMessages; i += 97 {
					alice.ok(t, fmt.Sprintf(`STORE %d +FLAGS.SILENT (\Seen)`, i))
					bob.ok(t, fmt.Sprintf(`STORE %d +FLAGS.SILENT (\Seen)`, i))
				}
				seen := mfModSeqs(t, alice)
				high := mfHighest(t, alice)
				bobSeen, bobHigh := mfModSeqs(t, bob), mfHighest(t, bob)
				index := filepath.Join(roots["alice"], "maildir-imapd.index")
				bobIndex := filepath.Join(roots["bob"], "maildir-imapd.index")
				bobBefore := mfStat(t, bobIndex)
				truncated := mfStat(t, index)

				mfTruncate(t, index, tc.size)
				for round := range 4 {
					n := 1 + round*191
					answer := alice.ok(t, fmt.Sprintf(`STORE %d:%d +FLAGS (\Flagged)`, n, n+4))
					if c := strings.Count(answer, "MODSEQ ("); c != 5 {
						t.Fatalf("round %d: STORE answered %d MODSEQs: %q", round, c, answer)
					}
					h := mfHighest(t, alice)
					if h <= high {
						t.Fatalf("round %d: HIGHESTMODSEQ %d after a STORE, was %d", round, h, high)
					}
					ms := mfModSeqs(t, alice)
					mfNotBelow(t, ms, seen, h)
					changed := alice.ok(t, fmt.Sprintf("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)", high))
					if c := strings.Count(changed, " FETCH "); c != 5 {
						t.Fatalf("round %d: CHANGEDSINCE %d gave %d messages, want the 5 stored", round, high, c)
					}
					seen, high = ms, h
					bob.ok(t, "NOOP")
				}
				if fi, err := os.Stat(index); err == nil && os.SameFile(fi, truncated) {
					t.Fatal("the truncated index is still in use")
				}
				// A new session loads the folder again, with a new index
				// (or none): still nothing goes down.
				alice.ok(t, "LOGOUT")
				alice2 := mfDial(t, addr, "alice")
				alice2.ok(t, "SELECT INBOX (CONDSTORE)")
				alice2.ok(t, `STORE 2 -FLAGS (\Flagged)`)
				h := mfHighest(t, alice2)
				if h <= high {
					t.Fatalf("a new session's HIGHESTMODSEQ %d, was %d", h, high)
				}
				mfNotBelow(t, mfModSeqs(t, alice2), seen, h)

				// Bob noticed nothing.
				if got := mfModSeqs(t, bob); fmt.Sprint(got) != fmt.Sprint(bobSeen) {
					t.Fatal("bob's MODSEQs changed")
				}
				if got := mfHighest(t, bob); got != bobHigh {
					t.Fatalf("bob's HIGHESTMODSEQ %d, was %d", got, bobHigh)
				}
				bob.ok(t, `STORE 3 +FLAGS (\Answered)`)
				if mfHighest(t, bob) <= bobHigh {
					t.Fatal("bob's STORE did not raise HIGHESTMODSEQ")
				}
				bobAfter := mfStat(t, bobIndex)
				if !os.SameFile(bobBefore, bobAfter) || bobAfter.Size() < bobBefore.Size() {
					t.Fatal("bob's index file changed")
				}
			})
		}
	}
}

// mfModSeqs maps UID to MODSEQ for every message of the selected mailbox.
func mfModSeqs(t *testing.T, mc *mfConn) map[uint64]uint64 {
	t.Helper()
	lines := strings.SplitAfter(mc.ok(t, "FETCH 1:* (UID MODSEQ)"), "\n")
	out := fetchModSeqs(t, lines[:len(lines)-1])
	if len(out) != mfMessages {
		t.Fatalf("%d MODSEQs, want %d", len(out), mfMessages)
	}
	return out
}

func mfHighest(t *testing.T, mc *mfConn) uint64 {
	t.Helper()
	return firstNum(t, reHighest, []string{mc.ok(t, "STATUS INBOX (HIGHESTMODSEQ)")})
}

// mfNotBelow fails when a message's MODSEQ went down, or is above
// HIGHESTMODSEQ.
func mfNotBelow(t *testing.T, now, before map[uint64]uint64, highest uint64) {
	t.Helper()
	for uid, ms := range now {
		if ms < before[uid] {
			t.Fatalf("UID %d: MODSEQ %d, was %d", uid, ms, before[uid])
		}
		if ms > highest {
			t.Fatalf("UID %d: MODSEQ %d above HIGHESTMODSEQ %d", uid, ms, highest)
		}
	}
}
