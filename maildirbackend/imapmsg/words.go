package imapmsg

import (
	"unicode"
	"unicode/utf8"
)

// MaxWord is the longest word, in bytes, that [Parsed.Terms] reports; a
// longer run of word characters is cut: it is not reported and [TermSink]'s
// Cut is called, so that an index marks the message as not fully recorded.
const MaxWord = 256

// IsSeparator reports whether rune r separates words in the folded text
// SEARCH BODY and TEXT look in: white space (Unicode White_Space),
// punctuation (P*), symbols (S*) and control characters (Cc). Every other
// rune is a word character: letters, digits and other numbers, combining
// marks (the U+0307 that folding İ leaves after "i" joins its word),
// format characters (a soft hyphen joins the halves it sits between), and
// the bytes of invalid UTF-8, each of which decodes as one
// utf8.RuneError of width 1 and is a word character too.
//
// Words are found in the text after case folding, the very bytes the
// matcher compares: folding that changes a length (ß to "ss") or
// produces a combining mark happens before the text is split, and a key
// is folded the same way before [KeyWord] checks it. A folded key without
// separators occurs in a folded text exactly when it occurs inside one of
// the text's words: a valid UTF-8 key found at some byte of the text
// starts a rune there (its first byte is not a continuation byte, so no
// multi-byte sequence decoded before it reaches into it, and an invalid
// byte decodes alone), its runes decode as themselves, and none of them
// separates.
func IsSeparator(r rune) bool {
	if r < utf8.RuneSelf {
		return asciiSep[r]
	}
	return unicode.IsSpace(r) || unicode.In(r, unicode.P, unicode.S, unicode.Cc)
}

// asciiSep is IsSeparator for ASCII: everything but letters and digits.
var asciiSep = func() (t [utf8.RuneSelf]bool) {
	for c := range t {
		r := rune(c)
		t[c] = !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}
	return t
}()

// KeyWord returns a SEARCH BODY or TEXT key as the matcher compares it
// (case-folded), and whether a word index can answer it exactly: it is
// valid UTF-8, not empty, and none of its runes is a separator
// ([IsSeparator]). Such a key occurs in a message's text exactly when it
// is a substring of one of the words [Parsed.Terms] reports for the
// message, provided no word of the message was cut.
func KeyWord(value string) (string, bool) {
	k := fold(value)
	if k == "" || !utf8.ValidString(k) {
		return k, false
	}
	for _, r := range k {
		if IsSeparator(r) {
			return k, false
		}
	}
	return k, true
}

// wordSplitter splits a stream of folded text, fed in pieces, into words:
// maximal runs of runes that are not separators, decoded exactly as if
// the stream were decoded in one piece (a rune split between two pieces
// waits for the next one).
type wordSplitter struct {
	word    []byte // the current word so far (up to MaxWord bytes)
	long    bool   // the current word is over MaxWord bytes
	pending []byte // the start of a rune the next piece completes
	emit    func(w []byte)
	cut     func()
}

func newWordSplitter(emit func([]byte), cut func()) *wordSplitter {
	return &wordSplitter{word: make([]byte, 0, MaxWord), emit: emit, cut: cut}
}

// write feeds the next piece of the stream.
func (ws *wordSplitter) write(b []byte) {
	if np := len(ws.pending); np > 0 {
		// Decode the runes that start in pending, with what b adds:
		// at most 5 bytes of it are needed, as pending holds at most 3.
		var buf [2 * utf8.UTFMax]byte
		n := copy(buf[:], ws.pending)
		n += copy(buf[n:], b)
		tmp := buf[:n]
		i := 0
		for i < np {
			if !utf8.FullRune(tmp[i:]) {
				// Then all of b is in tmp, and still no whole rune.
				ws.pending = append(ws.pending[:0], tmp[i:]...)
				return
			}
			i += ws.rune(tmp[i:])
		}
		ws.pending = ws.pending[:0]
		b = b[i-np:]
	}
	for i := 0; i < len(b); {
		if c := b[i]; c < utf8.RuneSelf && !asciiSep[c] {
			// A run of ASCII word characters, the common case.
			j := i + 1
			for j < len(b) && b[j] < utf8.RuneSelf && !asciiSep[b[j]] {
				j++
			}
			ws.add(b[i:j])
			i = j
			continue
		}
		if b[i] >= utf8.RuneSelf && !utf8.FullRune(b[i:]) {
			ws.pending = append(ws.pending[:0], b[i:]...)
			return
		}
		i += ws.rune(b[i:])
	}
}

// rune takes the rune at the start of b (which holds a whole one, or an
// invalid byte) and returns its size.
func (ws *wordSplitter) rune(b []byte) int {
	if c := b[0]; c < utf8.RuneSelf {
		if asciiSep[c] {
			ws.end()
		} else {
			ws.add(b[:1])
		}
		return 1
	}
	r, size := utf8.DecodeRune(b)
	if size == 1 || !IsSeparator(r) {
		ws.add(b[:size])
	} else {
		ws.end()
	}
	return size
}

func (ws *wordSplitter) add(p []byte) {
	if ws.long {
		return
	}
	if len(ws.word)+len(p) > MaxWord {
		ws.long = true
		return
	}
	ws.word = append(ws.word, p...)
}

// end ends the current word, if any.
func (ws *wordSplitter) end() {
	switch {
	case ws.long:
		ws.cut()
	case len(ws.word) > 0:
		ws.emit(ws.word)
	}
	ws.word, ws.long = ws.word[:0], false
}

// close ends the stream: pending bytes that never became a rune are
// invalid bytes, word characters each.
func (ws *wordSplitter) close() {
	for i := 0; i < len(ws.pending); {
		i += ws.rune(ws.pending[i:])
	}
	ws.pending = ws.pending[:0]
	ws.end()
}
