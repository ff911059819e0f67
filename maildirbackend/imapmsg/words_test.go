package imapmsg

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"golang.org/x/text/cases"
	"golang.org/x/text/transform"
)

// wordPieces are the bits random texts are made of: ASCII, folding that
// changes lengths (ß, ẞ, the ligature ﬁ), Turkish dotted and dotless i,
// combining marks, Greek final sigma, CJK without spaces, non-ASCII white
// space and punctuation (NBSP, em dash, ideographic full stop), symbols
// (emoji, €), a soft hyphen, and invalid UTF-8 (a lone continuation
// byte, a truncated sequence, 0xff).
var wordPieces = []string{
	"invoice", "Invoice", "INVOICE", "voic", "in", "e", " ", "\r\n", "\t", ".", "-", "=", "x=y", "_",
	"straße", "STRASSE", "ẞ", "ß", "ﬁle", "İstanbul", "ı", "i\u0307", "e\u0301", "\u0301", "ΣΟΦΙΑΣ", "σοφίας",
	"日本語", "。", "\u00a0", "\u2014", "\u3000", "😀", "€", "\u00ad", "\x80", "\xe2\x82", "\xff", "café", "12345",
}

func randomText(rng *rand.Rand, n int) string {
	var sb strings.Builder
	for range n {
		sb.WriteString(wordPieces[rng.IntN(len(wordPieces))])
	}
	return sb.String()
}

type splitResult struct {
	words []string
	cuts  int
}

func splitAll(pieces [][]byte) splitResult {
	var r splitResult
	ws := newWordSplitter(func(w []byte) { r.words = append(r.words, string(w)) }, func() { r.cuts++ })
	for _, p := range pieces {
		ws.write(p)
	}
	ws.close()
	return r
}

// TestWordSplitter_chunks: a text fed in random pieces (runes split
// between them) gives the words of the text fed at once, which are its
// maximal runs of non-separator runes.
func TestWordSplitter_chunks(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		text := []byte(streamFold(randomText(rng, 1+rng.IntN(40))))
		if rng.IntN(10) == 0 {
			text = append(text, bytes.Repeat([]byte("ab"), MaxWord/2+rng.IntN(4))...) // a cut word, maybe
		}
		whole := splitAll([][]byte{text})
		var pieces [][]byte
		for rest := text; len(rest) > 0; {
			n := 1 + rng.IntN(min(len(rest), 7))
			pieces = append(pieces, rest[:n])
			rest = rest[n:]
		}
		if got := splitAll(pieces); !slices.Equal(got.words, whole.words) || got.cuts != whole.cuts {
			t.Fatalf("%q: in pieces %q (%d cut), at once %q (%d cut)", text, got.words, got.cuts, whole.words, whole.cuts)
		}
		// The reference: decode into runes, split at separators.
		var want []string
		cuts := 0
		for _, w := range strings.FieldsFunc(string(text), func(r rune) bool { return IsSeparator(r) && r != '\uFFFD' }) {
			if len(w) > MaxWord {
				cuts++
				continue
			}
			want = append(want, w)
		}
		if !validOrNoFFFD(text) {
			continue // FieldsFunc cannot tell U+FFFD from an invalid byte; both are word runes anyway
		}
		if !slices.Equal(whole.words, want) || whole.cuts != cuts {
			t.Fatalf("%q: words %q (%d cut), want %q (%d cut)", text, whole.words, whole.cuts, want, cuts)
		}
	}
}

func validOrNoFFFD(b []byte) bool { return !bytes.Contains(b, []byte("\uFFFD")) }

// streamFold folds text as the body's fold reader does (invalid bytes
// pass through).
func streamFold(s string) string {
	b, _, err := transform.Bytes(cases.Fold(), []byte(s))
	if err != nil {
		panic(err)
	}
	return string(b)
}

// TestKeyWord_exact: for random folded texts (folding edge cases, invalid
// UTF-8) and keys without separators, the key occurs in the text exactly
// when it occurs in one of the text's words, the property a word
// dictionary relies on; keys with separators are refused.
func TestKeyWord_exact(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	checked, found := 0, 0
	for range 3000 {
		text := streamFold(randomText(rng, 1+rng.IntN(30)))
		words := splitAll([][]byte{[]byte(text)}).words
		for range 5 {
			// A key cut out of the text (any bytes, often mid-rune), or a piece.
			var value string
			if rng.IntN(2) == 0 && len(text) > 0 {
				a := rng.IntN(len(text))
				value = text[a : a+1+rng.IntN(min(len(text)-a, 12))]
			} else {
				value = wordPieces[rng.IntN(len(wordPieces))]
			}
			k, ok := KeyWord(value)
			if !ok {
				continue
			}
			checked++
			in := strings.Contains(text, k)
			inWord := slices.ContainsFunc(words, func(w string) bool { return strings.Contains(w, k) })
			if in != inWord {
				t.Fatalf("text %q, key %q (folded %q): in text %v, in a word %v (words %q)", text, value, k, in, inWord, words)
			}
			if in {
				found++
			}
		}
	}
	if checked < 1000 || found < 300 {
		t.Fatalf("only %d keys checked, %d found: the test proves little", checked, found)
	}
}

func TestKeyWord_cases(t *testing.T) {
	tests := []struct {
		name, value, folded string
		ok                  bool
	}{
		{"ascii word", "Invoice", "invoice", true},
		{"sharp s folds to ss", "Straße", "strasse", true},
		{"capital sharp s", "ẞ", "ss", true},
		{"ligature", "ﬁle", "file", true},
		{"dotted capital I leaves a combining mark", "İ", "i\u0307", true},
		{"dotless i", "ı", "ı", true},
		{"combining acute", "e\u0301", "e\u0301", true},
		{"final sigma", "ΣΟΦΙΑΣ", "σοφιασ", true},
		{"cjk", "日本語", "日本語", true},
		{"two words", "invoice number", "invoice number", false},
		{"hyphen", "soft-line", "soft-line", false},
		{"no-break space", "a\u00a0b", "a\u00a0b", false},
		{"em dash", "a\u2014b", "a\u2014b", false},
		{"emoji is a symbol", "😀", "😀", false},
		{"empty", "", "", false},
		{"invalid utf-8 is lowered, each bad byte to U+FFFD, a symbol", "caf\xe9", "caf\uFFFD", false},
		{"replacement character", "a\uFFFDb", "a\uFFFDb", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, ok := KeyWord(tt.value)
			if k != tt.folded || ok != tt.ok {
				t.Fatalf("KeyWord(%q) = %q, %v; want %q, %v", tt.value, k, ok, tt.folded, tt.ok)
			}
		})
	}
}

// TestTerms_wordsAnswerLikeMatchAll: on messages in several charsets and
// transfer encodings, with a word only in a cut long token, the words
// Terms reports answer every key without separators as MatchAll does
// (BODY from body words, TEXT from body or header words), unless a word
// was cut, and a cut is reported for the long token.
func TestTerms_wordsAnswerLikeMatchAll(t *testing.T) {
	long := strings.Repeat("xy", MaxWord) + "hiddenword"
	msgs := map[string]string{
		"plain":      "Subject: =?UTF-8?B?SW52b2ljZSBTdHJhw59l?=\r\nFrom: İnci <i@example.org>\r\n\r\nThe invoice\u00a0for café—naïve, ﬁle ẞ ı\r\n",
		"latin1 qp":  "Subject: hi\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nStra=DFe caf=E9 INVOICE=\r\nS soft\r\n",
		"base64":     "Subject: b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nSU5WT0lDRSDDn8OfIGludm9pY2VzCg==\r\n",
		"bad utf-8":  "Subject: c\r\nContent-Type: text/plain; charset=utf-8\r\n\r\ncaf\xe9 in\xffvoice invoice\r\n",
		"multipart":  "Subject: m\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\nX-Part: partheader\r\n\r\nfirst part\r\n--b\r\nContent-Type: text/plain\r\n\r\nsecond voice\r\n--b--\r\n",
		"long token": "Subject: l\r\n\r\n" + long + " plain\r\n",
	}
	keys := []string{"invoice", "INVOICE", "voic", "invoices", "ss", "straße", "strasse", "café", "caf", "naïve", "file", "ﬁ",
		"ı", "i\u0307", "İnci", "subject", "partheader", "part", "firstpart", "voice", "hiddenword", "xy", "plain", "e", "in", "example"}
	for name, raw := range msgs {
		t.Run(name, func(t *testing.T) {
			src := strings.NewReader(raw)
			p, err := Parse(strings.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			words := [2]map[string]bool{{}, {}}
			cut := false
			err = p.Terms(src, TermSink{
				Word: func(header bool, w []byte) {
					if header {
						words[1][string(w)] = true
					} else {
						words[0][string(w)] = true
					}
				},
				Cut: func() { cut = true },
			})
			if err != nil {
				t.Fatal(err)
			}
			if cut != (name == "long token") {
				t.Fatalf("cut %v", cut)
			}
			in := func(kind int, k string) bool {
				for w := range words[kind] {
					if strings.Contains(w, k) {
						return true
					}
				}
				return false
			}
			body, text, err := p.MatchAll(src, keys, keys)
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range keys {
				k, ok := KeyWord(v)
				if !ok {
					t.Fatalf("key %q has a separator", v)
				}
				b := in(0, k)
				tx := b || in(1, k)
				if !cut && (b != body[i] || tx != text[i]) || cut && (b && !body[i] || tx && !text[i]) {
					t.Errorf("key %q: words say BODY %v TEXT %v, MatchAll %v %v", v, b, tx, body[i], text[i])
				}
				if cut && v == "hiddenword" && (b || !body[i]) {
					t.Errorf("hiddenword: in a word %v, MatchAll %v: want only MatchAll", b, body[i])
				}
			}
		})
	}
}
