package inflate

import (
	"errors"
	"io"
)

const (
	winSize    = 1 << 15
	winMask    = winSize - 1
	maxLitSyms = 288
	maxLens    = 286 + 30
)

// ErrCorrupt is wrapped by the errors returned for invalid input.
var ErrCorrupt = errors.New("inflate: corrupt input")

// Source is what Reader decodes from; a *bufio.Reader is one. Buffered
// tells how many bytes can be read without blocking; Read must not block
// while it is above zero.
type Source interface {
	io.ByteReader
	io.Reader
	Buffered() int
}

// Decoder states; each is a point where decoding can stop and resume.
type state uint8

const (
	stHeader   state = iota // block header (BFINAL, BTYPE)
	stStoredHd              // LEN and NLEN of a stored block
	stStored                // stored bytes
	stDynHd                 // HLIT, HDIST, HCLEN
	stCLens                 // code length code lengths
	stLens                  // literal/length and distance code lengths
	stSym                   // literal/length symbol
	stDist                  // distance symbol of a pending length
	stCopy                  // pending back-reference copy
	stDone                  // final block ended
)

// Reader decodes a raw DEFLATE stream. Its Read returns decoded bytes as
// soon as it has some and its source has nothing buffered.
type Reader struct {
	src Source
	err error

	bits  uint64 // bit buffer, next bit lowest
	nbits uint

	st      state
	final   bool
	stored  int // bytes left in a stored block
	copyLen int
	dist    int

	// Dynamic header in progress.
	nlit, ndist, nclen, idx int
	lens                    [maxLens]uint8

	lit, dst        *huffman
	dynLit, dynDist huffman
	clTable         huffman

	win    [winSize]byte
	wpos   int // next write position in win
	unread int // decoded bytes not yet returned, ending at wpos
	hist   int // bytes written so far, at most winSize
}

// NewReader returns a Reader decoding from r.
func NewReader(r Source) *Reader { return &Reader{src: r} }

// Read reads decoded bytes into p. It blocks on the source only when it
// has no decoded byte to return. The end of the final block gives io.EOF.
func (r *Reader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for r.unread == 0 {
		if r.err != nil {
			return 0, r.err
		}
		r.decode(len(p))
	}
	return r.copyOut(p), nil
}

// copyOut moves the oldest unread bytes into p.
func (r *Reader) copyOut(p []byte) int {
	n := min(len(p), r.unread)
	start := (r.wpos - r.unread) & winMask
	k := copy(p[:n], r.win[start:])
	copy(p[k:n], r.win[:])
	r.unread -= n
	return n
}

// decode runs the state machine until want bytes are unread, the window is
// full of unread bytes, the source would block with bytes to return, an
// error occurs or the stream ends.
func (r *Reader) decode(want int) {
	want = min(want, winSize)
	for r.unread < want && r.err == nil {
		var ok bool
		switch r.st {
		case stHeader:
			ok = r.header()
		case stStoredHd:
			ok = r.storedHeader()
		case stStored:
			ok = r.storedData(want)
		case stDynHd:
			ok = r.dynHeader()
		case stCLens:
			ok = r.codeLenLens()
		case stLens:
			ok = r.codeLens()
		case stSym:
			ok = r.symbols(want)
		case stDist:
			ok = r.distance()
		case stCopy:
			ok = r.copyMatch(want)
		case stDone:
			r.err = io.EOF
		}
		if !ok {
			return
		}
	}
}

// more adds one source byte to the bit buffer. It reports false, without
// reading, when that could block while decoded bytes wait to be returned,
// and false with r.err set when the source fails.
func (r *Reader) more() bool {
	if r.unread > 0 && r.src.Buffered() == 0 {
		return false
	}
	b, err := r.src.ReadByte()
	if err != nil {
		r.fail(err)
		return false
	}
	r.bits |= uint64(b) << r.nbits
	r.nbits += 8
	return true
}

// fail records a source error; the end of input inside the stream is
// io.ErrUnexpectedEOF.
func (r *Reader) fail(err error) {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	r.err = err
}

// corrupt records an input error.
func (r *Reader) corrupt(what string) bool {
	r.err = errors.Join(ErrCorrupt, errors.New(what))
	return false
}

// ensure makes n bits available.
func (r *Reader) ensure(n uint) bool {
	for r.nbits < n {
		if !r.more() {
			return false
		}
	}
	return true
}

// topUp fills the bit buffer with what the source has buffered, without
// blocking (a Source's Read must not block when Buffered() > 0).
func (r *Reader) topUp() {
	k := min(int(64-r.nbits)/8, r.src.Buffered())
	if k <= 0 {
		return
	}
	var tmp [8]byte
	n, _ := r.src.Read(tmp[:k])
	for _, b := range tmp[:n] {
		r.bits |= uint64(b) << r.nbits
		r.nbits += 8
	}
}

// take consumes n bits and returns them.
func (r *Reader) take(n uint) uint64 {
	v := r.bits & (1<<n - 1)
	r.bits >>= n
	r.nbits -= n
	return v
}

// peekSym finds the next symbol of h without consuming it.
func (r *Reader) peekSym(h *huffman) (sym int, n uint, ok bool) {
	for {
		e := h.lookup(r.bits)
		n = uint(e>>16) & 0xff
		if n != 0 && n <= r.nbits {
			return int(e & 0xffff), n, true
		}
		if n == 0 && r.nbits >= h.maxLen {
			return 0, 0, r.corrupt("invalid Huffman code")
		}
		if !r.more() {
			return 0, 0, false
		}
	}
}

func (r *Reader) header() bool {
	if !r.ensure(3) {
		return false
	}
	r.final = r.take(1) == 1
	switch r.take(2) {
	case 0:
		r.take(r.nbits % 8)
		r.st = stStoredHd
	case 1:
		r.lit, r.dst = fixedLit, fixedDist
		r.st = stSym
	case 2:
		r.st = stDynHd
	default:
		return r.corrupt("invalid block type")
	}
	return true
}

// endBlock moves past the end of a block.
func (r *Reader) endBlock() {
	if r.final {
		r.st = stDone
	} else {
		r.st = stHeader
	}
}

func (r *Reader) storedHeader() bool {
	if !r.ensure(32) {
		return false
	}
	n := r.take(16)
	if r.take(16) != n^0xffff {
		return r.corrupt("stored block length mismatch")
	}
	r.stored = int(n)
	r.st = stStored
	return true
}

// storedData copies stored bytes: first whole bytes left in the bit
// buffer, then straight from the source.
func (r *Reader) storedData(want int) bool {
	for zero := 0; r.stored > 0; {
		if r.unread >= want {
			return true
		}
		if r.nbits >= 8 {
			r.put(byte(r.take(8)))
			r.stored--
			continue
		}
		k := min(r.stored, winSize-r.unread, winSize-r.wpos)
		if r.unread > 0 {
			k = min(k, r.src.Buffered())
			if k == 0 {
				return false
			}
		}
		n, err := r.src.Read(r.win[r.wpos : r.wpos+k])
		r.advance(n)
		r.stored -= n
		if n == 0 {
			if err != nil {
				r.fail(err)
				return false
			}
			if zero++; zero > 100 {
				r.err = io.ErrNoProgress
				return false
			}
		}
	}
	r.endBlock()
	return true
}

// put appends one decoded byte to the window.
func (r *Reader) put(b byte) {
	r.win[r.wpos] = b
	r.advance(1)
}

// advance accounts for n bytes written at wpos.
func (r *Reader) advance(n int) {
	r.wpos = (r.wpos + n) & winMask
	r.unread += n
	r.hist = min(r.hist+n, winSize)
}
