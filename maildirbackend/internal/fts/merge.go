package fts

import (
	"fmt"
	"os"
	"slices"

	"github.com/RoaringBitmap/roaring/v2"
)

// MaxSegments is the number of segment files above which [Index.Compact]
// merges.
const MaxSegments = 8

// Compact merges segment files when there are more than [MaxSegments],
// or when half of the indexed documents are no longer live (live reports
// whether a key is still a message of the folder; it is called without
// the index's lock held). The merge leaves out the documents of keys that
// are not live or were indexed again since. Searches go on meanwhile,
// on the old segments; the merged one replaces them at the end.
func (x *Index) Compact(live func(key string) bool) error {
	x.mu.Lock()
	segs := slices.Clone(x.segs)
	x.mu.Unlock()
	pick := pickMerge(segs, live)
	if len(pick) < 2 && (len(pick) == 0 || allLive(pick[0], live)) {
		return nil
	}
	keep, keys := x.keepers(pick, live)
	x.mu.Lock()
	seq := x.seq
	x.seq++
	x.mu.Unlock()
	starts := mergeStarts(pick, keep)
	in := segInput{keys: keys, partial: roaring.New(), terms: mergeTerms(pick, keep, starts)}
	for i, s := range pick {
		in.partial.Or(renumber(s.partial, keep[i], starts[i]))
	}
	for kind := range in.words {
		in.words[kind] = mergeWords(pick, keep, starts, kind)
	}
	merged, err := writeSegment(seg0path(x.dir, seq), seq, in)
	if err != nil {
		return err
	}
	x.install(pick, keep, merged)
	return nil
}

// pickMerge chooses the segments to merge: every one when half the
// documents are dead, else, above MaxSegments, all but the largest
// MaxSegments/2 - 1.
func pickMerge(segs []*segment, live func(string) bool) []*segment {
	total, dead := 0, 0
	for _, s := range segs {
		for _, k := range s.keys {
			total++
			if !live(k) {
				dead++
			}
		}
	}
	if total > 0 && dead*2 >= total {
		return segs
	}
	if len(segs) <= MaxSegments {
		return nil
	}
	bySize := slices.Clone(segs)
	slices.SortFunc(bySize, func(a, b *segment) int { return len(a.keys) - len(b.keys) })
	return bySize[:len(bySize)-(MaxSegments/2-1)]
}

func allLive(s *segment, live func(string) bool) bool {
	for _, k := range s.keys {
		if !live(k) {
			return false
		}
	}
	return true
}

// keepers returns, per picked segment, the local numbers of the documents
// the merge keeps (nil: all of them), and the kept keys in merged order.
func (x *Index) keepers(pick []*segment, live func(string) bool) ([]*roaring.Bitmap, []string) {
	keep := make([]*roaring.Bitmap, len(pick))
	var keys []string
	for i, s := range pick {
		bm := roaring.New()
		for j, k := range s.keys {
			x.mu.Lock()
			cur := x.docs[k] == s.base+uint32(j)
			x.mu.Unlock()
			if cur && live(k) {
				bm.Add(uint32(j))
				keys = append(keys, k)
			}
		}
		if bm.GetCardinality() != uint64(len(s.keys)) {
			keep[i] = bm
		}
	}
	return keep, keys
}

// mergeStarts returns the merged number of each picked segment's first
// kept document.
func mergeStarts(pick []*segment, keep []*roaring.Bitmap) []uint32 {
	starts := make([]uint32, len(pick))
	var at uint32
	for i, s := range pick {
		starts[i] = at
		if keep[i] == nil {
			at += uint32(len(s.keys))
		} else {
			at += uint32(keep[i].GetCardinality())
		}
	}
	return starts
}

// mergeTerms yields the union of the picked segments' terms with their
// bitmaps renumbered into the merged segment.
func mergeTerms(pick []*segment, keep []*roaring.Bitmap, starts []uint32) termIter {
	var terms []uint32
	for _, s := range pick {
		terms = append(terms, s.terms...)
	}
	slices.Sort(terms)
	terms = slices.Compact(terms)
	files := make([]*os.File, len(pick))
	ti := 0
	return func() (uint32, *roaring.Bitmap, bool, error) {
		if ti == len(terms) {
			for _, f := range files {
				if f != nil {
					f.Close()
				}
			}
			return 0, nil, false, nil
		}
		t := terms[ti]
		ti++
		out := roaring.New()
		for i, s := range pick {
			if files[i] == nil {
				f, err := os.Open(s.path)
				if err != nil {
					return 0, nil, false, fmt.Errorf("fts: open segment: %w", err)
				}
				files[i] = f
			}
			bm, err := s.bitmap(files[i], t)
			if err != nil {
				return 0, nil, false, err
			}
			out.Or(renumber(bm, keep[i], starts[i]))
		}
		return t, out, true, nil
	}
}

// renumber maps a segment's local numbers into the merged segment: kept
// documents in order from start.
func renumber(bm, keep *roaring.Bitmap, start uint32) *roaring.Bitmap {
	if keep == nil {
		return roaring.AddOffset(bm, start)
	}
	out := roaring.New()
	it := bm.Iterator()
	for it.HasNext() {
		v := it.Next()
		if keep.Contains(v) {
			out.Add(start + uint32(keep.Rank(v)) - 1)
		}
	}
	return out
}

// install replaces the picked segments with the merged one, whose
// documents get new global IDs; keys indexed again meanwhile keep their
// newer documents.
func (x *Index) install(pick []*segment, keep []*roaring.Bitmap, merged *segment) {
	x.mu.Lock()
	defer x.mu.Unlock()
	merged.base = x.next
	x.next += uint32(len(merged.keys))
	x.moveMemLocked()
	n := uint32(0)
	for i, s := range pick {
		for j, k := range s.keys {
			if keep[i] != nil && !keep[i].Contains(uint32(j)) {
				continue
			}
			if x.docs[k] == s.base+uint32(j) {
				x.docs[k] = merged.base + n
			}
			n++
		}
	}
	// A picked segment's document that the merge left out and that is
	// still current (its key became live again meanwhile) is no longer
	// indexed.
	for _, s := range pick {
		for j, k := range s.keys {
			if x.docs[k] == s.base+uint32(j) {
				delete(x.docs, k)
			}
		}
	}
	x.segs = slices.DeleteFunc(x.segs, func(s *segment) bool { return slices.Contains(pick, s) })
	x.segs = append(x.segs, merged)
	for _, s := range pick {
		os.Remove(s.path)
	}
}

// moveMemLocked renumbers the documents in memory to follow the last
// numbers given out (a merged segment took the ones they were to get
// next): a segment's documents are numbered without gaps from its base,
// in the order of its keys, and Flush writes them so.
func (x *Index) moveMemLocked() {
	m := x.mem
	newBase := x.next
	delta := int64(newBase) - int64(m.base)
	for t, bm := range m.terms {
		m.terms[t] = roaring.AddOffset64(bm, delta)
	}
	for _, words := range m.words {
		for w, bm := range words {
			words[w] = roaring.AddOffset64(bm, delta)
		}
	}
	m.partial = roaring.AddOffset64(m.partial, delta)
	for i, k := range m.keys {
		if x.docs[k] == m.base+uint32(i) {
			x.docs[k] = newBase + uint32(i)
		}
	}
	m.base = newBase
	x.next = newBase + uint32(len(m.keys))
}
