package maildirtest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"mime"
	"mime/quotedprintable"
	"strings"

	"github.com/emersion/go-imap/v2"
	"golang.org/x/text/encoding/charmap"
)

// searchWords are the words of SearchMessage's texts: ASCII, Latin-1,
// Greek, Cyrillic, CJK, and case pairs that folding joins (STRASSE,
// straße).
var searchWords = []string{
	"apple", "Banana", "cherry", "meeting", "invoice", "Grüße", "STRASSE", "straße", "café", "naïve",
	"Ünïcödé", "ÉCOLE", "δέλτα", "ΣΟΦΙΑ", "кошка", "日本語", "soft-line", "x=y", "tab\tbed", "zebra",
}

// latin1Words are the words Latin-1 and windows-1252 can write.
var latin1Words = []string{"apple", "Banana", "cherry", "Grüße", "STRASSE", "café", "naïve", "ÉCOLE", "zebra", "x=y"}

// SearchMessage returns a random message for SEARCH BODY and TEXT tests:
// one of plain UTF-8, quoted-printable Latin-1, base64 UTF-8, windows-1252
// 8bit, multipart/alternative with HTML, multipart/mixed with a binary
// attachment (whose words BODY must not find), or an embedded
// message/rfc822, with encoded words in Subject and a word in X-Note.
func SearchMessage(rng *rand.Rand, i int) string {
	var sb strings.Builder
	subj := words(rng, searchWords, 2)
	fmt.Fprintf(&sb, "From: Sender %d <s%d@example.org>\r\nTo: Alice <alice@example.net>\r\n", i, i)
	fmt.Fprintf(&sb, "Subject: %s\r\n", mime.BEncoding.Encode("UTF-8", subj))
	fmt.Fprintf(&sb, "X-Note: %s\r\n", words(rng, latin1Words[:5], 1))
	fmt.Fprintf(&sb, "Date: Sat, 28 Nov 2026 10:%02d:00 +0000\r\nMessage-ID: <%d.search@example.org>\r\nMIME-Version: 1.0\r\n", i%60, i)
	sb.WriteString(searchBody(rng, rng.IntN(7), true))
	return sb.String()
}

// searchBody returns a Content-Type header, the empty line and a body of
// kind k.
func searchBody(rng *rand.Rand, k int, nest bool) string {
	text := words(rng, searchWords, 8+rng.IntN(30))
	switch k {
	case 1:
		l1 := words(rng, latin1Words, 8+rng.IntN(30))
		enc, _ := charmap.ISO8859_1.NewEncoder().String(l1)
		var b bytes.Buffer
		w := quotedprintable.NewWriter(&b)
		w.Write([]byte(enc))
		w.Close()
		return "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + b.String() + "\r\n"
	case 2:
		return "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" + wrap(base64.StdEncoding.EncodeToString([]byte(text))) + "\r\n"
	case 3:
		enc, _ := charmap.Windows1252.NewEncoder().String(words(rng, latin1Words, 8+rng.IntN(30)))
		return "Content-Type: text/plain; charset=windows-1252\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + enc + "\r\n"
	case 4:
		w := searchWords[rng.IntN(len(searchWords))]
		html := fmt.Sprintf("<html><body><p>%s <b>%s</b>%s &amp; %s</p></body></html>", text, w[:len(w)/2], w[len(w)/2:], words(rng, searchWords, 3))
		return "Content-Type: multipart/alternative; boundary=\"alt-b\"\r\n\r\n--alt-b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text +
			"\r\n--alt-b\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + qp(html) + "\r\n--alt-b--\r\n"
	case 5:
		att := base64.StdEncoding.EncodeToString([]byte("attachment " + words(rng, searchWords, 5)))
		return "Content-Type: multipart/mixed; boundary=\"mix-b\"\r\n\r\npreamble zebra\r\n--mix-b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text +
			"\r\n--mix-b\r\nContent-Type: application/octet-stream; name=\"a.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + wrap(att) + "\r\n--mix-b--\r\n"
	case 6:
		if nest {
			inner := fmt.Sprintf("From: Inner <in@example.org>\r\nSubject: inner %s\r\nMIME-Version: 1.0\r\n", words(rng, searchWords, 1)) + searchBody(rng, rng.IntN(4), false)
			return "Content-Type: multipart/mixed; boundary=\"out-b\"\r\n\r\n--out-b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text +
				"\r\n--out-b\r\nContent-Type: message/rfc822\r\n\r\n" + inner + "\r\n--out-b--\r\n"
		}
	}
	return "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + text + "\r\n"
}

func words(rng *rand.Rand, from []string, n int) string {
	w := make([]string, n)
	for i := range w {
		w[i] = from[rng.IntN(len(from))]
	}
	return strings.Join(w, " ")
}

func wrap(s string) string {
	var sb strings.Builder
	for len(s) > 76 {
		sb.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	sb.WriteString(s)
	return sb.String()
}

func qp(s string) string {
	var b bytes.Buffer
	w := quotedprintable.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.String()
}

// SearchCriteria returns a random SEARCH program of BODY and TEXT keys
// (whole words, parts of words, other cases, header text, words split by
// HTML tags), joined by AND, OR and NOT, sometimes with a flag key.
func SearchCriteria(rng *rand.Rand) *imap.SearchCriteria {
	return searchCriteria(rng, 2)
}

func searchCriteria(rng *rand.Rand, depth int) *imap.SearchCriteria {
	c := &imap.SearchCriteria{}
	for range 1 + rng.IntN(2) {
		k := rng.IntN(10)
		if depth == 0 && k >= 7 {
			k = rng.IntN(7)
		}
		switch k {
		case 0, 1, 2:
			c.Body = append(c.Body, searchValue(rng))
		case 3, 4, 5:
			c.Text = append(c.Text, searchValue(rng))
		case 6:
			c.Flag = append(c.Flag, imap.FlagSeen)
		case 7:
			c.Not = append(c.Not, *searchCriteria(rng, depth-1))
		default:
			c.Or = append(c.Or, [2]imap.SearchCriteria{*searchCriteria(rng, depth-1), *searchCriteria(rng, depth-1)})
		}
	}
	return c
}

func searchValue(rng *rand.Rand) string {
	w := searchWords[rng.IntN(len(searchWords))]
	r := []rune(w)
	switch rng.IntN(8) {
	case 0:
		return strings.ToUpper(w)
	case 1: // a part of a word
		a := rng.IntN(len(r))
		b := a + 1 + rng.IntN(len(r)-a)
		return string(r[a:b])
	case 2: // two words, as they may follow each other
		return w + " " + searchWords[rng.IntN(len(searchWords))]
	case 3:
		return []string{"Subject: ", "x-note: app", "inner", "attachment", "preamble", "<b>", "&amp;", "alice@example"}[rng.IntN(8)]
	case 4:
		return "nowhere-" + w
	}
	return w
}
