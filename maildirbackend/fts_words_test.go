package maildirbackend_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/imapmsg"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
)

// edgeMessage returns message i of a corpus for the word dictionaries:
// mostly maildirtest.SearchMessage, else text with folding edge cases
// (ß and ẞ, the ligature ﬁ, Turkish İ and ı, combining marks), non-ASCII
// separators (no-break space, em dash, emoji), invalid UTF-8 in a UTF-8
// part, and a word found only inside a token too long to be recorded.
func edgeMessage(rng *rand.Rand, i int) string {
	if rng.IntN(3) > 0 {
		return maildirtest.SearchMessage(rng, i)
	}
	head := fmt.Sprintf("From: Edge %d <e%d@example.org>\r\nSubject: =?UTF-8?Q?=C4=B0stanbul_edge?= %d\r\nMIME-Version: 1.0\r\n", i, i, i)
	lines := []string{
		"Invoice\u00a0number—due ﬁle STRAẞE",
		"İstanbul ıi e\u0301te 😀invoice€ 日本語。本",
		"caf\xe9 in\xffvoice naïve",
		strings.Repeat("xy", imapmsg.MaxWord) + "hiddenword" + strings.Repeat("z", i%3) + " tail",
		"invoices invoiced reinvoice",
	}
	var body []string
	for range 1 + rng.IntN(3) {
		body = append(body, lines[rng.IntN(len(lines))])
	}
	return head + "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + strings.Join(body, "\r\n") + "\r\n"
}

// edgeKeys are keys aimed at edgeMessage: with no separator (whole words,
// prefixes, suffixes, middles, folding edge cases, the word only in a
// cut token) and with one.
var edgeKeys = []string{
	"invoice", "INVOICE", "invo", "oice", "nvoi", "invoices", "reinvoice", "hiddenword", "xyxy", "hiddenwordz",
	"istanbul", "İstanbul", "i\u0307stanbul", "stanbul", "ı", "ﬁle", "file", "strasse", "straße", "ẞ", "ss",
	"e\u0301", "\u0301te", "naïve", "日本", "本", "e", "i",
	"invoice number", "number—due", "a\u00a0b", "😀", "€", "😀invoice", "caf\xe9", "in\xffvoice", "。",
}

// TestSearchFTS_wordsEqualScan: keys with and without separators (whole
// words, prefixes, suffixes, middles, non-ASCII, folding edge cases, a
// word only in a cut long token), alone and in random programs, get the
// scan's answer from the index in memory and from disk in a new process.
func TestSearchFTS_wordsEqualScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 1))
	root := newMaildir(t)
	for i := range 150 {
		maildirtest.Deliver(t, root, edgeMessage(rng, i))
	}
	s := newFTSServers(t, root)
	s.waitIndexed(t)
	program := func() *imap.SearchCriteria {
		cr := maildirtest.SearchCriteria(rng)
		k := edgeKeys[rng.IntN(len(edgeKeys))]
		if rng.IntN(2) == 0 {
			cr.Body = append(cr.Body, k)
		} else {
			cr.Text = append(cr.Text, k)
		}
		return cr
	}
	check := func(s *ftsServers) {
		hits := 0
		for _, k := range edgeKeys {
			hits += len(s.compare(t, &imap.SearchCriteria{Body: []string{k}}))
			s.compare(t, &imap.SearchCriteria{Text: []string{k}})
			s.compare(t, &imap.SearchCriteria{Not: []imap.SearchCriteria{{Body: []string{k}}}})
		}
		for range 60 {
			s.compare(t, program())
		}
		if hits == 0 {
			t.Fatal("no key found anything: the test proves nothing")
		}
	}
	check(s)
	if got := uidSearch(t, s.ci, &imap.SearchCriteria{Body: []string{"hiddenword"}}); len(got) == 0 {
		t.Fatal("no message with the word in a cut token: the test proves nothing")
	}
	if err := s.idx.Backend.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := newFTSServers(t, root)
	s2.waitIndexed(t)
	check(s2)
}

// TestSearchFTS_wordsAnswerWithoutReading: once the index holds every
// message, a key without separators is answered from the dictionaries:
// the messages' files are emptied (which no MTA does: the test's way to
// see what is read) and the answer stays what it was, except for the
// messages whose word was cut, which are read; a key with a separator is
// verified by reading, so it no longer finds them.
func TestSearchFTS_wordsAnswerWithoutReading(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 2))
	root := newMaildir(t)
	for i := range 80 {
		maildirtest.Deliver(t, root, edgeMessage(rng, i))
	}
	s := newFTSServers(t, root)
	s.waitIndexed(t)
	body := func(v string) *imap.SearchCriteria { return &imap.SearchCriteria{Body: []string{v}} }
	text := func(v string) *imap.SearchCriteria { return &imap.SearchCriteria{Text: []string{v}} }
	words := []*imap.SearchCriteria{body("invoice"), body("voic"), body("apple"), body("straße"), text("example"), text("stanbul")}
	before := make([][]imap.UID, len(words))
	for i, cr := range words {
		before[i] = s.compare(t, cr)
		if len(before[i]) == 0 {
			t.Fatalf("%+v found nothing: the test proves nothing", cr)
		}
	}
	hidden := s.compare(t, body("hiddenword"))
	phrase := s.compare(t, body("invoices invoiced"))
	if len(hidden) == 0 || len(phrase) == 0 {
		t.Fatalf("hiddenword %v, \"invoices invoiced\" %v: the test proves nothing", hidden, phrase)
	}
	files, _ := filepath.Glob(filepath.Join(root, "cur", "*"))
	news, _ := filepath.Glob(filepath.Join(root, "new", "*"))
	for _, p := range append(files, news...) {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for i, cr := range words {
		if got := uidSearch(t, s.ci, cr); !slices.Equal(got, before[i]) {
			t.Fatalf("%+v after the files were emptied: %v, before %v: the index did not answer", cr, got, before[i])
		}
	}
	if got := uidSearch(t, s.ci, body("hiddenword")); len(got) != 0 {
		t.Fatalf("hiddenword (only in cut tokens) after the files were emptied: %v: not read", got)
	}
	if got := uidSearch(t, s.ci, body("invoices invoiced")); len(got) != 0 {
		t.Fatalf("\"invoices invoiced\" after the files were emptied: %v: not verified", got)
	}
	if !maildirbackend.FTSIndexed(s.idx.Backend) {
		t.Fatal("the index lost documents")
	}
}
