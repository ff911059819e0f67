package fts

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// wordAnswer queries one word needle and returns the keys the index is
// sure of and the keys it says must be read.
func wordAnswer(t *testing.T, x *Index, keys []string, word string, text bool) (sure, read []string) {
	t.Helper()
	a, err := x.Query(keys, []Needle{{Trigrams: tris(word, false), Text: text, Word: word}})
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range keys {
		d := a.Docs[i]
		switch {
		case d < 0:
			t.Fatalf("%s not indexed", k)
		case a.Sure[0].Contains(uint32(d)):
			sure = append(sure, k)
		case a.Cands[0].Contains(uint32(d)):
			read = append(read, k)
		}
	}
	return sure, read
}

// TestIndex_words: the dictionaries answer a word needle exactly (whole
// word, prefix, suffix, middle, body against header words), send the
// partial documents to be read, and give the same answers from memory,
// from segment files, after a reopen, and after merges that drop dead
// documents.
func TestIndex_words(t *testing.T) {
	dir := t.TempDir()
	x, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for i := range 30 {
		k := fmt.Sprintf("k%02d", i)
		keys = append(keys, k)
		body := []string{"invoice", "number", fmt.Sprint(i)}
		if i%3 == 0 {
			body = append(body, "pumpkins")
		}
		d := Doc{Body: body, Header: []string{"subject", "hello"}, Partial: i%10 == 9}
		for _, w := range body {
			d.Terms = append(d.Terms, tris(w, false)...)
		}
		d.Terms = append(d.Terms, tris("subject hello", true)...)
		if d.Partial {
			// A cut word: its trigrams are indexed, its word is not.
			d.Terms = append(d.Terms, tris(strings.Repeat("long", 80)+"pumpkins", false)...)
		}
		x.AddDoc(k, d)
		if i%7 == 6 {
			if err := x.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	partial := []string{"k09", "k19", "k29"}
	every := func(pred func(i int) bool) []string {
		var out []string
		for i, k := range keys {
			if pred(i) {
				out = append(out, k)
			}
		}
		return out
	}
	pumpkin := every(func(i int) bool { return i%3 == 0 })
	tests := []struct {
		word       string
		text       bool
		sure, read []string
	}{
		{"invoice", false, keys, nil},
		{"invo", false, keys, nil},
		{"oice", false, keys, nil},
		{"nvoic", false, keys, nil},
		{"pumpkins", false, pumpkin, []string{"k19", "k29"}}, // k09 has it, the others only in a cut word
		{"umpk", false, pumpkin, []string{"k19", "k29"}},
		{"pumpkinsx", false, nil, nil}, // no trigram candidate
		{"hello", false, nil, nil},     // a header word, for BODY
		{"hello", true, keys, nil},
		{"ell", true, keys, nil},
		{"17", false, []string{"k17"}, nil},
		{"1", false, every(func(i int) bool { return strings.Contains(fmt.Sprint(i), "1") }), []string{"k09", "k29"}},
	}
	check := func(x *Index, when string) {
		t.Helper()
		for _, tt := range tests {
			sure, read := wordAnswer(t, x, keys, tt.word, tt.text)
			wantRead := tt.read
			if wantRead == nil && len(tt.sure) < len(keys) && tt.word != "pumpkinsx" && tt.word != "hello" {
				wantRead = slices.DeleteFunc(slices.Clone(partial), func(k string) bool { return slices.Contains(tt.sure, k) })
			}
			if !slices.Equal(sure, tt.sure) || !slices.Equal(read, wantRead) {
				t.Fatalf("%s: %q (text %v): sure %v read %v; want sure %v read %v", when, tt.word, tt.text, sure, read, tt.sure, wantRead)
			}
		}
	}
	check(x, "segments and memory")
	if err := x.Flush(); err != nil {
		t.Fatal(err)
	}
	check(x, "flushed")
	x.Close()
	x2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	check(x2, "reopened")
	// Merge everything (half dead), then the dead keys are not indexed and
	// the live ones keep their words and partial flags.
	live := func(k string) bool { var n int; fmt.Sscanf(k, "k%d", &n); return n >= 15 }
	if err := x2.Compact(live); err != nil {
		t.Fatal(err)
	}
	if x2.Segments() != 1 {
		t.Fatalf("%d segments after the merge", x2.Segments())
	}
	keys, partial = keys[15:], partial[1:]
	pumpkin = slices.DeleteFunc(slices.Clone(pumpkin), func(k string) bool { return k < "k15" })
	for i := range tests {
		tests[i].sure = slices.DeleteFunc(slices.Clone(tests[i].sure), func(k string) bool { return k < "k15" })
		tests[i].read = slices.DeleteFunc(slices.Clone(tests[i].read), func(k string) bool { return k < "k15" })
	}
	tests[4].sure, tests[5].sure = pumpkin, pumpkin
	tests[len(tests)-1].read = []string{"k29"}
	check(x2, "merged")
	x2.Close()
	x3, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer x3.Close()
	check(x3, "merged, reopened")
}

// TestIndex_oldFormat: a segment file of an older format (MIFTS02) is
// removed at open, its documents not indexed, never misread.
func TestIndex_oldFormat(t *testing.T) {
	dir := t.TempDir()
	x, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	x.AddDoc("a", Doc{Terms: tris("alpha", false), Body: []string{"alpha"}})
	if err := x.Flush(); err != nil {
		t.Fatal(err)
	}
	x.Close()
	path := filepath.Join(dir, "seg-0")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	old := []byte("MIFTS02\n")
	copy(b, old)
	copy(b[len(b)-len(old):], old)
	os.WriteFile(path, b, 0o600)
	y, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer y.Close()
	if y.Has("a") {
		t.Fatal("a document of an old-format segment is indexed")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("old-format segment left: %v", err)
	}
}

func TestContaining(t *testing.T) {
	blob := []byte("apple\x00banana\x00nab\x00xa\x00")
	tests := []struct {
		key  string
		want []int
	}{
		{"apple", []int{0}},
		{"a", []int{0, 1, 2, 3}}, // banana's three a's count once
		{"an", []int{1}},
		{"na", []int{1, 2}},
		{"nab", []int{2}},
		{"xa", []int{3}},
		{"ab", []int{2}},
		{"pb", nil},
		{"applebanana", nil},
	}
	for _, tt := range tests {
		if got := containing(blob, []byte(tt.key)); !slices.Equal(got, tt.want) {
			t.Errorf("containing(%q) = %v, want %v", tt.key, got, tt.want)
		}
	}
}

// TestIndex_damagedWords: a dictionary damaged after open fails the
// query, which drops the segment (its documents are indexed again).
func TestIndex_damagedWords(t *testing.T) {
	dir := t.TempDir()
	x, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	x.AddDoc("a", Doc{Terms: tris("alpha", false), Body: []string{"alpha"}})
	if err := x.Flush(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "seg-0")
	b, _ := os.ReadFile(path)
	i := strings.LastIndex(string(b), "alpha\x00")
	b[i] = 'A'
	os.WriteFile(path, b, 0o600)
	if _, err := x.Query([]string{"a"}, []Needle{{Trigrams: tris("alpha", false), Word: "alpha"}}); err == nil {
		t.Fatal("a query over a damaged dictionary succeeded")
	}
	if x.Has("a") || x.Lost() != 1 {
		t.Fatal("the damaged segment's document is still indexed")
	}
}
