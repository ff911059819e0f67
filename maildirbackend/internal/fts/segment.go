package fts

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/RoaringBitmap/roaring/v2"
)

// A segment file is:
//
//	magic (8 bytes)
//	the posting bitmaps, one per term, then one per word found in more
//	           than one document, in roaring's portable format
//	docs:      uvarint count, then per document uvarint len(key), key,
//	           and a flags byte (flagPartial)
//	directory: uvarint count, then per term: term, offset, length, CRC-32C
//	           of its bitmap (uint32, uint64, uint32, uint32 little-endian)
//	words:     the body words' dictionary, then the header words' (dict.go)
//	footer:    offset of docs, of directory (uint64 each), CRC-32C of docs
//	           and directory (uint32), where each dictionary is (dictLoc),
//	           magic (8 bytes)
//
// Documents are numbered from 0 in the order of docs. A term is a trigram
// (bits 0-23) with bit 24 set for a header field's trigram.
const (
	// 02: TEXT trigrams include MIME headers of parts; no numbering gap
	// after a merge. 03: word dictionaries and the partial flag.
	magic      = "MIFTS03\n"
	footerSize = 8 + 8 + 4 + 2*dictLocSize + 8 // the last 8: magic again
	dirEntry   = 4 + 8 + 4 + 4
)

// flagPartial marks a document whose words are not all in the
// dictionary (a word was cut, or it was added without words): the
// dictionary's silence proves nothing for it.
const flagPartial = 1

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errCorrupt reports a segment file that does not read back as written.
var errCorrupt = errors.New("fts: corrupt segment")

// segment is one immutable segment file, its documents and directory in
// memory, its bitmaps read on demand.
type segment struct {
	path    string
	seq     uint64
	base    uint32          // global ID of its document 0
	keys    []string        // immutable
	partial *roaring.Bitmap // local numbers of the documents flagged partial; immutable
	terms   []uint32        // ascending
	ents    []entry         // parallel to terms
	dicts   [2]dictLoc      // body and header words, read on demand
}

type entry struct {
	off uint64
	n   uint32
	crc uint32
}

// termIter yields a segment's terms in ascending order with their bitmaps
// (of segment-local document numbers); ok false ends.
type termIter func() (term uint32, bm *roaring.Bitmap, ok bool, err error)

// wordIter yields one dictionary's words in ascending order with their
// bitmaps (of segment-local document numbers); ok false ends.
type wordIter func() (word string, bm *roaring.Bitmap, ok bool, err error)

// segInput is what writeSegment writes.
type segInput struct {
	keys    []string
	partial *roaring.Bitmap // local numbers; may be nil
	terms   termIter
	words   [2]wordIter // body, header; either may be nil
}

// writeSegment writes a segment file at path, atomically: a temporary
// file, fsync, rename, fsync of the directory. It returns the segment as
// read back from what it wrote.
func writeSegment(path string, seq uint64, in segInput) (*segment, error) {
	tmp := path + ".tmp"
	file, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("fts: create segment: %w", err)
	}
	defer os.Remove(tmp) // after a successful rename, a no-op
	defer file.Close()
	seg := &segment{path: path, seq: seq, keys: in.keys, partial: in.partial}
	if seg.partial == nil {
		seg.partial = roaring.New()
	}
	pw := &postingWriter{w: bufio.NewWriterSize(file, 256<<10), off: uint64(len(magic))}
	pw.w.WriteString(magic)
	for {
		term, bm, ok, err := in.terms()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		e, err := pw.write(bm)
		if err != nil {
			return nil, err
		}
		seg.terms = append(seg.terms, term)
		seg.ents = append(seg.ents, e)
	}
	var dicts [2]encodedDict
	for kind, words := range in.words {
		d, err := encodeDict(pw, words)
		if err != nil {
			return nil, err
		}
		dicts[kind] = d
	}
	w, off := pw.w, pw.off
	meta := encodeMeta(seg)
	var foot [footerSize]byte
	binary.LittleEndian.PutUint64(foot[0:], off)
	binary.LittleEndian.PutUint64(foot[8:], off+uint64(meta.docsLen))
	binary.LittleEndian.PutUint32(foot[16:], crc32.Checksum(meta.b, castagnoli))
	w.Write(meta.b)
	off += uint64(len(meta.b))
	for kind, d := range dicts {
		loc := dictLoc{off: off, blobLen: uint64(len(d.blob)), n: d.n,
			crcBlob: crc32.Checksum(d.blob, castagnoli), crcEnts: crc32.Checksum(d.ents, castagnoli)}
		loc.put(foot[20+kind*dictLocSize:])
		seg.dicts[kind] = loc
		w.Write(d.blob)
		w.Write(d.ents)
		off = loc.end()
	}
	copy(foot[footerSize-len(magic):], magic)
	w.Write(foot[:])
	if err := w.Flush(); err != nil {
		return nil, fmt.Errorf("fts: write segment: %w", err)
	}
	if err := file.Sync(); err != nil {
		return nil, fmt.Errorf("fts: sync segment: %w", err)
	}
	if err := file.Close(); err != nil {
		return nil, fmt.Errorf("fts: close segment: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("fts: install segment: %w", err)
	}
	syncDir(filepath.Dir(path))
	return seg, nil
}

type metaBytes struct {
	b       []byte
	docsLen int
}

func encodeMeta(seg *segment) metaBytes {
	b := binary.AppendUvarint(nil, uint64(len(seg.keys)))
	for i, k := range seg.keys {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		var fl byte
		if seg.partial.Contains(uint32(i)) {
			fl |= flagPartial
		}
		b = append(b, fl)
	}
	docsLen := len(b)
	b = binary.AppendUvarint(b, uint64(len(seg.terms)))
	for i, t := range seg.terms {
		e := seg.ents[i]
		b = binary.LittleEndian.AppendUint32(b, t)
		b = binary.LittleEndian.AppendUint64(b, e.off)
		b = binary.LittleEndian.AppendUint32(b, e.n)
		b = binary.LittleEndian.AppendUint32(b, e.crc)
	}
	return metaBytes{b: b, docsLen: docsLen}
}

// readSegment reads a segment's documents and directory, checking their
// checksum; a file that is not a whole segment is errCorrupt.
func readSegment(path string, seq uint64) (*segment, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("fts: open segment: %w", err)
	}
	defer file.Close()
	fi, err := file.Stat()
	if err != nil {
		return nil, fmt.Errorf("fts: stat segment: %w", err)
	}
	size := fi.Size()
	if size < int64(len(magic))+footerSize {
		return nil, errCorrupt
	}
	var foot [footerSize]byte
	if _, err := file.ReadAt(foot[:], size-footerSize); err != nil {
		return nil, fmt.Errorf("fts: read segment: %w", err)
	}
	docsOff := binary.LittleEndian.Uint64(foot[0:])
	dirOff := binary.LittleEndian.Uint64(foot[8:])
	seg := &segment{path: path, seq: seq}
	for kind := range seg.dicts {
		seg.dicts[kind] = getDictLoc(foot[20+kind*dictLocSize:])
	}
	end := uint64(size - footerSize)
	metaEnd := seg.dicts[bodyWords].off // the dictionaries follow the directory
	// An older format (another magic) is rebuilt, never misread.
	if string(foot[footerSize-len(magic):]) != magic || docsOff < uint64(len(magic)) || dirOff < docsOff ||
		metaEnd < dirOff || metaEnd > end || !seg.dictsFit(end) {
		return nil, errCorrupt
	}
	meta := make([]byte, metaEnd-docsOff)
	if _, err := file.ReadAt(meta, int64(docsOff)); err != nil {
		return nil, fmt.Errorf("fts: read segment: %w", err)
	}
	if crc32.Checksum(meta, castagnoli) != binary.LittleEndian.Uint32(foot[16:]) {
		return nil, errCorrupt
	}
	if err := seg.decodeMeta(meta, int(dirOff-docsOff), docsOff); err != nil {
		return nil, err
	}
	return seg, nil
}

// dictsFit reports whether the dictionaries lie one after the other up
// to end, the footer.
func (seg *segment) dictsFit(end uint64) bool {
	at := seg.dicts[bodyWords].off
	for _, d := range seg.dicts {
		if d.off != at || d.blobLen > end-at || uint64(d.n) > (end-at-d.blobLen)/dictEntry {
			return false
		}
		at = d.end()
	}
	return at == end
}

func (seg *segment) decodeMeta(meta []byte, docsLen int, bitmapsEnd uint64) error {
	docs, dir := meta[:docsLen], meta[docsLen:]
	n, k := binary.Uvarint(docs)
	if k <= 0 || n > uint64(len(docs)) {
		return errCorrupt
	}
	docs = docs[k:]
	seg.keys = make([]string, 0, n)
	seg.partial = roaring.New()
	for i := range n {
		l, k := binary.Uvarint(docs)
		if k <= 0 || uint64(len(docs)-k) <= l {
			return errCorrupt
		}
		seg.keys = append(seg.keys, string(docs[k:k+int(l)]))
		if docs[k+int(l)]&flagPartial != 0 {
			seg.partial.Add(uint32(i))
		}
		docs = docs[k+int(l)+1:]
	}
	nt, k := binary.Uvarint(dir)
	if k <= 0 || uint64(len(dir)-k) != nt*dirEntry {
		return errCorrupt
	}
	dir = dir[k:]
	seg.terms = make([]uint32, nt)
	seg.ents = make([]entry, nt)
	for i := range seg.terms {
		d := dir[i*dirEntry:]
		seg.terms[i] = binary.LittleEndian.Uint32(d)
		e := entry{off: binary.LittleEndian.Uint64(d[4:]), n: binary.LittleEndian.Uint32(d[12:]), crc: binary.LittleEndian.Uint32(d[16:])}
		if e.off+uint64(e.n) > bitmapsEnd || (i > 0 && seg.terms[i] <= seg.terms[i-1]) {
			return errCorrupt
		}
		seg.ents[i] = e
	}
	return nil
}

// bitmap returns the postings of term (segment-local document numbers),
// empty when the term is absent. r is the segment file.
func (seg *segment) bitmap(r io.ReaderAt, term uint32) (*roaring.Bitmap, error) {
	i := sort.Search(len(seg.terms), func(i int) bool { return seg.terms[i] >= term })
	if i == len(seg.terms) || seg.terms[i] != term {
		return roaring.New(), nil
	}
	return readPosting(r, seg.ents[i])
}

// readPosting reads the bitmap of e from r (a segment file), checking its
// checksum.
func readPosting(r io.ReaderAt, e entry) (*roaring.Bitmap, error) {
	b := make([]byte, e.n)
	if _, err := r.ReadAt(b, int64(e.off)); err != nil {
		return nil, fmt.Errorf("fts: read bitmap: %w", err)
	}
	if crc32.Checksum(b, castagnoli) != e.crc {
		return nil, errCorrupt
	}
	bm := roaring.New()
	if err := bm.UnmarshalBinary(b); err != nil {
		return nil, errCorrupt
	}
	return bm, nil
}

// postingWriter writes posting bitmaps one after the other.
type postingWriter struct {
	w   *bufio.Writer
	off uint64 // the file offset of the next byte
	buf bytes.Buffer
}

func (pw *postingWriter) write(bm *roaring.Bitmap) (entry, error) {
	pw.buf.Reset()
	bm.RunOptimize()
	if _, err := bm.WriteTo(&pw.buf); err != nil {
		return entry{}, fmt.Errorf("fts: encode bitmap: %w", err)
	}
	e := entry{off: pw.off, n: uint32(pw.buf.Len()), crc: crc32.Checksum(pw.buf.Bytes(), castagnoli)}
	pw.off += uint64(pw.buf.Len())
	pw.w.Write(pw.buf.Bytes())
	return e, nil
}

// syncDir makes a rename in dir durable; failures are not fatal (some file
// systems cannot sync a directory).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
