package imapmsg

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Keys are the BODY and TEXT keys of a SEARCH program to answer for one
// message.
type Keys struct {
	Body, Text []string
	// Decided, when not nil, is called after the first hit of a key while
	// other keys have none yet, with the hits so far (body keys, text
	// keys); when it returns true the read stops: the program's answer no
	// longer depends on the keys without a hit, which are reported as
	// not found.
	Decided func(bodyHit, textHit []bool) bool
}

// wholeSize is the largest message [MatchMessage] reads into memory
// whole. Most mail is smaller; a larger message is usually large for its
// attachments, which a second look (at its text parts only) skips.
const wholeSize = 256 << 10

// wholeBufs recycles MatchMessage's buffers: with one search worker per
// core, a few of them exist at a time.
var wholeBufs = sync.Pool{New: func() any { b := make([]byte, wholeSize); return &b }}

// MatchMessage answers k for the message in src as [Parsed.MatchAll]
// does, for a message not parsed yet (p nil) or parsed before (p is its
// parse, from a cache; then only its text parts are read).
//
// Without p, a message of at most 256 KiB is read once, into a pooled
// buffer, and its MIME structure and text are both taken from there; a
// larger one is parsed from the stream (one read) and then only its text
// parts are read again. So memory stays bounded whatever the size, and
// no ENVELOPE or BODYSTRUCTURE is built: a SEARCH needs neither.
func MatchMessage(src io.ReaderAt, p *Parsed, k Keys) (bodyHit, textHit []bool, err error) {
	if p != nil {
		return matchTree(src, p.root, k)
	}
	bp := wholeBufs.Get().(*[]byte)
	defer wholeBufs.Put(bp)
	buf := *bp
	n, err := src.ReadAt(buf, 0)
	switch {
	case errors.Is(err, io.EOF):
		whole := bytes.NewReader(buf[:n])
		root, err := parseTree(whole)
		if err != nil {
			return nil, nil, err
		}
		return matchTree(whole, root, k)
	case err != nil:
		return nil, nil, fmt.Errorf("imapmsg: reading message: %w", err)
	}
	// Larger than the buffer: the structure from what was read and the
	// rest of the stream.
	rest := io.NewSectionReader(src, int64(n), 1<<62)
	root, err := parseTree(io.MultiReader(bytes.NewReader(buf[:n]), rest))
	if err != nil {
		return nil, nil, err
	}
	return matchTree(src, root, k)
}
