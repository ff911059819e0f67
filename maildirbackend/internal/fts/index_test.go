package fts

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// tris returns the trigrams of s (body text), as imapmsg would.
func tris(s string, header bool) []uint32 {
	var out []uint32
	for i := 0; i+3 <= len(s); i++ {
		t := uint32(s[i])<<16 | uint32(s[i+1])<<8 | uint32(s[i+2])
		if header {
			t |= HeaderBit
		}
		out = append(out, t)
	}
	return out
}

// candidates queries one needle and returns the keys among keys whose
// documents may contain it, and the keys not indexed.
func candidates(t *testing.T, x *Index, keys []string, needle string, text bool) (cands, unindexed []string) {
	t.Helper()
	a, err := x.Query(keys, []Needle{{Trigrams: tris(needle, false), Text: text}})
	if err != nil {
		t.Fatal(err)
	}
	docs, bms := a.Docs, a.Cands
	for i, k := range keys {
		switch {
		case docs[i] < 0:
			unindexed = append(unindexed, k)
		case bms[0] == nil || bms[0].Contains(uint32(docs[i])):
			cands = append(cands, k)
		}
	}
	return cands, unindexed
}

func TestIndex_flushReopenCompact(t *testing.T) {
	dir := t.TempDir()
	x, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for i := range 40 {
		k := fmt.Sprintf("key%d", i)
		keys = append(keys, k)
		body := fmt.Sprintf("message number %d about apples", i)
		if i%10 == 0 {
			body += " and a rare pumpkin"
		}
		x.Add(k, append(tris(body, false), tris("Subject: hello header", true)...))
		if i%4 == 3 {
			if err := x.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	check := func(x *Index, want int) {
		t.Helper()
		c, un := candidates(t, x, keys, "pumpkin", false)
		if len(c) != want || len(un) != 0 {
			t.Fatalf("pumpkin: candidates %v, unindexed %v", c, un)
		}
		if c, _ := candidates(t, x, keys, "hello", false); len(c) != 0 {
			t.Fatalf("BODY hello (a header word): %d candidates", len(c))
		}
		if c, _ := candidates(t, x, keys, "hello", true); len(c) != len(keys) {
			t.Fatalf("TEXT hello: %d candidates", len(c))
		}
	}
	check(x, 4)
	if x.Segments() != 10 {
		t.Fatalf("%d segments, want 10", x.Segments())
	}
	// Reopen: the same answers from the files.
	x.Close()
	x2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	check(x2, 4)
	// Half the keys expunged: a compaction merges everything and leaves
	// them out.
	live := func(k string) bool { var n int; fmt.Sscanf(k, "key%d", &n); return n >= 20 }
	if err := x2.Compact(live); err != nil {
		t.Fatal(err)
	}
	if x2.Segments() != 1 {
		t.Fatalf("%d segments after compaction", x2.Segments())
	}
	c, un := candidates(t, x2, keys, "pumpkin", false)
	if len(c) != 2 || len(un) != 20 {
		t.Fatalf("after compaction: candidates %v, %d unindexed", c, len(un))
	}
	x2.Close()
	x3, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := candidates(t, x3, keys, "pumpkin", false); len(c) != 2 {
		t.Fatalf("reopened after compaction: %v", c)
	}
}

func TestIndex_brokenSegment(t *testing.T) {
	dir := t.TempDir()
	x, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	x.Add("a", tris("alpha beta", false))
	if err := x.Flush(); err != nil {
		t.Fatal(err)
	}
	x.Add("b", tris("gamma delta", false))
	if err := x.Flush(); err != nil {
		t.Fatal(err)
	}
	// A torn segment (kill -9 during a rename is impossible, a damaged
	// disk is not): its documents are no longer indexed, never wrong.
	path := filepath.Join(dir, "seg-1")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b[:len(b)-3], 0o600); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "seg-7.tmp"), []byte("half"), 0o600)
	x.Close()
	x2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !x2.Has("a") || x2.Has("b") {
		t.Fatalf("after a torn segment: Has(a)=%v Has(b)=%v", x2.Has("a"), x2.Has("b"))
	}
	if _, err := os.Stat(filepath.Join(dir, "seg-7.tmp")); !os.IsNotExist(err) {
		t.Fatalf("temporary file left: %v", err)
	}
	// A bitmap damaged after open: the query fails and the segment goes.
	b, _ = os.ReadFile(filepath.Join(dir, "seg-0"))
	b[len(magic)+2] ^= 0xff
	os.WriteFile(filepath.Join(dir, "seg-0"), b, 0o600)
	if _, err := x2.Query([]string{"a"}, []Needle{{Trigrams: tris("alpha beta", false)}}); err == nil {
		t.Fatal("query over a damaged bitmap succeeded")
	}
	if x2.Has("a") || x2.Lost() != 1 {
		t.Fatal("the damaged segment's document is still indexed")
	}
}

// TestIndex_locked: a second Open of a directory in use fails with
// ErrLocked and leaves the first's files alone; after Close it opens.
func TestIndex_locked(t *testing.T) {
	dir := t.TempDir()
	x, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	x.Add("k1", []uint32{1, 2, 3})
	if err := x.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	y, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer y.Close()
	if !y.Has("k1") {
		t.Fatal("the document written before is gone")
	}
}

// TestIndex_numbersAfterMerge: documents added after a merge (as the
// indexer does: flush, compact, add) are found by their terms, in memory,
// once flushed, and after a reopen. The merge once took numbers the
// memory's next documents were to get, so a later flush wrote their
// terms against other documents (a 100,000-message index lost 4,000
// matches of a common word).
func TestIndex_numbersAfterMerge(t *testing.T) {
	dir := t.TempDir()
	x, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	add := func(word string) {
		k := fmt.Sprintf("key%d", len(keys))
		keys = append(keys, k)
		x.Add(k, tris(word, false))
	}
	live := func(string) bool { return true }
	for range MaxSegments + 2 {
		add("apple")
		add("apple")
		if err := x.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := x.Compact(live); err != nil {
			t.Fatal(err)
		}
	}
	if x.Segments() > MaxSegments {
		t.Fatalf("%d segments: no merge happened, the test proves nothing", x.Segments())
	}
	add("pumpkin")
	add("apple")
	add("pumpkin")
	want := []string{keys[len(keys)-3], keys[len(keys)-1]}
	check := func(x *Index, when string) {
		t.Helper()
		c, un := candidates(t, x, keys, "pumpkin", false)
		if !slices.Equal(c, want) || len(un) != 0 {
			t.Fatalf("%s: candidates of pumpkin %v (unindexed %v), want %v", when, c, un, want)
		}
		if c, _ := candidates(t, x, keys, "apple", false); len(c) != len(keys)-2 {
			t.Fatalf("%s: %d candidates of apple, want %d", when, len(c), len(keys)-2)
		}
	}
	check(x, "in memory")
	if err := x.Flush(); err != nil {
		t.Fatal(err)
	}
	check(x, "flushed")
	x.Close()
	y, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer y.Close()
	check(y, "reopened")
}
