package boltguard

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// ErrInvalid means a file was refused before bbolt opened it: its meta
// pages are not those of a bbolt file this package lets bbolt open (see
// checkFile). The caller replaces the file.
var ErrInvalid = errors.New("not a bbolt file that can be opened safely")

// bbolt's file layout (go.etcd.io/bbolt v1.4, internal/common): every page
// starts with a 16-byte header (id u64, flags u16, count u16, overflow
// u32); pages 0 and 1 hold a meta each, after the header (magic, version,
// page size, flags u32; root bucket pgid and sequence, freelist pgid,
// high water mark pgid, txid, checksum u64). Integers are in the machine's
// order (bbolt casts the mapped bytes to its structs).
const (
	pageHeaderSize   = 16
	metaSize         = 64
	metaSumSize      = 56 // the checksum covers the fields before it
	boltMagic        = 0xED0CDAED
	boltVersion      = 2
	noFreelist       = ^uint64(0) // common.PgidNoFreelist
	freelistPageFlag = 0x10
	minPageSize      = 1024    // the smallest size bbolt probes for
	maxPageSize      = 1 << 16 // the largest OS page size bbolt would pick
)

// meta is one decoded meta page.
type meta struct {
	pageSize uint32
	root     uint64
	freelist uint64
	pgid     uint64 // high water mark: pages [0, pgid) are in use
	txid     uint64
	err      error // nil: magic, version and checksum are right
}

func decodeMeta(page []byte) meta {
	b := page[pageHeaderSize : pageHeaderSize+metaSize]
	le := binary.NativeEndian
	m := meta{
		pageSize: le.Uint32(b[8:]),
		root:     le.Uint64(b[16:]),
		freelist: le.Uint64(b[32:]),
		pgid:     le.Uint64(b[40:]),
		txid:     le.Uint64(b[48:]),
	}
	h := fnv.New64a()
	h.Write(b[:metaSumSize])
	switch {
	case le.Uint32(b[0:]) != boltMagic:
		m.err = errors.New("bad magic")
	case le.Uint32(b[4:]) != boltVersion:
		m.err = fmt.Errorf("version %d", le.Uint32(b[4:]))
	case le.Uint64(b[metaSumSize:]) != h.Sum64():
		m.err = errors.New("bad checksum")
	}
	return m
}

// checkFile reads the meta pages of f (size bytes) as bbolt's Open will,
// and refuses (ErrInvalid) a file that bbolt would open into a state where
// a damaged page can end the process rather than panic in the caller:
//
//   - bbolt (db.go, loadFreelist) rebuilds the freelist of a file whose
//     chosen meta has none stored (the freelist pgid is PgidNoFreelist, as
//     NoFreelistSync writes it) by walking every page (freepages), and
//     reports what it finds wrong to a goroutine of its own that panics;
//     nothing recovers that. The same walk runs on the rollback of every
//     write transaction of such a file.
//   - The stored freelist page is read at open (freelist.Read): a page
//     that is not a freelist, or whose count is garbage, makes bbolt
//     panic or allocate a slice of that count (out of memory is fatal).
//
// The meta is chosen as bbolt does (DB.meta): the valid one of the higher
// txid, else the other valid one, the page size being that of the first
// valid meta (DB.getPageSize). An empty file is accepted: bbolt writes a
// new one. The file is read with ReadAt only: nothing is mapped.
func checkFile(f io.ReaderAt, size int64) error {
	if size == 0 {
		return nil
	}
	if size < 2*minPageSize {
		return fmt.Errorf("%w: %d bytes", ErrInvalid, size)
	}
	first := make([]byte, pageHeaderSize+metaSize)
	if _, err := f.ReadAt(first, 0); err != nil {
		return fmt.Errorf("read meta 0: %w", err)
	}
	m0 := decodeMeta(first)
	pageSize := m0.pageSize
	if m0.err != nil {
		// bbolt probes for the second meta at 1 KiB, 2 KiB, ...
		pageSize = 0
		for ps := int64(minPageSize); ps <= maxPageSize && ps < size-minPageSize; ps *= 2 {
			b := make([]byte, pageHeaderSize+metaSize)
			if _, err := f.ReadAt(b, ps); err != nil {
				break
			}
			if m := decodeMeta(b); m.err == nil {
				pageSize = m.pageSize
				break
			}
		}
		if pageSize == 0 {
			return fmt.Errorf("%w: no valid meta page (meta 0: %v)", ErrInvalid, m0.err)
		}
	}
	if pageSize < minPageSize || pageSize > maxPageSize || pageSize&(pageSize-1) != 0 {
		return fmt.Errorf("%w: page size %d", ErrInvalid, pageSize)
	}
	ps := int64(pageSize)
	if size < 2*ps {
		return fmt.Errorf("%w: %d bytes, page size %d", ErrInvalid, size, ps)
	}
	second := make([]byte, pageHeaderSize+metaSize)
	if _, err := f.ReadAt(second, ps); err != nil {
		return fmt.Errorf("read meta 1: %w", err)
	}
	m1 := decodeMeta(second)
	a, b := m0, m1
	if m1.txid > m0.txid {
		a, b = m1, m0
	}
	if a.err != nil {
		a = b
	}
	if a.err != nil {
		return fmt.Errorf("%w: no valid meta page (%v, %v)", ErrInvalid, m0.err, m1.err)
	}
	for _, m := range []meta{m0, m1} {
		if m.err == nil && m.pageSize != pageSize {
			return fmt.Errorf("%w: meta pages of page sizes %d and %d", ErrInvalid, pageSize, m.pageSize)
		}
	}
	switch {
	case a.freelist == noFreelist:
		return fmt.Errorf("%w: no freelist stored (bbolt would rebuild it by a walk whose errors end the process)", ErrInvalid)
	case a.pgid < 4 || a.pgid > uint64(size/ps):
		return fmt.Errorf("%w: high water mark page %d in a file of %d pages", ErrInvalid, a.pgid, size/ps)
	case a.root < 2 || a.root >= a.pgid:
		return fmt.Errorf("%w: root page %d, high water mark %d", ErrInvalid, a.root, a.pgid)
	case a.freelist < 2 || a.freelist >= a.pgid:
		return fmt.Errorf("%w: freelist page %d, high water mark %d", ErrInvalid, a.freelist, a.pgid)
	}
	return checkFreelist(f, a, ps)
}

// checkFreelist reads the freelist page of m and checks its type, that its
// ids fit in its pages, and that each is a page of the file other than
// the meta pages (bbolt would hand them out).
func checkFreelist(f io.ReaderAt, m meta, ps int64) error {
	hdr := make([]byte, pageHeaderSize+8)
	if _, err := f.ReadAt(hdr, int64(m.freelist)*ps); err != nil {
		return fmt.Errorf("read freelist page: %w", err)
	}
	le := binary.NativeEndian
	flags, count, overflow := le.Uint16(hdr[8:]), uint64(le.Uint16(hdr[10:])), uint64(le.Uint32(hdr[12:]))
	if flags != freelistPageFlag {
		return fmt.Errorf("%w: page %d is not a freelist (flags %#x)", ErrInvalid, m.freelist, flags)
	}
	if m.freelist+overflow >= m.pgid {
		return fmt.Errorf("%w: freelist pages %d+%d past the high water mark %d", ErrInvalid, m.freelist, overflow, m.pgid)
	}
	first := uint64(0)
	if count == 0xFFFF { // the count is the first id (bbolt's freelist.Write)
		first, count = 1, le.Uint64(hdr[pageHeaderSize:])
	}
	room := (uint64(overflow+1)*uint64(ps) - pageHeaderSize) / 8
	if count > room || first+count > room {
		return fmt.Errorf("%w: freelist of %d ids in %d pages", ErrInvalid, count, overflow+1)
	}
	if count == 0 {
		return nil
	}
	ids := make([]byte, count*8)
	if _, err := f.ReadAt(ids, int64(m.freelist)*ps+pageHeaderSize+int64(first)*8); err != nil {
		return fmt.Errorf("read freelist: %w", err)
	}
	for i := 0; i < len(ids); i += 8 {
		if id := le.Uint64(ids[i:]); id < 2 || id >= m.pgid {
			return fmt.Errorf("%w: free page %d, high water mark %d", ErrInvalid, id, m.pgid)
		}
	}
	return nil
}

// statSize is f's size.
func statSize(f *os.File) (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("stat %s: %w", f.Name(), err)
	}
	return fi.Size(), nil
}
