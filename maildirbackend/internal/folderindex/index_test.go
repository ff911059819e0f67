package folderindex

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func open(t *testing.T, path string, uv uint32) *Index {
	t.Helper()
	x, err := Open(path, uv, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return x
}

func ranges(t *testing.T, x *Index, since uint64) string {
	t.Helper()
	var out []string
	if err := x.Vanished(since, func(lo, hi uint32) { out = append(out, fmt.Sprintf("%d:%d", lo, hi)) }); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(out)
}

func TestIndex_commitAndReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	x := open(t, path, 7)
	base := x.HighestModSeq()
	if base == 0 || x.Base() != base {
		t.Fatalf("fresh index: highest %d base %d", base, x.Base())
	}
	b := &Batch{UIDNext: 4, Set: []Record{
		{1, Entry{ModSeq: base + 1, Flags: Flags{Std: 1}}},
		{2, Entry{ModSeq: base + 1}},
		{3, Entry{ModSeq: base + 2, Flags: Flags{Kw: 5}}},
	}}
	if err := x.Commit(b); err != nil {
		t.Fatal(err)
	}
	if err := x.Commit(&Batch{Expunged: []uint32{2}, ExpungeModSeq: base + 3}); err != nil {
		t.Fatal(err)
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	x = open(t, path, 7)
	defer x.Close()
	if x.HighestModSeq() != base+3 || x.UIDNext() != 4 || x.Base() != base {
		t.Fatalf("reopened: highest %d (want %d) uidnext %d base %d", x.HighestModSeq(), base+3, x.UIDNext(), x.Base())
	}
	got := map[uint32]Entry{}
	x.Each(func(uid uint32, e Entry) { got[uid] = e })
	want := map[uint32]Entry{1: b.Set[0].Entry, 3: b.Set[2].Entry}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("records %v, want %v", got, want)
	}
	if r := ranges(t, x, base+2); r != "[2:2]" {
		t.Fatalf("vanished since %d: %s", base+2, r)
	}
	if r := ranges(t, x, base+3); r != "[]" {
		t.Fatalf("vanished since highest: %s", r)
	}
}

func TestIndex_expungedRangesMerge(t *testing.T) {
	x := open(t, filepath.Join(t.TempDir(), FileName), 1)
	defer x.Close()
	steps := []struct {
		uids []uint32
		m    uint64
	}{
		{[]uint32{5, 6, 7, 10}, 100},
		{[]uint32{2}, 101},
		{[]uint32{8}, 102}, // touches 5:7 of another modseq: apart
		{[]uint32{3, 4}, 103},
		{[]uint32{20, 22}, 104},
		{[]uint32{21}, 104}, // joins 20 and 22 of its own modseq
	}
	for _, s := range steps {
		if err := x.Commit(&Batch{Expunged: s.uids, ExpungeModSeq: s.m}); err != nil {
			t.Fatal(err)
		}
	}
	for since, want := range map[uint64]string{
		99:  "[2:2 3:4 5:7 8:8 10:10 20:22]",
		100: "[2:2 3:4 8:8 20:22]",
		102: "[3:4 20:22]",
		103: "[20:22]",
		104: "[]",
	} {
		if got := ranges(t, x, since); got != want {
			t.Errorf("since %d: %s, want %s", since, got, want)
		}
	}
}

func TestIndex_replacesInvalidFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	if err := os.WriteFile(path, []byte("not a bbolt file, just text that is long enough to look like a page header or not"), 0o600); err != nil {
		t.Fatal(err)
	}
	x := open(t, path, 3)
	if err := x.Commit(&Batch{Set: []Record{{1, Entry{ModSeq: x.HighestModSeq() + 1}}}}); err != nil {
		t.Fatal(err)
	}
	first := x.Base()
	x.Close()

	// Another UIDVALIDITY: the records are void and the file is replaced,
	// with a base above everything the old file handed out.
	x = open(t, path, 4)
	defer x.Close()
	n := 0
	x.Each(func(uint32, Entry) { n++ })
	if n != 0 {
		t.Fatalf("records of another UIDVALIDITY kept: %d", n)
	}
	if x.Base() <= first+1 {
		t.Fatalf("new base %d not above the old file's %d", x.Base(), first+1)
	}
}

func TestIndex_truncatedFileIsReplaced(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	x := open(t, path, 9)
	var set []Record
	for uid := uint32(1); uid <= 2000; uid++ {
		set = append(set, Record{uid, Entry{ModSeq: x.HighestModSeq() + 1}})
	}
	if err := x.Commit(&Batch{Set: set}); err != nil {
		t.Fatal(err)
	}
	x.Close()
	fi, _ := os.Stat(path)
	if err := os.Truncate(path, fi.Size()/3); err != nil {
		t.Fatal(err)
	}
	x = open(t, path, 9)
	defer x.Close()
	var uids []uint32
	x.Each(func(uid uint32, _ Entry) { uids = append(uids, uid) })
	if len(uids) != 0 && len(uids) != 2000 {
		t.Fatalf("a truncated file gave %d records", len(uids))
	}
}

func TestIndex_readOnlyDirectory(t *testing.T) {
	if os.Geteuid() == 0 {
		// root writes anyway: a read-only bind is what such a case is,
		// and a directory without write permission does not stop root.
		dir := t.TempDir()
		path := filepath.Join(dir, "sub", FileName)
		_, err := Open(path, 1, nil) // no such directory: cannot be created
		if err == nil {
			t.Fatal("Open in a missing directory succeeded")
		}
		return
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o500)
	defer os.Chmod(dir, 0o700)
	_, err := Open(filepath.Join(dir, FileName), 1, nil)
	if err == nil {
		t.Fatal("Open in a read-only directory succeeded")
	}
}

func TestIndex_busyFileIsUnavailable(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	x := open(t, path, 1)
	defer x.Close()
	_, err := Open(path, 1, nil)
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("second Open while the first holds the file: %v", err)
	}
}
