package imapmsg

import (
	"fmt"
	"io"
	"slices"
)

// Trigrams calls add with every byte trigram of the text that SEARCH BODY
// and TEXT look in (see [Parsed.MatchAll]): header is false for the
// decoded body text, true for the decoded header fields. The text is the
// same byte stream the matcher searches, so a key that matches a segment
// has each of its [KeyTrigrams] among that segment's trigrams: a
// full-text index built from them never misses a message. A trigram may be
// reported more than once. A trigram packs three bytes, the first in bits
// 16-23.
func (p *Parsed) Trigrams(src io.ReaderAt, add func(header bool, tri uint32)) error {
	bp := chunks.Get().(*[]byte)
	defer chunks.Put(bp)
	buf := *bp
	_, err := walkText(src, p.root, true, func(s segment) (bool, error) {
		if s.header {
			stringTrigrams(s.text, func(t uint32) { add(true, t) })
			return false, nil
		}
		var t uint32
		seen := 0 // bytes of the segment so far, up to 2
		for {
			n, err := s.r.Read(buf)
			for _, c := range buf[:n] {
				t = (t<<8 | uint32(c)) & 0xFFFFFF
				if seen < 2 {
					seen++
					continue
				}
				add(false, t)
			}
			if err == io.EOF {
				return false, nil
			}
			if err != nil {
				return false, fmt.Errorf("imapmsg: reading message: %w", err)
			}
		}
	})
	return err
}

// stringTrigrams calls add with each byte trigram of s.
func stringTrigrams(s string, add func(uint32)) {
	for i := 0; i+3 <= len(s); i++ {
		add(uint32(s[i])<<16 | uint32(s[i+1])<<8 | uint32(s[i+2]))
	}
}

// KeyTrigrams returns the distinct byte trigrams of a SEARCH BODY or TEXT
// key as the matcher compares it (case-folded), ascending; nil when the
// folded key is shorter than three bytes (a trigram index cannot narrow
// it).
func KeyTrigrams(value string) []uint32 {
	var out []uint32
	stringTrigrams(fold(value), func(t uint32) { out = append(out, t) })
	slices.Sort(out)
	return slices.Compact(out)
}
