package fts

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/RoaringBitmap/roaring/v2"
)

// mapWords yields the words of m in ascending order, their bitmaps
// passed through conv.
func mapWords(m map[string]*roaring.Bitmap, conv func(*roaring.Bitmap) *roaring.Bitmap) wordIter {
	words := make([]string, 0, len(m))
	for w := range m {
		words = append(words, w)
	}
	slices.Sort(words)
	i := 0
	return func() (string, *roaring.Bitmap, bool, error) {
		if i == len(words) {
			return "", nil, false, nil
		}
		w := words[i]
		i++
		return w, conv(m[w]), true, nil
	}
}

// wordLocked answers a needle with a Word from the dictionaries of every
// segment and of the memory: sure is the documents with a word that
// contains it (body words, and header words for TEXT), partial the
// documents flagged partial (which may contain it anyway), in global IDs.
func (x *Index) wordLocked(nd Needle) (sure, partial *roaring.Bitmap, err error) {
	sure, partial = roaring.New(), roaring.New()
	kinds := []int{bodyWords}
	if nd.Text {
		kinds = append(kinds, headerWords)
	}
	for _, seg := range x.segs {
		bm, err := seg.wordDocs(nd.Word, kinds)
		if err != nil {
			x.dropLocked(seg)
			return nil, nil, err
		}
		sure.Or(roaring.AddOffset(bm, seg.base))
		partial.Or(roaring.AddOffset(seg.partial, seg.base))
	}
	for _, kind := range kinds {
		for w, bm := range x.mem.words[kind] {
			if strings.Contains(w, nd.Word) {
				sure.Or(bm)
			}
		}
	}
	partial.Or(x.mem.partial)
	return sure, partial, nil
}

// wordDocs returns the documents of seg (local numbers) that have a word
// of one of kinds containing key.
func (seg *segment) wordDocs(key string, kinds []int) (*roaring.Bitmap, error) {
	out := roaring.New()
	file, err := os.Open(seg.path)
	if err != nil {
		return nil, fmt.Errorf("fts: open segment: %w", err)
	}
	defer file.Close()
	for _, kind := range kinds {
		blob, err := seg.blob(file, kind)
		if err != nil {
			return nil, err
		}
		hits := containing(blob, []byte(key))
		if len(hits) == 0 {
			continue
		}
		ents, err := seg.entries(file, kind)
		if err != nil {
			return nil, err
		}
		for _, i := range hits {
			bm, err := postingOf(file, entryAt(ents, i))
			if err != nil {
				return nil, err
			}
			out.Or(bm)
		}
	}
	return out, nil
}

// mergeWords yields the union of one kind of dictionary of the picked
// segments, each word's documents renumbered into the merged segment
// (see mergeTerms). It reads the dictionaries when first called.
func mergeWords(pick []*segment, keep []*roaring.Bitmap, starts []uint32, kind int) wordIter {
	var (
		words []string
		docs  map[string]*roaring.Bitmap
		i     int
	)
	return func() (string, *roaring.Bitmap, bool, error) {
		if docs == nil {
			docs = make(map[string]*roaring.Bitmap)
			for si, s := range pick {
				if err := s.collectWords(kind, keep[si], starts[si], docs); err != nil {
					return "", nil, false, err
				}
			}
			for w := range docs {
				words = append(words, w)
			}
			slices.Sort(words)
		}
		if i == len(words) {
			return "", nil, false, nil
		}
		w := words[i]
		i++
		return w, docs[w], true, nil
	}
}

// collectWords adds one kind of s's words to docs, renumbered.
func (s *segment) collectWords(kind int, keep *roaring.Bitmap, start uint32, docs map[string]*roaring.Bitmap) error {
	file, err := os.Open(s.path)
	if err != nil {
		return fmt.Errorf("fts: open segment: %w", err)
	}
	defer file.Close()
	blob, err := s.blob(file, kind)
	if err != nil {
		return err
	}
	ents, err := s.entries(file, kind)
	if err != nil {
		return err
	}
	it := wordIterOf(file, blob, ents)
	for {
		w, bm, ok, err := it()
		if err != nil || !ok {
			return err
		}
		bm = renumber(bm, keep, start)
		if bm.IsEmpty() {
			continue
		}
		if d := docs[w]; d != nil {
			d.Or(bm)
		} else {
			docs[w] = bm
		}
	}
}
