package interop

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
)

// Sizes of TestSearchBody_dovecot: messages per seed, programs compared
// with the index in memory and again in a new process with it on disk.
const (
	sbMessages     = 120
	sbPrograms     = 150
	sbProgramsDisk = 50
)

// sbCISeed is the fixed seed of TestSearchBody_dovecot.
const sbCISeed = 1

// TestSearchBody_dovecot answers the same random SEARCH programs of BODY
// and TEXT keys (OR, NOT, words split by HTML tags, parts of words, other
// cases, header text) over the same messages (charsets, quoted-printable
// and base64 parts, HTML alternatives, attachments, embedded messages,
// parts in charsets nobody converts, binary parts) with Dovecot 2.3
// without a full-text plugin, maildir-imapd scanning every message, and
// maildir-imapd with its trigram index, complete in memory and then read
// from disk by a new process. All must give the same UIDs. It runs the
// fixed seed and a fresh one, named in its subtest ("fresh_seed=N"; re-run
// a seed with -run 'TestSearchBody_dovecot/fresh_seed=N').
func TestSearchBody_dovecot(t *testing.T) {
	requireTool(t, "dovecot", "dovecot-imapd dovecot-core")
	seeds := []string{fmt.Sprintf("seed=%d", sbCISeed)}
	if os.Getenv("MAILDIR_IMAPD_DIFF_FRESH") != "0" {
		seeds = append(seeds, fmt.Sprintf("fresh_seed=%d", freshSeed()))
	}
	for _, name := range seeds {
		var seed uint64
		fmt.Sscanf(name[strings.IndexByte(name, '=')+1:], "%d", &seed)
		t.Run(name, func(t *testing.T) { runSearchBodyDiff(t, seed) })
	}
}

func runSearchBodyDiff(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 12))
	a := newAccount(t)
	for i := range sbMessages {
		deliverOwned(t, a, i, searchDiffMessage(rng, i))
	}
	dov := startDovecot(t, a)
	cd := dialSelect(t, dov.Addr) // Dovecot assigns the UIDs; both daemons read them
	scan := startImapd(t, a, "--full-text-index=false")
	cs := dialSelect(t, scan.Addr)
	idx := startImapd(t, a)
	ci := dialSelect(t, idx.Addr)
	waitIndexComplete(t, idx, deadline)

	hits := 0
	for i := range sbPrograms {
		hits += compareSearch(t, a, i, sbProgram(rng), cd, cs, ci)
	}
	if hits == 0 {
		t.Fatal("no program found anything: the test proves nothing")
	}
	// A new process reads the index its predecessor wrote at exit.
	logout(t, ci)
	idx.Stop(t)
	idx.CheckLog(t)
	if segs, _ := filepath.Glob(filepath.Join(a.maildir, "maildir-imapd.fts", "seg-*")); len(segs) == 0 {
		t.Fatal("no index segment on disk after the daemon stopped")
	}
	idx2 := startImapd(t, a)
	ci2 := dialSelect(t, idx2.Addr)
	waitIndexComplete(t, idx2, deadline)
	for i := range sbProgramsDisk {
		compareSearch(t, a, sbPrograms+i, sbProgram(rng), cd, cs, ci2)
	}
	scan.CheckLog(t)
	idx2.CheckLog(t)
	dov.CheckLog(t)
}

// deliverOwned writes message i into the INBOX's new/ the way an MTA
// does (tmp/, then a rename), owned by the mail owner.
func deliverOwned(t *testing.T, a *account, i int, msg string) {
	t.Helper()
	key := fmt.Sprintf("%d.M%dP%d.searchdiff", 1790000000+i, i, 4000+i)
	tmp := filepath.Join(a.maildir, "tmp", key)
	if err := os.WriteFile(tmp, []byte(msg), 0o600); err != nil {
		t.Fatal(err)
	}
	a.owner.chown(t, tmp)
	if err := os.Rename(tmp, filepath.Join(a.maildir, "new", key)); err != nil {
		t.Fatal(err)
	}
}

func dialSelect(t *testing.T, addr string) *imapclient.Client {
	t.Helper()
	c := dial(t, addr, nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatalf("SELECT INBOX at %s: %v", addr, err)
	}
	return c
}

// waitIndexComplete waits up to limit until the daemon logs that its
// INBOX index holds every message (the indexer logs "full-text index
// complete" once).
func waitIndexComplete(t testing.TB, d *imapd, limit time.Duration) {
	t.Helper()
	end := time.Now().Add(limit)
	for !strings.Contains(d.proc.output.String(), "full-text index complete") {
		if time.Now().After(end) {
			t.Fatalf("the INBOX was not indexed within %v", limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// compareSearch runs cr on Dovecot, the scan and the index and fails when
// their UIDs differ, naming the messages in question. It returns the
// number of Dovecot's hits.
func compareSearch(t *testing.T, a *account, step int, cr *imap.SearchCriteria, cd, cs, ci *imapclient.Client) int {
	t.Helper()
	if !dovecotComparable(cr) {
		cd = cs // the difference is documented; scan and index still agree
	}
	answers := make([][]imap.UID, 3)
	for i, c := range []*imapclient.Client{cd, cs, ci} {
		d, err := c.UIDSearch(cr, nil).Wait()
		if err != nil {
			t.Fatalf("step %d: UID SEARCH %s: server %d: %v", step, describeCriteria(cr), i, err)
		}
		answers[i] = d.AllUIDs()
	}
	if !slices.Equal(answers[0], answers[1]) || !slices.Equal(answers[0], answers[2]) {
		d := symDiff(answers[0], answers[1], answers[2])
		t.Errorf("step %d: UID SEARCH %s:\n dovecot %v\n scan    %v\n index   %v\n%s\nthe first of them:\n%s", step, describeCriteria(cr),
			answers[0], answers[1], answers[2], d.text, fetchRaw(t, cs, d.first))
	}
	return len(answers[0])
}

// uidDiff is what symDiff finds: a line per UID on which answers differ.
type uidDiff struct {
	text  string
	first imap.UID
}

// symDiff names the UIDs on which the answers disagree.
func symDiff(sets ...[]imap.UID) uidDiff {
	var all []imap.UID
	for _, s := range sets {
		all = append(all, s...)
	}
	slices.Sort(all)
	all = slices.Compact(all)
	var d uidDiff
	var sb strings.Builder
	for _, u := range all {
		var in []bool
		for _, s := range sets {
			in = append(in, slices.Contains(s, u))
		}
		if slices.Contains(in, false) {
			if d.first == 0 {
				d.first = u
			}
			fmt.Fprintf(&sb, " UID %d in dovecot/scan/index: %v\n", u, in)
		}
	}
	d.text = sb.String()
	return d
}

// fetchRaw returns the message with this UID, quoted (at most 2 KiB).
func fetchRaw(t *testing.T, c *imapclient.Client, uid imap.UID) string {
	t.Helper()
	sec := &imap.FetchItemBodySection{Peek: true}
	msgs, err := c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{sec}}).Collect()
	if err != nil || len(msgs) != 1 {
		return fmt.Sprintf("(UID FETCH %d: %v)", uid, err)
	}
	b := msgs[0].FindBodySection(sec)
	return fmt.Sprintf("%q", b[:min(len(b), 2048)])
}

func describeCriteria(cr *imap.SearchCriteria) string {
	var parts []string
	for _, v := range cr.Body {
		parts = append(parts, fmt.Sprintf("BODY %q", v))
	}
	for _, v := range cr.Text {
		parts = append(parts, fmt.Sprintf("TEXT %q", v))
	}
	for _, f := range cr.Flag {
		parts = append(parts, string(f))
	}
	for i := range cr.Not {
		parts = append(parts, "NOT ("+describeCriteria(&cr.Not[i])+")")
	}
	for i := range cr.Or {
		parts = append(parts, "OR ("+describeCriteria(&cr.Or[i][0])+") ("+describeCriteria(&cr.Or[i][1])+")")
	}
	return strings.Join(parts, " ")
}

// sbProgram is maildirtest.SearchCriteria, and sometimes a key aimed at
// the messages of searchDiffMessage.
func sbProgram(rng *rand.Rand) *imap.SearchCriteria {
	cr := maildirtest.SearchCriteria(rng)
	if rng.IntN(3) == 0 {
		v := sbExtraValues[rng.IntN(len(sbExtraValues))]
		if rng.IntN(2) == 0 {
			cr.Body = append(cr.Body, v)
		} else {
			cr.Text = append(cr.Text, v)
		}
	}
	return cr
}

// sbExtraValues are keys for the messages searchDiffMessage adds.
var sbExtraValues = []string{
	"unconvertible", "bytes", "mystery", "notes-text", "attached", "pdfword", "binarypart", "café",
	"caf&eacute;", "&eacute;", "straße", "x-unknown", "filename", "ZmlsZQ", "Content-Type", "iso-8859-7",
	"résumé", "r\u00e9sum", "fake", "\u00e9",
	// Aimed at the word dictionaries (case 12): a word only inside a
	// token too long to be recorded, whole words, prefixes, suffixes,
	// middles, separators outside ASCII, Turkish İ, a ligature.
	"hiddenword", "xyxy", "invoice", "invoices", "nvoi", "oice", "reinvoice", "number—due", "number", "stanbul",
	"i\u0307stanbul", "İstanbul", "ﬁle", "file", "😀invoice", "日本", "本", "\u00a0",
}

// searchDiffMessage returns message i: mostly maildirtest.SearchMessage,
// else one of the cases whose handling differs between servers: a part in
// a charset nobody converts, a part whose bytes are not the UTF-8 it
// claims, a base64 text attachment, a base64 application/pdf, a binary
// part with NULs, an HTML-only message with entities, and text for the
// word dictionaries (a word only in a token of 300 bytes, which the index
// does not record, and separators and letters outside ASCII).
func searchDiffMessage(rng *rand.Rand, i int) string {
	k := rng.IntN(13)
	if k < 6 {
		return maildirtest.SearchMessage(rng, i)
	}
	head := fmt.Sprintf("From: Sender %d <s%d@example.org>\r\nTo: Alice <alice@example.net>\r\nSubject: extra %d\r\n"+
		"Date: Sat, 28 Nov 2026 11:%02d:00 +0000\r\nMessage-ID: <%d.extra@example.org>\r\nMIME-Version: 1.0\r\n", i, i, k, i%60, i)
	switch k {
	case 6:
		return head + "Content-Type: text/plain; charset=x-unknown\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
			"unconvertible mystery bytes caf\xe9 r\xe9sum\xe9\r\n"
	case 7:
		return head + "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
			"fake utf-8 caf\xe9 r\xc3\xa9sum\xc3\xa9 stra\xdfe\r\n"
	case 8:
		return head + "Content-Type: multipart/mixed; boundary=\"b8\"\r\n\r\n--b8\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n" +
			"--b8\r\nContent-Type: text/plain; charset=utf-8; name=\"notes.txt\"\r\nContent-Disposition: attachment; filename=\"notes.txt\"\r\n" +
			"Content-Transfer-Encoding: base64\r\n\r\n" + b64("notes-text café résumé\r\n") + "\r\n--b8--\r\n"
	case 9:
		return head + "Content-Type: multipart/mixed; boundary=\"b9\"\r\n\r\n--b9\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n" +
			"--b9\r\nContent-Type: application/pdf; name=\"file.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
			b64("%PDF-1.4 pdfword café\r\n") + "\r\n--b9--\r\n"
	case 10:
		return head + "Content-Type: multipart/mixed; boundary=\"b10\"\r\n\r\n--b10\r\nContent-Type: text/plain\r\n\r\nbinary follows\r\n" +
			"--b10\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\nbinarypart\x00\x01 caf\xc3\xa9\x00 attached\r\n--b10--\r\n"
	case 12:
		return head + "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
			"Invoice\u00a0number—due ﬁle İstanbul 😀invoice€ 日本語。本 invoices reinvoice " +
			strings.Repeat("xy", 150) + "hiddenword tail\r\n"
	default:
		return head + "Content-Type: text/html; charset=iso-8859-7\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
			"<html><body><p>caf&eacute; &amp; r=E9sum=E9 <b>stra</b>&szlig;e</p></body></html>\r\n"
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// dovecotComparable reports whether Dovecot's answer to cr is comparable.
// Dovecot compares with i;unicode-casemap (simple titlecase, so "ß" stays
// "ß" and never equals "SS"); maildir-imapd folds fully, so "STRASSE"
// finds "straße" and "s" finds "Grüße" (docs/differences.md,
// search-casefold). A value is left out when, folded fully, it contains
// "ss" or could match the "ss" of a folded "ß" of the generator's words.
func dovecotComparable(cr *imap.SearchCriteria) bool {
	for _, v := range slices.Concat(cr.Body, cr.Text) {
		f := cases.Fold().String(v)
		if strings.Contains(f, "ss") {
			return false
		}
		for _, w := range []string{"grüsse", "strasse"} {
			if strings.Contains(f, "s") && strings.Contains(w, f) {
				return false
			}
		}
		if decomposeDiffers(f) || compatDiffers(f) {
			return false
		}
	}
	for i := range cr.Not {
		if !dovecotComparable(&cr.Not[i]) {
			return false
		}
	}
	for i := range cr.Or {
		if !dovecotComparable(&cr.Or[i][0]) || !dovecotComparable(&cr.Or[i][1]) {
			return false
		}
	}
	return true
}

// compatDiffers reports whether the folded key f meets Dovecot's
// compatibility decomposition (docs/differences.md, search-decompose):
// a key with a compatibility character (U+00A0 decomposes to a space, so
// Dovecot's "\u00a0" finds every space), or one that could match the
// "fi" of the ligature "ﬁ" in searchDiffMessage's "ﬁle" (folding makes it
// "fi" here; there "file" does not find "ﬁle", seen at seed 1).
func compatDiffers(f string) bool {
	if norm.NFKD.String(f) != norm.NFD.String(f) || strings.Contains(f, "fi") {
		return true
	}
	return f != "" && strings.Contains("file", f) && (f[0] == 'f' || f[0] == 'i')
}

// accentedWords are the words with accents of the generators
// (maildirtest.SearchMessage, searchDiffMessage).
var accentedWords = []string{"Grüße", "café", "naïve", "Ünïcödé", "ÉCOLE", "δέλτα", "résumé"}

// decomposeDiffers reports whether the folded key f finds one of
// accentedWords differently when both are decomposed, as Dovecot's
// i;unicode-casemap does: "co" finds "Ünïcödé" ("co" + U+0308) there and
// not here (docs/differences.md, search-decompose).
func decomposeDiffers(f string) bool {
	for _, w := range accentedWords {
		fw := cases.Fold().String(w)
		if strings.Contains(fw, f) != strings.Contains(norm.NFKD.String(fw), norm.NFKD.String(f)) {
			return true
		}
	}
	return false
}
