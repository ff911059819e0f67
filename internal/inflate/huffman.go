package inflate

import (
	"errors"
	"math/bits"
)

// A table entry packs a symbol (or a sub-table offset) in bits 0-15 and a
// code length (or a sub-table width) in bits 16-23; bit 24 marks a link to
// a sub-table. Zero is an invalid entry.
const (
	primaryBits = 9
	primarySize = 1 << primaryBits
	linkFlag    = 1 << 24
	maxCodeLen  = 15
)

var errBadCode = errors.New("inflate: invalid Huffman code lengths")

// huffman is a canonical Huffman decoding table: codes up to primaryBits
// long resolve in one lookup, longer ones through one sub-table.
type huffman struct {
	primary [primarySize]uint32
	sub     []uint32
	maxLen  uint // longest code length; 0 for an empty code
}

// build fills h from the code lengths of symbols 0..len(lengths)-1. The code
// must be complete, empty, or a single code of length 1 (RFC 1951 3.2.7
// allows one distance code).
func (h *huffman) build(lengths []uint8) error {
	var count [maxCodeLen + 1]int
	for _, l := range lengths {
		count[l]++
	}
	count[0] = 0
	h.maxLen = 0
	left := 1
	for l := 1; l <= maxCodeLen; l++ {
		left = left<<1 - count[l]
		if left < 0 {
			return errBadCode
		}
		if count[l] > 0 {
			h.maxLen = uint(l)
		}
	}
	h.primary = [primarySize]uint32{}
	h.sub = h.sub[:0]
	if h.maxLen == 0 {
		return nil
	}
	if left > 0 && !(h.maxLen == 1 && count[1] == 1) {
		return errBadCode
	}
	var next [maxCodeLen + 1]int
	code := 0
	for l := 1; l <= maxCodeLen; l++ {
		code = (code + count[l-1]) << 1
		next[l] = code
	}
	var codes [maxLitSyms]uint16
	var subLen [primarySize]uint8
	for sym, l := range lengths {
		if l == 0 {
			continue
		}
		rev := bits.Reverse16(uint16(next[l])) >> (16 - l)
		next[l]++
		codes[sym] = rev
		if l > primaryBits {
			p := rev & (primarySize - 1)
			subLen[p] = max(subLen[p], l-primaryBits)
		}
	}
	h.linkSubTables(&subLen)
	for sym, l := range lengths {
		if l != 0 {
			h.place(uint32(sym), uint(l), uint(codes[sym]))
		}
	}
	return nil
}

// linkSubTables allocates one sub-table per primary slot that starts codes
// longer than primaryBits.
func (h *huffman) linkSubTables(subLen *[primarySize]uint8) {
	off := 0
	for p, w := range subLen {
		if w == 0 {
			continue
		}
		h.primary[p] = uint32(off) | uint32(w)<<16 | linkFlag
		off += 1 << w
	}
	if cap(h.sub) < off {
		h.sub = make([]uint32, off)
	}
	h.sub = h.sub[:off]
	clear(h.sub)
}

// place writes symbol sym, whose bit-reversed code rev is l bits long, into
// every slot whose low bits match it.
func (h *huffman) place(sym uint32, l, rev uint) {
	e := sym | uint32(l)<<16
	if l <= primaryBits {
		for i := rev; i < primarySize; i += 1 << l {
			h.primary[i] = e
		}
		return
	}
	link := h.primary[rev&(primarySize-1)]
	off := uint(link & 0xffff)
	w := uint(link>>16) & 0xff
	for i := rev >> primaryBits; i < 1<<w; i += 1 << (l - primaryBits) {
		h.sub[off+i] = e
	}
}

// lookup returns the entry for the low bits of b (sym in bits 0-15, length
// in bits 16-23; length 0 for no code).
func (h *huffman) lookup(b uint64) uint32 {
	e := h.primary[b&(primarySize-1)]
	if e&linkFlag != 0 {
		w := (e >> 16) & 0xff
		e = h.sub[(e&0xffff)+uint32(b>>primaryBits)&(1<<w-1)]
	}
	return e
}

// Fixed Huffman tables of RFC 1951 3.2.6; all 32 distance codes are given
// length 5 so the code is complete, and 30 and 31 are rejected on use.
var fixedLit, fixedDist = buildFixed()

func buildFixed() (*huffman, *huffman) {
	var l [maxLitSyms]uint8
	for i := range l {
		switch {
		case i < 144:
			l[i] = 8
		case i < 256:
			l[i] = 9
		case i < 280:
			l[i] = 7
		default:
			l[i] = 8
		}
	}
	lit, dist := new(huffman), new(huffman)
	var d [32]uint8
	for i := range d {
		d[i] = 5
	}
	if lit.build(l[:]) != nil || dist.build(d[:]) != nil {
		panic("inflate: fixed tables")
	}
	return lit, dist
}

// Base values and extra bits of length codes 257..285 and distance codes
// 0..29 (RFC 1951 3.2.5).
var (
	lenBase = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
		35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lenExtra = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
		3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase = [30]uint16{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
		257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
		7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
)

// clOrder is the order of code length code lengths in a dynamic header.
var clOrder = [19]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}
