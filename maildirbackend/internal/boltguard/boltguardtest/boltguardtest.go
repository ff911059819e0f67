// Package boltguardtest damages bbolt files for tests, as a user of the
// Maildir they sit in could: the layout is bbolt v1.4's (see boltguard's
// meta.go), written here again so that the tests do not trust the code
// they test.
package boltguardtest

import (
	"encoding/binary"
	"hash/fnv"
	"os"
	"testing"
)

const (
	pageHeader = 16
	branchFlag = 0x01
	leafFlag   = 0x02
	bucketLeaf = 0x01 // a leaf element that is a bucket
)

var ne = binary.NativeEndian

// file is a whole bbolt file in memory.
type file struct {
	b        []byte
	pageSize int
}

func load(t testing.TB, path string) *file {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 2*4096 {
		t.Fatalf("%s: %d bytes: not a bbolt file", path, len(b))
	}
	return &file{b: b, pageSize: int(ne.Uint32(b[pageHeader+8:]))}
}

func (f *file) save(t testing.TB, path string) {
	t.Helper()
	if err := os.WriteFile(path, f.b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func (f *file) page(id uint64) []byte { return f.b[int(id)*f.pageSize:] }

// meta returns meta page i's bytes (after the page header).
func (f *file) meta(i int) []byte { return f.page(uint64(i))[pageHeader : pageHeader+64] }

func (f *file) sum(i int) {
	m := f.meta(i)
	h := fnv.New64a()
	h.Write(m[:56])
	ne.PutUint64(m[56:], h.Sum64())
}

// DropFreelist sets the freelist field of both meta pages of the bbolt
// file at path to the "no freelist" marker, as bbolt's NoFreelistSync
// writes it, with the checksums fixed: bbolt then rebuilds the freelist at
// open by walking every page.
func DropFreelist(t testing.TB, path string) {
	t.Helper()
	f := load(t, path)
	for i := range 2 {
		ne.PutUint64(f.meta(i)[32:], ^uint64(0))
		f.sum(i)
	}
	f.save(t, path)
}

// BreakMetas spoils the checksum of both meta pages of the file at path.
func BreakMetas(t testing.TB, path string) {
	t.Helper()
	f := load(t, path)
	for i := range 2 {
		f.meta(i)[56] ^= 0xff
	}
	f.save(t, path)
}

// CorruptBranch finds the root page of a bucket that is a branch page
// (reached from the meta's root bucket, so a page in use) and makes its
// second child the same page as its first: a page referenced twice, out
// of key order, which bbolt's page walk (freepages, Tx.Check) reports.
func CorruptBranch(t testing.TB, path string) {
	t.Helper()
	f := load(t, path)
	m0, m1 := f.meta(0), f.meta(1)
	m := m0
	if ne.Uint64(m1[48:]) > ne.Uint64(m0[48:]) {
		m = m1
	}
	root := f.page(ne.Uint64(m[16:]))
	if ne.Uint16(root[8:]) != leafFlag {
		t.Fatalf("%s: the root bucket's page is not a leaf", path)
	}
	for i := range int(ne.Uint16(root[10:])) {
		e := root[pageHeader+16*i:]
		if ne.Uint32(e)&bucketLeaf == 0 {
			continue
		}
		pos, ksize := ne.Uint32(e[4:]), ne.Uint32(e[8:])
		v := e[pos+ksize:]
		br := ne.Uint64(v) // the bucket's root page; 0: inline
		if br == 0 {
			continue
		}
		p := f.page(br)
		if ne.Uint16(p[8:]) != branchFlag || ne.Uint16(p[10:]) < 2 {
			continue
		}
		// Branch elements: pos u32, ksize u32, pgid u64.
		ne.PutUint64(p[pageHeader+16+8:], ne.Uint64(p[pageHeader+8:]))
		f.save(t, path)
		return
	}
	t.Fatalf("%s: no bucket with a branch page for a root", path)
}

// Craft makes the file at path one that ended the process on open before
// boltguard read the meta pages: a freelist to rebuild and a branch page
// that the rebuild's walk reports.
func Craft(t testing.TB, path string) {
	t.Helper()
	CorruptBranch(t, path)
	DropFreelist(t, path)
}

// SetMeta writes v at offset off of both meta pages (after the page
// header: 8 is the page size, u32; 32 the freelist page, u64) of the file
// at path, with the checksums fixed.
func SetMeta(t testing.TB, path string, off int, v uint64) {
	t.Helper()
	f := load(t, path)
	for i := range 2 {
		if off == 8 {
			ne.PutUint32(f.meta(i)[off:], uint32(v))
		} else {
			ne.PutUint64(f.meta(i)[off:], v)
		}
		f.sum(i)
	}
	f.save(t, path)
}

// StoresFreelist reports whether the meta page of the higher txid of the
// bbolt file at path names a stored freelist.
func StoresFreelist(t testing.TB, path string) bool {
	t.Helper()
	f := load(t, path)
	m0, m1 := f.meta(0), f.meta(1)
	m := m0
	if ne.Uint64(m1[48:]) > ne.Uint64(m0[48:]) {
		m = m1
	}
	return ne.Uint64(m[32:]) != ^uint64(0)
}
