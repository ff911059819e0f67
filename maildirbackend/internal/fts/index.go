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
	base    uint32
	keys    []string
	terms   map[uint32]*roaring.Bitmap    // of global IDs
	words   [2]map[string]*roaring.Bitmap // body, header words; of global IDs
	partial *roaring.Bitmap               // global IDs of documents flagged partial
}

func newMemSeg(base uint32) *memSeg {
	return &memSeg{base: base, terms: make(map[uint32]*roaring.Bitmap),
		words:   [2]map[string]*roaring.Bitmap{make(map[string]*roaring.Bitmap), make(map[string]*roaring.Bitmap)},
		partial: roaring.New()}
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

// Add indexes the message with this key by the trigrams of its text
// alone (with [HeaderBit] for header fields), in any order, repeats
// allowed: its words are not known, so it is flagged partial (see
// [Doc]). A key added again replaces its earlier document.
func (x *Index) Add(key string, terms []uint32) {
	x.AddDoc(key, Doc{Terms: terms, Partial: true})
}

// Doc is what [Index.AddDoc] records of a message.
type Doc struct {
	Terms []uint32 // the trigrams of its text, HeaderBit for header fields; repeats allowed
	// Body and Header are the words of its body text and of its header
	// fields (imapmsg.IsSeparator splits them), repeats allowed.
	Body, Header []string
	// Partial says that some word of the message is not in Body or
	// Header (a word was cut for its length): a key found in no word of
	// it may still occur in it, and is verified by reading the message.
	Partial bool
}

// AddDoc indexes the message with this key. A key added again replaces
// its earlier document.
func (x *Index) AddDoc(key string, d Doc) {
	x.mu.Lock()
	defer x.mu.Unlock()
	id := x.next
	x.next++
	m := x.mem
	m.keys = append(m.keys, key)
	for _, t := range d.Terms {
		bm := m.terms[t]
		if bm == nil {
			bm = roaring.New()
			m.terms[t] = bm
		}
		bm.Add(id)
	}
	for kind, words := range [2][]string{d.Body, d.Header} {
		for _, w := range words {
			bm := m.words[kind][w]
			if bm == nil {
				bm = roaring.New()
				m.words[kind][w] = bm
			}
			bm.Add(id)
		}
	}
	if d.Partial {
		m.partial.Add(id)
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
	// Global IDs to the segment's own numbering.
	local := func(bm *roaring.Bitmap) *roaring.Bitmap { return roaring.AddOffset64(bm, -int64(m.base)) }
	in := segInput{keys: m.keys, partial: local(m.partial)}
	in.terms = func() (uint32, *roaring.Bitmap, bool, error) {
		if i == len(terms) {
			return 0, nil, false, nil
		}
		t := terms[i]
		i++
		return t, local(m.terms[t]), true, nil
	}
	for kind, words := range m.words {
		in.words[kind] = mapWords(words, local)
	}
	seq := x.seq
	seg, err := writeSegment(seg0path(x.dir, seq), seq, in)
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
	// Word, when not empty, is the folded key, which has no separator
	// (imapmsg.KeyWord): the dictionaries answer it.
	Word string
}

// Answer is what [Index.Query] found, in global document IDs.
type Answer struct {
	// Docs is the document of each key asked (-1: not indexed).
	Docs []int64
	// Cands is, per needle, the documents that may contain it (nil:
	// any): a document outside it does not.
	Cands []*roaring.Bitmap
	// Sure is, per needle, the documents that contain it (nil: none
	// known), a subset of Cands: a document in Cands and not in Sure
	// must be read to know.
	Sure []*roaring.Bitmap
}

// Query maps each key to its document and each needle to the documents
// that may contain it and those that surely do, consistently. A needle
// with a Word is answered by the dictionaries: the documents with a word
// containing it surely contain it, and of the others only those flagged
// partial may. A segment that does not read back is dropped (see
// [Index.Lost]) and the query fails: the caller scans instead.
func (x *Index) Query(keys []string, needles []Needle) (Answer, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	a := Answer{Cands: make([]*roaring.Bitmap, len(needles)), Sure: make([]*roaring.Bitmap, len(needles))}
	for i, nd := range needles {
		var err error
		if len(nd.Trigrams) > 0 {
			if a.Cands[i], err = x.candidatesLocked(nd); err != nil {
				return Answer{}, err
			}
		}
		if nd.Word == "" {
			continue
		}
		sure, partial, err := x.wordLocked(nd)
		if err != nil {
			return Answer{}, err
		}
		if a.Cands[i] != nil {
			partial.And(a.Cands[i])
		}
		a.Sure[i] = sure
		a.Cands[i] = roaring.Or(sure, partial)
	}
	a.Docs = make([]int64, len(keys))
	for i, k := range keys {
		if id, ok := x.docs[k]; ok {
			a.Docs[i] = int64(id)
		} else {
			a.Docs[i] = -1
		}
	}
	return a, nil
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
