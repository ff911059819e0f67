package maildirbackend_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/boltguard/boltguardtest"
)

// A user may put any file where a folder's cache or index goes. bbolt
// opens a file whose meta page says no freelist is stored by walking every
// page and reporting damage to a goroutine of its own that panics, which
// ends the one process that serves every user. These tests place such
// files (and others that are no bbolt file) in alice's INBOX while no
// server has it open, then open it: her answers are right, the file is
// replaced, and bob notices nothing.

// boSpoils are the files put in place of alice's.
var boSpoils = []struct {
	name  string
	spoil func(t testing.TB, path string)
}{
	// A branch page referencing a page twice, and no freelist: bbolt's
	// Open ends the process (what it did before boltguard read the meta
	// pages).
	{"crafted", boltguardtest.Craft},
	{"badChecksums", boltguardtest.BreakMetas},
	{"fewBytes", func(t testing.TB, path string) {
		if err := os.WriteFile(path, []byte("\x00garbage\xff"), 0o600); err != nil {
			t.Fatal(err)
		}
	}},
}

// boFirstRun serves roots once: both users select INBOX (CONDSTORE),
// store flags and fetch envelopes, so that their caches and indexes are
// written; the server is then stopped. It returns what alice and bob were
// answered.
func boFirstRun(t *testing.T, roots map[string]string) (want map[string]boAnswers) {
	t.Helper()
	addr, stop := mfServe(t, roots)
	want = map[string]boAnswers{}
	for _, user := range []string{"alice", "bob"} {
		c := mfDial(t, addr, user)
		c.ok(t, "SELECT INBOX (CONDSTORE)")
		for i := 1; i <= mfMessages; i += 97 {
			c.ok(t, fmt.Sprintf(`STORE %d +FLAGS.SILENT (\Seen)`, i))
		}
		c.ok(t, mfFetch)
		cache := filepath.Join(roots[user], "maildir-imapd.cache")
		waitUntil(t, func() bool { fi, err := os.Stat(cache); return err == nil && fi.Size() > 256<<10 })
		want[user] = boAnswer(t, c)
		c.ok(t, "LOGOUT")
	}
	stop()
	return want
}

// boAnswers is what a user's session was answered about INBOX.
type boAnswers struct {
	fetch   string // envelopes and body structures
	flags   string
	modseqs map[uint64]uint64
	highest uint64
}

func boAnswer(t *testing.T, c *mfConn) boAnswers {
	t.Helper()
	return boAnswers{
		fetch:   reModSeqItem.ReplaceAllString(c.ok(t, mfFetch), ""),
		flags:   reModSeqItem.ReplaceAllString(c.ok(t, "FETCH 1:* (UID FLAGS)"), ""),
		modseqs: mfModSeqs(t, c),
		highest: mfHighest(t, c),
	}
}

// reModSeqItem is the MODSEQ item a CONDSTORE session's FETCH answers
// carry: the tests compare the rest.
var reModSeqItem = regexp.MustCompile(`MODSEQ \(\d+\) ?| ?MODSEQ \(\d+\)`)

// boHold keeps the file at path open until the test ends, so that its
// inode is not given to the file that replaces it, and returns its info.
func boHold(t *testing.T, path string) os.FileInfo {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

// TestBoltOpen_spoiledIndex: alice's index is replaced by a spoiled file
// while no server runs. The next server opens her INBOX with a new index
// (its freelist stored), answers as before, and no MODSEQ goes down (the
// new index starts from the time); bob's index and answers stay as they
// were.
func TestBoltOpen_spoiledIndex(t *testing.T) {
	for _, sp := range boSpoils {
		t.Run(sp.name, func(t *testing.T) {
			roots := mfMaildirs(t)
			want := boFirstRun(t, roots)
			index := filepath.Join(roots["alice"], "maildir-imapd.index")
			bobIndex := filepath.Join(roots["bob"], "maildir-imapd.index")
			if !boltguardtest.StoresFreelist(t, index) {
				t.Fatal("the index was written without a freelist")
			}
			sp.spoil(t, index)
			spoiled, bobBefore := boHold(t, index), mfStat(t, bobIndex)

			addr, _ := mfServe(t, roots)
			alice, bob := mfDial(t, addr, "alice"), mfDial(t, addr, "bob")
			alice.ok(t, "SELECT INBOX (CONDSTORE)")
			bob.ok(t, "SELECT INBOX (CONDSTORE)")
			got := boAnswer(t, alice)
			if got.fetch != want["alice"].fetch || got.flags != want["alice"].flags {
				t.Fatal("alice's answers changed")
			}
			if got.highest <= want["alice"].highest {
				t.Fatalf("HIGHESTMODSEQ %d, was %d", got.highest, want["alice"].highest)
			}
			mfNotBelow(t, got.modseqs, want["alice"].modseqs, got.highest)
			fi := mfStat(t, index)
			if os.SameFile(fi, spoiled) {
				t.Fatal("the spoiled index was not replaced")
			}
			if !boltguardtest.StoresFreelist(t, index) {
				t.Fatal("the new index has no freelist")
			}
			alice.ok(t, `STORE 2 +FLAGS (\Flagged)`)
			if h := mfHighest(t, alice); h <= got.highest {
				t.Fatalf("HIGHESTMODSEQ %d after a STORE, was %d", h, got.highest)
			}

			if b := boAnswer(t, bob); b.fetch != want["bob"].fetch || b.flags != want["bob"].flags ||
				fmt.Sprint(b.modseqs) != fmt.Sprint(want["bob"].modseqs) || b.highest != want["bob"].highest {
				t.Fatal("bob's answers changed")
			}
			if !os.SameFile(bobBefore, mfStat(t, bobIndex)) {
				t.Fatal("bob's index was replaced")
			}
		})
	}
}

// TestBoltOpen_spoiledCache: alice's cache is replaced by a spoiled file
// while no server runs. The next server answers her envelopes and body
// structures as before and writes a new cache in its place; bob's cache
// and answers stay as they were.
func TestBoltOpen_spoiledCache(t *testing.T) {
	for _, sp := range boSpoils {
		t.Run(sp.name, func(t *testing.T) {
			defer maildirbackend.SetContentBudget(4 << 10)()
			roots := mfMaildirs(t)
			want := boFirstRun(t, roots)
			cache := filepath.Join(roots["alice"], "maildir-imapd.cache")
			bobCache := filepath.Join(roots["bob"], "maildir-imapd.cache")
			if !boltguardtest.StoresFreelist(t, cache) {
				t.Fatal("the cache was written without a freelist")
			}
			sp.spoil(t, cache)
			spoiled, bobBefore := boHold(t, cache), mfStat(t, bobCache)

			addr, _ := mfServe(t, roots)
			alice, bob := mfDial(t, addr, "alice"), mfDial(t, addr, "bob")
			alice.ok(t, "EXAMINE INBOX")
			bob.ok(t, "EXAMINE INBOX")
			if got := reModSeqItem.ReplaceAllString(alice.ok(t, mfFetch), ""); got != want["alice"].fetch {
				t.Fatal("alice's answers changed")
			}
			waitUntil(t, func() bool {
				fi, err := os.Stat(cache)
				return err == nil && !os.SameFile(fi, spoiled) && fi.Size() > 256<<10
			})
			if got := reModSeqItem.ReplaceAllString(alice.ok(t, mfFetch), ""); got != want["alice"].fetch {
				t.Fatal("alice's answers from the new cache differ")
			}
			if !boltguardtest.StoresFreelist(t, cache) {
				t.Fatal("the new cache has no freelist")
			}
			if got := reModSeqItem.ReplaceAllString(bob.ok(t, mfFetch), ""); got != want["bob"].fetch {
				t.Fatal("bob's answers changed")
			}
			if bobAfter := mfStat(t, bobCache); !os.SameFile(bobBefore, bobAfter) || bobAfter.Size() < bobBefore.Size() {
				t.Fatal("bob's cache was replaced")
			}
			if strings.Count(want["alice"].fetch, " FETCH ") != mfMessages {
				t.Fatal("too few answers to compare")
			}
		})
	}
}
