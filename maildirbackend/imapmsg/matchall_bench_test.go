package imapmsg_test

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/imapmsg"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
)

// BenchmarkMatchAll_common answers SEARCH BODY of a word that most of 200
// messages of maildirtest.SearchMessage contain (charsets, QP/base64,
// multipart, embedded messages), parsed beforehand, as a search verifies
// the index's candidates: one op is the 200 messages.
func BenchmarkMatchAll_common(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 5))
	msgs := make([][]byte, 200)
	parsed := make([]*imapmsg.Parsed, len(msgs))
	size := 0
	for i := range msgs {
		msgs[i] = []byte(maildirtest.SearchMessage(rng, i))
		p, err := imapmsg.Parse(bytes.NewReader(msgs[i]))
		if err != nil {
			b.Fatal(err)
		}
		parsed[i] = p
		size += len(msgs[i])
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		for i, p := range parsed {
			if _, _, err := p.MatchAll(bytes.NewReader(msgs[i]), []string{"apple"}, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
}
