package maildirbackend

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/imapmsg"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/fts"
)

// BenchmarkFTSDoc is the indexer's CPU per message: reading a parsed
// message's text for its trigrams alone (the index before the word
// dictionaries) and for its trigrams and words (ftsDoc), over messages
// of about 4 KB of text (a plain part, a quoted-printable Latin-1 part,
// HTML) with a vocabulary of 2,000 words.
func BenchmarkFTSDoc(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	vocab := make([]string, 2000)
	for i := range vocab {
		vocab[i] = fmt.Sprintf("w%xord%d", rng.Uint32()%4096, i)
	}
	text := func(n int) string {
		w := make([]string, n)
		for i := range w {
			w[i] = vocab[rng.IntN(len(vocab))]
		}
		return strings.Join(w, " ")
	}
	var msgs [][]byte
	var parsed []*imapmsg.Parsed
	for i := range 64 {
		m := fmt.Sprintf("From: Sender %d <s%d@example.org>\r\nSubject: %s\r\nMessage-ID: <%d@example.org>\r\n"+
			"Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n"+
			"--b\r\nContent-Type: text/html; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<p>%s caf=E9</p>\r\n--b--\r\n",
			i, i, text(5), i, text(250), text(200))
		p, err := imapmsg.Parse(strings.NewReader(m))
		if err != nil {
			b.Fatal(err)
		}
		msgs, parsed = append(msgs, []byte(m)), append(parsed, p)
	}
	b.Run("trigrams", func(b *testing.B) {
		for i := range b.N {
			terms := roaring.New()
			err := parsed[i%64].Trigrams(bytes.NewReader(msgs[i%64]), func(header bool, t uint32) {
				if header {
					t |= fts.HeaderBit
				}
				terms.Add(t)
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("trigrams+words", func(b *testing.B) {
		for i := range b.N {
			if _, err := ftsDoc(parsed[i%64], bytes.NewReader(msgs[i%64])); err != nil {
				b.Fatal(err)
			}
		}
	})
}
