package maildirbackend

import (
	"io"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/imapmsg"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/fts"
)

// ftsMaxDocWords bounds the distinct words recorded of one message
// (of its body and of its headers, each): a message with more is
// flagged partial and verified by reading, so the memory an indexer
// holds for one message stays bounded whatever its size.
const ftsMaxDocWords = 1 << 14

// ftsDoc reads the text of message p (parsed from src) once and returns
// what the full-text index records of it: its trigrams, its distinct
// words, and whether any word was left out.
func ftsDoc(p *imapmsg.Parsed, src io.ReaderAt) (fts.Doc, error) {
	// A bitmap bounds the distinct terms (2^25) whatever the message's
	// size.
	terms := roaring.New()
	var d fts.Doc
	seen := [2]map[string]struct{}{{}, {}}
	err := p.Terms(src, imapmsg.TermSink{
		Trigram: func(header bool, t uint32) {
			if header {
				t |= fts.HeaderBit
			}
			terms.Add(t)
		},
		Word: func(header bool, w []byte) {
			kind := 0
			if header {
				kind = 1
			}
			if _, ok := seen[kind][string(w)]; ok {
				return
			}
			if len(seen[kind]) >= ftsMaxDocWords {
				d.Partial = true
				return
			}
			s := string(w)
			seen[kind][s] = struct{}{}
			if header {
				d.Header = append(d.Header, s)
			} else {
				d.Body = append(d.Body, s)
			}
		},
		Cut: func() { d.Partial = true },
	})
	if err != nil {
		return fts.Doc{}, err
	}
	d.Terms = terms.ToArray()
	return d, nil
}
