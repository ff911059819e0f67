package fts

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/RoaringBitmap/roaring/v2"
)

// A segment's words are two dictionaries, the body words' and the header
// words', each written as:
//
//	blob:    the words in ascending byte order, each followed by a 0 byte
//	         (a control character, so never inside a word or a key)
//	entries: per word, in the same order, where its documents are: offset,
//	         length and CRC-32C of its posting bitmap (uint64, uint32,
//	         uint32 little-endian); a length of 0 means one document, whose
//	         number is the offset.
//
// The footer has each dictionary's offset, blob length, word count and
// the CRC-32C of its blob and of its entries (dictLoc). A key is looked
// up by a substring search of the blob (bytes.Index, one pass); word i is
// the one after i 0 bytes, and the entries are read only when a word
// matched. The order makes merging and the file reproducible.
const dictEntry = 8 + 4 + 4

// Dictionary kinds: the index of a segInput's words and of a segment's
// dicts.
const (
	bodyWords = iota
	headerWords
)

// dictLoc is where one dictionary of a segment is.
type dictLoc struct {
	off     uint64 // of the blob; the entries follow it
	blobLen uint64
	n       uint32 // words
	crcBlob uint32
	crcEnts uint32
}

const dictLocSize = 8 + 8 + 4 + 4 + 4

func (d dictLoc) put(b []byte) {
	binary.LittleEndian.PutUint64(b, d.off)
	binary.LittleEndian.PutUint64(b[8:], d.blobLen)
	binary.LittleEndian.PutUint32(b[16:], d.n)
	binary.LittleEndian.PutUint32(b[20:], d.crcBlob)
	binary.LittleEndian.PutUint32(b[24:], d.crcEnts)
}

func getDictLoc(b []byte) dictLoc {
	return dictLoc{off: binary.LittleEndian.Uint64(b), blobLen: binary.LittleEndian.Uint64(b[8:]),
		n: binary.LittleEndian.Uint32(b[16:]), crcBlob: binary.LittleEndian.Uint32(b[20:]), crcEnts: binary.LittleEndian.Uint32(b[24:])}
}

// end is the offset just past the dictionary.
func (d dictLoc) end() uint64 { return d.off + d.blobLen + uint64(d.n)*dictEntry }

// encodedDict is one dictionary ready to be written.
type encodedDict struct {
	blob, ents []byte
	n          uint32
}

// encodeDict writes the postings of words (bitmaps of more than one
// document) through pw and returns the dictionary.
func encodeDict(pw *postingWriter, words wordIter) (encodedDict, error) {
	var d encodedDict
	for words != nil {
		w, bm, ok, err := words()
		if err != nil {
			return d, err
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
				return d, err
			}
		}
		d.ents = binary.LittleEndian.AppendUint64(d.ents, e.off)
		d.ents = binary.LittleEndian.AppendUint32(d.ents, e.n)
		d.ents = binary.LittleEndian.AppendUint32(d.ents, e.crc)
		d.blob = append(append(d.blob, w...), 0)
		d.n++
	}
	return d, nil
}

// readChecked reads n bytes at off from r and checks their CRC-32C.
func readChecked(r io.ReaderAt, off, n uint64, crc uint32) ([]byte, error) {
	b := make([]byte, n)
	if _, err := r.ReadAt(b, int64(off)); err != nil {
		return nil, fmt.Errorf("fts: read words: %w", err)
	}
	if crc32.Checksum(b, castagnoli) != crc {
		return nil, errCorrupt
	}
	return b, nil
}

// blob reads dictionary kind's words from r (its segment file).
func (seg *segment) blob(r io.ReaderAt, kind int) ([]byte, error) {
	d := seg.dicts[kind]
	b, err := readChecked(r, d.off, d.blobLen, d.crcBlob)
	if err != nil {
		return nil, err
	}
	if bytes.Count(b, []byte{0}) != int(d.n) || len(b) > 0 && b[len(b)-1] != 0 {
		return nil, errCorrupt
	}
	return b, nil
}

// entries reads dictionary kind's entries from r (its segment file).
func (seg *segment) entries(r io.ReaderAt, kind int) ([]byte, error) {
	d := seg.dicts[kind]
	return readChecked(r, d.off+d.blobLen, uint64(d.n)*dictEntry, d.crcEnts)
}

func entryAt(ents []byte, i int) entry {
	e := ents[i*dictEntry:]
	return entry{off: binary.LittleEndian.Uint64(e), n: binary.LittleEndian.Uint32(e[8:]), crc: binary.LittleEndian.Uint32(e[12:])}
}

// containing returns the numbers of the words of blob that contain key
// (not empty, without a 0 byte), ascending.
func containing(blob, key []byte) []int {
	var out []int
	word := 0 // the number of the word at pos
	for pos := 0; pos < len(blob); {
		j := bytes.Index(blob[pos:], key)
		if j < 0 {
			break
		}
		at := pos + j
		word += bytes.Count(blob[pos:at], []byte{0})
		out = append(out, word)
		end := bytes.IndexByte(blob[at:], 0) // the word's end: a blob ends with a 0
		pos = at + end + 1
		word++
	}
	return out
}

// wordIterOf yields the words of blob with their postings (entries and r,
// the segment file), in order.
func wordIterOf(r io.ReaderAt, blob, ents []byte) wordIter {
	i := 0
	return func() (string, *roaring.Bitmap, bool, error) {
		if len(blob) == 0 {
			return "", nil, false, nil
		}
		end := bytes.IndexByte(blob, 0)
		w := string(blob[:end])
		blob = blob[end+1:]
		bm, err := postingOf(r, entryAt(ents, i))
		i++
		return w, bm, err == nil, err
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
