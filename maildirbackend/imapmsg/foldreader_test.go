package imapmsg

import (
	"bytes"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"

	"golang.org/x/text/cases"
	"golang.org/x/text/transform"
)

// TestFoldReader_equalsTransformReader: the pooled reader gives the bytes
// transform.NewReader(src, cases.Fold()) gives, for text of every kind
// (ASCII, multi-byte runes split across buffer ends, ß, final sigma,
// invalid UTF-8), read in one piece or a byte at a time, reused.
func TestFoldReader_equalsTransformReader(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	pieces := []string{"Hello ", "STRASSE ", "straße ", "ΣΟΦΙΑΣ ", "Ünïcödé ", "日本語", "\xff\xfe", "K\u212a ", "\r\n", "ǅ", "ﬃ"}
	for i := range 60 {
		var sb strings.Builder
		n := rng.IntN(3 * foldBufSize)
		for sb.Len() < n {
			sb.WriteString(pieces[rng.IntN(len(pieces))])
		}
		text := sb.String()
		want, err := io.ReadAll(transform.NewReader(strings.NewReader(text), cases.Fold()))
		if err != nil {
			t.Fatal(err)
		}
		var src io.Reader = strings.NewReader(text)
		if i%2 == 1 {
			src = iotest.OneByteReader(src)
		}
		fr := newFoldReader(src)
		got, err := io.ReadAll(iotest.HalfReader(fr))
		putFoldReader(fr)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("case %d (%d bytes): folded text differs at %d", i, len(text), firstDiff(got, want))
		}
	}
}

// TestFoldReader_readError: an error of the source other than EOF is
// returned after the text before it.
func TestFoldReader_readError(t *testing.T) {
	fr := newFoldReader(io.MultiReader(strings.NewReader("ABC"), iotest.ErrReader(io.ErrUnexpectedEOF)))
	defer putFoldReader(fr)
	got, err := io.ReadAll(fr)
	if string(got) != "abc" || err != io.ErrUnexpectedEOF {
		t.Fatalf("got %q, %v", got, err)
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
