package maildirbackend

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/imapmsg"
)

// TestMemCache_bounded sets the content of many messages under a small
// budget: the bytes held stay within it, every evicted message has no
// content, and a message used since the last sweep outlives one that was
// not.
func TestMemCache_bounded(t *testing.T) {
	defer SetContentBudget(64 << 10)()
	var c memCache
	sum := &imapmsg.ParseBytes([]byte("Subject: x\n\nbody\n")).Summary
	msgs := make([]*message, 2000)
	for i := range msgs {
		msgs[i] = &message{key: strconv.Itoa(i)}
		c.setLocked(msgs[i], newContent(sum, nil, []byte(strings.Repeat("f", i%700)), false))
		if c.bytes > contentBudget {
			t.Fatalf("after %d: %d bytes held, budget %d", i, c.bytes, contentBudget)
		}
		if msgs[0].content != nil {
			msgs[0].content.used = true // a message a client keeps fetching
		}
	}
	held, total := 0, int64(0)
	for _, m := range msgs {
		if m.content != nil {
			held++
			total += m.content.cost
		}
	}
	if total != c.bytes || held != len(c.ring) {
		t.Fatalf("accounting: %d bytes in %d contents, memCache says %d in %d", total, held, c.bytes, len(c.ring))
	}
	if held == 0 || held == len(msgs) {
		t.Fatalf("%d of %d messages hold content", held, len(msgs))
	}
	if msgs[0].content == nil {
		t.Fatal("the message in use was evicted")
	}
	c.dropAllLocked()
	for _, m := range msgs {
		if m.content != nil {
			t.Fatal("content left after dropAllLocked")
		}
	}
}

// killEntry is what the child of TestCache_killDuringWrites writes for key
// k in round r: the check fields say which, so that the parent can verify
// that every entry it finds is whole and under its own key.
func killEntry(k, r int) []byte {
	p := imapmsg.ParseBytes([]byte(fmt.Sprintf("Subject: message %d round %d\nFrom: a@example.org\n\n%s\n", k, r, strings.Repeat("body ", r%50))))
	e := &cacheEntry{sum: &p.Summary, fields: []byte(fmt.Sprintf("Subject: message %d round %d\n", k, r)), fsize: int64(k), mtime: int64(r)}
	return e.encode()
}

func killKey(k int) string { return fmt.Sprintf("%010d.M%dP1.killtest,S=%d", 1700000000+k, k, k) }

// TestCache_killChild is the child of TestCache_killDuringWrites: it
// writes cache entries through the cache's own batching until killed,
// printing a line after each batch.
func TestCache_killChild(t *testing.T) {
	dir := os.Getenv("MAILDIR_IMAPD_CACHE_KILL_DIR")
	if dir == "" {
		return // not the child
	}
	c := &diskCache{path: filepath.Join(dir, cacheFileName), log: slog.New(slog.NewTextHandler(os.Stderr, nil))}
	round, _ := strconv.Atoi(os.Getenv("MAILDIR_IMAPD_CACHE_KILL_ROUND"))
	for i := 0; ; i++ {
		k := (i * 7919) % 3000 // keys in no order, each rewritten
		c.put(killKey(k), killEntry(k, round*1000+i/3000))
		if i%cacheFlushBatch == cacheFlushBatch-1 {
			fmt.Println("batch", i)
		}
	}
}

// TestCache_killDuringWrites kills a process writing the cache file
// (kill -9) at random points of its write transactions, 8 times, and
// checks each time that the file opens without being replaced, passes
// bbolt's consistency check, and holds only whole entries under their own
// keys.
func TestCache_killDuringWrites(t *testing.T) {
	dir := t.TempDir()
	seen := 0
	for round := 1; round <= 8; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCache_killChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "MAILDIR_IMAPD_CACHE_KILL_DIR="+dir, fmt.Sprintf("MAILDIR_IMAPD_CACHE_KILL_ROUND=%d", round))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(out)
		batches := 1 + rand.IntN(12)
		for n := 0; n < batches; {
			line, err := br.ReadString('\n')
			if err != nil {
				cmd.Process.Kill()
				t.Fatalf("child ended: %v", err)
			}
			if strings.HasPrefix(line, "batch ") {
				n++
			}
		}
		// The child goes on writing: the kill lands anywhere in a batch.
		cmd.Process.Kill()
		go io.Copy(io.Discard, br)
		cmd.Wait()
		seen = checkKilledCache(t, dir, seen)
	}
}

// checkKilledCache opens the cache file a killed process left and checks
// it; it returns the number of entries, which never goes down.
func checkKilledCache(t *testing.T, dir string, before int) int {
	t.Helper()
	path := filepath.Join(dir, cacheFileName)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	c := &diskCache{path: path, log: slog.New(slog.NewTextHandler(os.Stderr, nil))}
	if !c.ensureOpen() {
		t.Fatal("cache file left by a killed process not opened")
	}
	defer c.close()
	if st2, err := os.Stat(path); err != nil || !os.SameFile(st, st2) {
		t.Fatal("cache file left by a killed process was replaced")
	}
	err = c.db.View(func(tx *bolt.Tx) error {
		var first error
		for err := range tx.Check() {
			first = cmp.Or(first, err)
		}
		return first
	})
	if err != nil {
		t.Fatalf("consistency check: %v", err)
	}
	n := 0
	c.view(func(b *bolt.Bucket) {
		b.ForEach(func(k, v []byte) error {
			n++
			e, err := decodeEntry(v)
			if err != nil {
				t.Fatalf("entry %s: %v", k, err)
			}
			if string(k) != killKey(int(e.fsize)) {
				t.Fatalf("entry of key %d under %s", e.fsize, k)
			}
			if !strings.Contains(e.sum.Envelope.Subject, fmt.Sprintf("message %d round %d", e.fsize, e.mtime)) {
				t.Fatalf("entry %s holds %q (round %d)", k, e.sum.Envelope.Subject, e.mtime)
			}
			return nil
		})
	})
	if n < before || n == 0 {
		t.Fatalf("%d entries, %d before", n, before)
	}
	return n
}

// TestCache_pruneStep checks that prune steps delete the entries of gone
// keys, a bounded number of keys at a time, and wrap around.
func TestCache_pruneStep(t *testing.T) {
	c := &diskCache{path: filepath.Join(t.TempDir(), cacheFileName), log: slog.Default()}
	defer c.close()
	const n = cachePruneStep + 1000
	for k := 0; k < n; k++ {
		c.put(killKey(k), killEntry(k, 1))
	}
	c.flush()
	goneOdd := func(keys []string) []string {
		if len(keys) > cachePruneStep {
			t.Fatalf("a step looked at %d keys", len(keys))
		}
		var gone []string
		for _, k := range keys {
			var i, size int
			fmt.Sscanf(k, "%d.M%dP1", &i, &size)
			if size%2 == 1 {
				gone = append(gone, k)
			}
		}
		return gone
	}
	deleted := c.pruneStep(goneOdd) + c.pruneStep(goneOdd) + c.pruneStep(goneOdd)
	if deleted != n/2 {
		t.Fatalf("%d deleted, want %d", deleted, n/2)
	}
	for _, k := range []int{0, 1, 2, n - 1} {
		if _, ok := c.get(killKey(k)); ok != (k%2 == 0) {
			t.Fatalf("key %d: present %v", k, ok)
		}
	}
}

// BenchmarkCacheWrite writes 10,000 entries through the cache's batching
// (one transaction per cacheFlushBatch entries), without fsync (what the
// cache does) and with an fsync per transaction (a group commit), to
// choose between them. ms/op is per 10,000 entries.
func BenchmarkCacheWrite(b *testing.B) {
	entries := make([][]byte, 10000)
	for k := range entries {
		entries[k] = killEntry(k, 1)
	}
	for _, sync := range []bool{false, true} {
		b.Run(fmt.Sprintf("fsync=%v", sync), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				c := &diskCache{path: filepath.Join(b.TempDir(), cacheFileName), log: slog.Default()}
				if !c.ensureOpen() {
					b.Fatal("not opened")
				}
				c.db.SetNoSync(!sync)
				b.StartTimer()
				for k, e := range entries {
					c.put(killKey(k), e)
				}
				c.flush()
				b.StopTimer()
				c.close()
			}
		})
	}
}
