package folderindex

import (
	"path/filepath"
	"testing"
)

// BenchmarkCommit is one sync step's commit: one changed message, as a
// delivery burst the watcher reports one file at a time makes them. With
// fsync=each every commit is fsynced (bbolt's default); the index does
// not (syncDelay).
func BenchmarkCommit(b *testing.B) {
	for _, each := range []bool{false, true} {
		name := "fsync=deferred"
		if each {
			name = "fsync=each"
		}
		b.Run(name, func(b *testing.B) {
			x, err := Open(filepath.Join(b.TempDir(), FileName), 1, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer x.Close()
			x.syncEach = each
			ms := x.HighestModSeq()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				ms++
				batch := &Batch{HighestModSeq: ms, UIDNext: uint32(i + 2), Set: []Record{{UID: uint32(i + 1), Entry: Entry{ModSeq: ms}}}}
				if err := x.Commit(batch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOpen100k opens an index of 100,000 messages and reads every
// record, as a folder's first load does.
func BenchmarkOpen100k(b *testing.B) {
	path := filepath.Join(b.TempDir(), FileName)
	x, err := Open(path, 1, nil)
	if err != nil {
		b.Fatal(err)
	}
	set := make([]Record, 100000)
	for i := range set {
		set[i] = Record{UID: uint32(i + 1), Entry: Entry{ModSeq: x.HighestModSeq() + 1}}
	}
	if err := x.Commit(&Batch{Set: set, UIDNext: 100001}); err != nil {
		b.Fatal(err)
	}
	x.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		x, err := Open(path, 1, nil)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		x.Each(func(uint32, Entry) { n++ })
		x.Close()
		if n != len(set) {
			b.Fatalf("%d records", n)
		}
	}
}
