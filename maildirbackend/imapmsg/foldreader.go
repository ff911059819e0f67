package imapmsg

import (
	"errors"
	"io"
	"sync"

	"golang.org/x/text/cases"
	"golang.org/x/text/transform"
)

// foldBufSize is the size of each of a foldReader's two buffers; a
// folded rune is at most a few bytes, so any buffer above that size
// makes progress.
const foldBufSize = 4096

// foldReader is transform.NewReader(src, t) with buffers that are
// reused, for the case folding (cases.Fold) and the charset decoding of
// text parts: a search reads every text part of every message it checks,
// and new transform.Readers (two 4 KiB buffers each) per part were three
// quarters of the bytes a verification allocated.
type foldReader struct {
	src      io.Reader
	t        transform.Transformer
	fold     cases.Caser // t when folding
	in, out  []byte
	inLo     int // in[inLo:inHi] is read and not yet folded
	inHi     int
	outLo    int // out[outLo:outHi] is folded and not yet returned
	outHi    int
	readErr  error // src's error (io.EOF at its end)
	finalErr error // returned once out is drained
}

var foldReaders = sync.Pool{New: func() any {
	return &foldReader{fold: cases.Fold(), in: make([]byte, foldBufSize), out: make([]byte, foldBufSize)}
}}

// newFoldReader returns a pooled reader of src's text case-folded; give
// it back with putFoldReader once it is no longer read.
func newFoldReader(src io.Reader) *foldReader {
	fr := foldReaders.Get().(*foldReader)
	return fr.reset(src, &fr.fold)
}

// newTransformReader is newFoldReader with another transformer (a
// charset's decoder).
func newTransformReader(src io.Reader, t transform.Transformer) *foldReader {
	return foldReaders.Get().(*foldReader).reset(src, t)
}

func (fr *foldReader) reset(src io.Reader, t transform.Transformer) *foldReader {
	fr.src, fr.t = src, t
	t.Reset()
	fr.inLo, fr.inHi, fr.outLo, fr.outHi = 0, 0, 0, 0
	fr.readErr, fr.finalErr = nil, nil
	return fr
}

func putFoldReader(fr *foldReader) {
	fr.src, fr.t = nil, nil
	foldReaders.Put(fr)
}

// Read implements io.Reader as transform.Reader does.
func (fr *foldReader) Read(p []byte) (int, error) {
	for {
		if fr.outLo < fr.outHi {
			n := copy(p, fr.out[fr.outLo:fr.outHi])
			fr.outLo += n
			return n, nil
		}
		if fr.finalErr != nil {
			return 0, fr.finalErr
		}
		if fr.readErr == nil && fr.inHi < len(fr.in) {
			n, err := fr.src.Read(fr.in[fr.inHi:])
			fr.inHi += n
			fr.readErr = err
		}
		atEOF := fr.readErr != nil
		nDst, nSrc, err := fr.t.Transform(fr.out, fr.in[fr.inLo:fr.inHi], atEOF)
		fr.outLo, fr.outHi = 0, nDst
		fr.inLo += nSrc
		// Move what is left to the front, so that the next read has room.
		fr.inHi = copy(fr.in, fr.in[fr.inLo:fr.inHi])
		fr.inLo = 0
		switch {
		case err == nil:
			if atEOF && fr.inHi == 0 {
				fr.finalErr = fr.readErr
			}
		case errors.Is(err, transform.ErrShortDst):
			// out is full: drain it first.
		case errors.Is(err, transform.ErrShortSrc):
			if atEOF || fr.inHi == len(fr.in) {
				// Cannot happen with fold's short runes; fail rather than spin.
				fr.finalErr = cmpErr(fr.readErr, err)
			}
		default:
			fr.finalErr = err
		}
	}
}

// cmpErr returns a if it is an error other than io.EOF, else b.
func cmpErr(a, b error) error {
	if a != nil && a != io.EOF {
		return a
	}
	return b
}
