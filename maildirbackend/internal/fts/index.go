package fts

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/RoaringBitmap/roaring/v2"
)

// HeaderBit marks a term as a trigram of a header field; a term without
// it is a trigram of body text.
const HeaderBit = 1 << 24

// Index is the trigram index of one folder: immutable segment files in
// its directory plus the documents added since the last [Index.Flush],
// held in memory. Its methods are safe for concurrent use.
type Index struct {
	dir  string   // immutable
	lock *os.File // holds the directory's flock until Close

	mu   sync.Mutex
	segs []*segment // ascending seq
	mem  *memSeg
	docs map[string]uint32 // key to the global ID of its latest document
	next uint32            // the next global ID
	seq  uint64            // the next segment number
	lost int               // documents dropped with broken segments since the last Lost
}

// memSeg is the documents added since the last flush.
type memSeg struct {
	base  uint32
	keys  []string
	terms map[uint32]*roaring.Bitmap // of global IDs
}

func newMemSeg(base uint32) *memSeg {
	return &memSeg{base: base, terms: make(map[uint32]*roaring.Bitmap)}
}

// segPrefix names segment files: segPrefix + decimal sequence number.
const segPrefix = "seg-"

// Open opens the index in dir, creating dir but not its parent (a folder
// another program removed is never made again by its index), and locks it
// against other writers: while it is open elsewhere Open returns
// [ErrLocked]. The caller calls [Index.Close]. Segment files that do not
// read back whole (a crash while one was written, a damaged disk) and
// leftover temporary files are removed: their documents are simply not
// indexed, which [Index.Has] reports, so they are indexed again.
func Open(dir string) (*Index, error) {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("fts: create index directory: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("fts: read index directory: %w", err)
	}
	x := &Index{dir: dir, lock: lock, docs: make(map[string]uint32)}
	for _, e := range ents {
		name := e.Name()
		if name == lockName {
			continue
		}
		seq, err := strconv.ParseUint(strings.TrimPrefix(name, segPrefix), 10, 64)
		if !strings.HasPrefix(name, segPrefix) || err != nil {
			os.Remove(filepath.Join(dir, name)) // a temporary file
			continue
		}
		seg, err := readSegment(filepath.Join(dir, name), seq)
		if errors.Is(err, errCorrupt) {
			os.Remove(seg0path(dir, seq))
			continue
		}
		if err != nil {
			lock.Close()
			return nil, err
		}
		x.segs = append(x.segs, seg)
		x.seq = max(x.seq, seq+1)
	}
	slices.SortFunc(x.segs, func(a, b *segment) int { return int(a.seq) - int(b.seq) })
	for _, seg := range x.segs {
		x.addSegLocked(seg)
	}
	x.mem = newMemSeg(x.next)
	return x, nil
}

func seg0path(dir string, seq uint64) string {
	return filepath.Join(dir, segPrefix+strconv.FormatUint(seq, 10))
}

// addSegLocked numbers seg's documents from x.next; a key's later
// document replaces its earlier one.
func (x *Index) addSegLocked(seg *segment) {
	seg.base = x.next
	for i, k := range seg.keys {
		x.docs[k] = seg.base + uint32(i)
	}
	x.next += uint32(len(seg.keys))
}

// Close releases the directory's lock; documents not flushed are lost.
// The Index must not be written afterwards (it can still be read).
func (x *Index) Close() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.lock == nil {
		return nil
	}
	err := x.lock.Close()
	x.lock = nil
	return err
}

// Has reports whether the message with this key is indexed.
func (x *Index) Has(key string) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	_, ok := x.docs[key]
	return ok
}

// Add indexes the message with this key: terms are the trigrams of its
// text (with [HeaderBit] for header fields), in any order, repeats
// allowed. A key added again replaces its earlier document.
func (x *Index) Add(key string, terms []uint32) {
	x.mu.Lock()
	defer x.mu.Unlock()
	id := x.next
	x.next++
	x.mem.keys = append(x.mem.keys, key)
	for _, t := range terms {
		bm := x.mem.terms[t]
		if bm == nil {
			bm = roaring.New()
			x.mem.terms[t] = bm
		}
		bm.Add(id)
	}
	x.docs[key] = id
}

// Pending returns the number of documents not yet written to a segment.
func (x *Index) Pending() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return len(x.mem.keys)
}

// Segments returns the number of segment files.
func (x *Index) Segments() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return len(x.segs)
}

// Lost returns how many documents broken segments took with them since
// the last call: when not zero, the caller indexes again what
// [Index.Has] no longer reports.
func (x *Index) Lost() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	n := x.lost
	x.lost = 0
	return n
}

// Flush writes the documents added since the last flush to a new segment
// file. Searches wait for it.
func (x *Index) Flush() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	m := x.mem
	if len(m.keys) == 0 {
		return nil
	}
	terms := make([]uint32, 0, len(m.terms))
	for t := range m.terms {
		terms = append(terms, t)
	}
	slices.Sort(terms)
	i := 0
	next := func() (uint32, *roaring.Bitmap, bool, error) {
		if i == len(terms) {
			return 0, nil, false, nil
		}
		t := terms[i]
		i++
		// Global IDs to the segment's own numbering.
		bm := roaring.AddOffset64(m.terms[t], -int64(m.base))
		return t, bm, true, nil
	}
	seq := x.seq
	seg, err := writeSegment(seg0path(x.dir, seq), seq, m.keys, next)
	if err != nil {
		return err
	}
	x.seq++
	// The documents keep their IDs: the segment takes the memory's.
	seg.base = m.base
	x.segs = append(x.segs, seg)
	x.mem = newMemSeg(x.next)
	return nil
}

// Needle is one BODY or TEXT key for [Index.Query].
type Needle struct {
	Trigrams []uint32 // imapmsg.KeyTrigrams of the key
	Text     bool     // TEXT: header fields count too
}

// Query maps each key to its document (-1: not indexed) and each needle
// to the documents that may contain it (nil: any, a needle without
// trigrams), consistently: a document outside a needle's bitmap does not
// contain it. A segment that does not read back is dropped (see
// [Index.Lost]) and the query fails: the caller scans instead.
func (x *Index) Query(keys []string, needles []Needle) (docs []int64, cands []*roaring.Bitmap, err error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	cands = make([]*roaring.Bitmap, len(needles))
	for i, nd := range needles {
		if len(nd.Trigrams) == 0 {
			continue
		}
		if cands[i], err = x.candidatesLocked(nd); err != nil {
			return nil, nil, err
		}
	}
	docs = make([]int64, len(keys))
	for i, k := range keys {
		if id, ok := x.docs[k]; ok {
			docs[i] = int64(id)
		} else {
			docs[i] = -1
		}
	}
	return docs, cands, nil
}

// candidatesLocked returns the global IDs of the documents that have
// every trigram of nd.
func (x *Index) candidatesLocked(nd Needle) (*roaring.Bitmap, error) {
	out := roaring.New()
	for _, seg := range x.segs {
		bm, err := x.segCandidates(seg, nd)
		if err != nil {
			x.dropLocked(seg)
			return nil, err
		}
		out.Or(roaring.AddOffset(bm, seg.base))
	}
	var acc *roaring.Bitmap
	for _, t := range nd.Trigrams {
		bm := orNil(x.mem.terms[t], nil)
		if nd.Text {
			bm = orNil(bm, x.mem.terms[t|HeaderBit])
		}
		if acc == nil {
			acc = bm
		} else {
			acc = roaring.And(acc, bm)
		}
		if acc.IsEmpty() {
			break
		}
	}
	out.Or(acc)
	return out, nil
}

// orNil returns the union of a and b (either may be nil) as a new bitmap.
func orNil(a, b *roaring.Bitmap) *roaring.Bitmap {
	out := roaring.New()
	if a != nil {
		out.Or(a)
	}
	if b != nil {
		out.Or(b)
	}
	return out
}

// segCandidates is candidatesLocked within one segment, in its numbering.
func (x *Index) segCandidates(seg *segment, nd Needle) (*roaring.Bitmap, error) {
	file, err := os.Open(seg.path)
	if err != nil {
		return nil, fmt.Errorf("fts: open segment: %w", err)
	}
	defer file.Close()
	var acc *roaring.Bitmap
	for _, t := range nd.Trigrams {
		bm, err := seg.bitmap(file, t)
		if err != nil {
			return nil, err
		}
		if nd.Text {
			h, err := seg.bitmap(file, t|HeaderBit)
			if err != nil {
				return nil, err
			}
			bm.Or(h)
		}
		if acc == nil {
			acc = bm
		} else {
			acc.And(bm)
		}
		if acc.IsEmpty() {
			break
		}
	}
	return acc, nil
}

// dropLocked forgets a segment that does not read back and removes its
// file; its documents are no longer indexed.
func (x *Index) dropLocked(seg *segment) {
	x.segs = slices.DeleteFunc(x.segs, func(s *segment) bool { return s == seg })
	for i, k := range seg.keys {
		if x.docs[k] == seg.base+uint32(i) {
			delete(x.docs, k)
			x.lost++
		}
	}
	os.Remove(seg.path) // removed or not, it is no longer read
}

// Missing returns the keys, in their order, that have no document.
func (x *Index) Missing(keys []string) []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []string
	for _, k := range keys {
		if _, ok := x.docs[k]; !ok {
			out = append(out, k)
		}
	}
	return out
}
