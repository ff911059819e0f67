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
	return p.Terms(src, TermSink{Trigram: add})
}

// TermSink receives what [Parsed.Terms] finds; a nil function is not
// called.
type TermSink struct {
	Trigram func(header bool, tri uint32)
	// Word is called with each word ([IsSeparator]) of MaxWord bytes or
	// fewer, as many times as it occurs; w is valid only during the call.
	Word func(header bool, w []byte)
	// Cut is called for each word over MaxWord bytes.
	Cut func()
}

// Terms reads the text that SEARCH BODY and TEXT look in once and reports
// its trigrams (as [Parsed.Trigrams]) and its words to sink: the same
// decoded, case-folded bytes the matcher compares, split at separators
// ([IsSeparator]), header fields apart from body text, a word never
// spanning two header fields or text parts.
func (p *Parsed) Terms(src io.ReaderAt, sink TermSink) error {
	bp := chunks.Get().(*[]byte)
	defer chunks.Put(bp)
	buf := *bp
	tri := sink.Trigram
	if tri == nil {
		tri = func(bool, uint32) {}
	}
	var ws *wordSplitter
	head := func(bool) {}
	if sink.Word != nil {
		cut := sink.Cut
		if cut == nil {
			cut = func() {}
		}
		header := false
		ws = newWordSplitter(func(w []byte) { sink.Word(header, w) }, cut)
		head = func(h bool) { header = h }
	}
	_, err := walkText(src, p.root, true, func(s segment) (bool, error) {
		head(s.header)
		if s.header {
			stringTrigrams(s.text, func(t uint32) { tri(true, t) })
			if ws != nil {
				ws.write([]byte(s.text))
				ws.close()
			}
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
				tri(false, t)
			}
			if ws != nil {
				ws.write(buf[:n])
			}
			if err == io.EOF {
				if ws != nil {
					ws.close()
				}
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
