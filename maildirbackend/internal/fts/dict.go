package fts

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"sort"

	"github.com/RoaringBitmap/roaring/v2"
)

// A segment's words section is two dictionaries, the body words' and the
// header words', each:
//
//	uvarint count, uvarint len(blob)
//	blob:    the words in ascending byte order, each followed by a 0 byte
//	         (a control character, so never inside a word or a key)
//	entries: per word, its offset in blob, then where its documents are:
//	         offset, length and CRC-32C of its posting bitmap (uint32,
//	         uint64, uint32, uint32 little-endian); a length of 0 means
//	         one document, whose number is the offset.
//
// A key is looked up by a substring search of the blob (bytes.Index, one
// pass), not by the words' order; the order makes merging and the file
// reproducible.
const dictEntry = 4 + 8 + 4 + 4

// Dictionary kinds: the index of a segInput's words and of readDict's
// result.
const (
	bodyWords = iota
	headerWords
)

// writeDict writes the postings of words (bitmaps of more than one
// document) through pw and returns the dictionary's bytes.
func writeDict(pw *postingWriter, words wordIter) ([]byte, error) {
	var blob, ents []byte
	n := 0
	for words != nil {
		w, bm, ok, err := words()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		if bm.IsEmpty() {
			continue
		}
		e := entry{off: uint64(bm.Minimum())}
		if bm.GetCardinality() > 1 {
			if e, err = pw.write(bm); err != nil {
				return nil, err
			}
		}
		ents = binary.LittleEndian.AppendUint32(ents, uint32(len(blob)))
		ents = binary.LittleEndian.AppendUint64(ents, e.off)
		ents = binary.LittleEndian.AppendUint32(ents, e.n)
		ents = binary.LittleEndian.AppendUint32(ents, e.crc)
		blob = append(append(blob, w...), 0)
		n++
	}
	out := binary.AppendUvarint(nil, uint64(n))
	out = binary.AppendUvarint(out, uint64(len(blob)))
	out = append(out, blob...)
	return append(out, ents...), nil
}

// dictView is one dictionary of a segment, as read from its file.
type dictView struct {
	blob []byte
	ents []byte // n * dictEntry
	n    int
}

// readDict reads a segment's dictionaries from r (its file), checking
// their checksum.
func (seg *segment) readDict(r io.ReaderAt) ([2]dictView, error) {
	var out [2]dictView
	b := make([]byte, seg.dictLen)
	if _, err := r.ReadAt(b, int64(seg.dictOff)); err != nil {
		return out, fmt.Errorf("fts: read words: %w", err)
	}
	if crc32.Checksum(b, castagnoli) != seg.dictCRC {
		return out, errCorrupt
	}
	for i := range out {
		n, k := binary.Uvarint(b)
		if k <= 0 {
			return out, errCorrupt
		}
		b = b[k:]
		bl, k := binary.Uvarint(b)
		if k <= 0 || bl > uint64(len(b)-k) || n > uint64(len(b)-k-int(bl))/dictEntry {
			return out, errCorrupt
		}
		b = b[k:]
		out[i] = dictView{blob: b[:bl], ents: b[bl : bl+n*dictEntry], n: int(n)}
		b = b[bl+n*dictEntry:]
		if out[i].n > 0 && (len(out[i].blob) == 0 || out[i].blob[len(out[i].blob)-1] != 0) {
			return out, errCorrupt
		}
	}
	return out, nil
}

// wordAt returns word i and its postings' entry.
func (d dictView) wordAt(i int) ([]byte, entry) {
	e := d.ents[i*dictEntry:]
	start := binary.LittleEndian.Uint32(e)
	end := uint32(len(d.blob))
	if i+1 < d.n {
		end = binary.LittleEndian.Uint32(d.ents[(i+1)*dictEntry:])
	}
	var w []byte
	if start < end && end <= uint32(len(d.blob)) {
		w = d.blob[start : end-1]
	}
	return w, entry{off: binary.LittleEndian.Uint64(e[4:]), n: binary.LittleEndian.Uint32(e[12:]), crc: binary.LittleEndian.Uint32(e[16:])}
}

// containing calls fn with the entry of every word that contains key (not
// empty, without a 0 byte), each once.
func (d dictView) containing(key []byte, fn func(entry) error) error {
	for pos := 0; pos < len(d.blob); {
		j := bytes.Index(d.blob[pos:], key)
		if j < 0 {
			return nil
		}
		at := uint32(pos + j)
		// The word holding the match: the last one starting at or before it.
		i := sort.Search(d.n, func(i int) bool { return binary.LittleEndian.Uint32(d.ents[i*dictEntry:]) > at }) - 1
		if i < 0 {
			return errCorrupt
		}
		w, e := d.wordAt(i)
		if err := fn(e); err != nil {
			return err
		}
		next := binary.LittleEndian.Uint32(d.ents[i*dictEntry:]) + uint32(len(w)) + 1
		if int(next) <= pos {
			return errCorrupt
		}
		pos = int(next)
	}
	return nil
}

// words yields every word of d with its postings (read from r, d's
// segment file), in d's order.
func (d dictView) words(r io.ReaderAt) wordIter {
	i := 0
	return func() (string, *roaring.Bitmap, bool, error) {
		if i == d.n {
			return "", nil, false, nil
		}
		w, e := d.wordAt(i)
		i++
		bm, err := postingOf(r, e)
		return string(w), bm, err == nil, err
	}
}

// postingOf returns the documents of a dictionary entry.
func postingOf(r io.ReaderAt, e entry) (*roaring.Bitmap, error) {
	if e.n == 0 {
		if e.off > 1<<32-1 {
			return nil, errCorrupt
		}
		return roaring.BitmapOf(uint32(e.off)), nil
	}
	return readPosting(r, e)
}
