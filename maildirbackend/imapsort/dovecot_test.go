package imapsort_test

import (
	"bufio"
	"bytes"
	"fmt"
	"mime"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/imapmsg"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/imapsort"
)

// The answers in testdata/*/answers.txt are Dovecot 2.3.19's, captured by
// testdata/capture.sh: it copies the *.eml files of a directory, in name
// order, into a fresh Maildir (file N is sequence number N; its X-Arrival
// header sets the file's mtime, the INTERNALDATE), then runs Debian's
// /usr/lib/dovecot/imap pre-authenticated as nobody, one session per
// command of commands.txt ("a SELECT INBOX", the command, "z LOGOUT"), and
// keeps the untagged FETCH, SORT, ESEARCH and THREAD lines.
// TestDovecot_answers gives the same messages to Sort, OrderedSubject and
// References and wants the same answers. In CI, the interop test
// TestSortThread_dovecotAnswers (cmd/maildir-imapd/interop) runs capture.sh
// again and wants the stored answers. The fixture sets:
//   - mixed: 22 messages of threads, replies, forwards, dates and addresses;
//   - subjects: 55 messages whose subjects try the base subject rules, each
//     with a message whose whole subject is the expected base subject;
//   - threads: 56 messages of a mailing list made by threads/generate.py
//     (seed 5256), with truncated, holed or missing References, missing
//     dates and duplicate Message-IDs, threaded whole and in subsets;
//   - references: 30 messages for the message-ID rules of REFERENCES: invalid
//     References, In-Reply-To, own ID, loops, quoting, comments, case,
//     domain literals;
//   - collation: 48 messages whose Subject and From name are one word each
//     (collation/generate.py), for i;unicode-casemap;
//   - addresses: 8 messages with groups, comments, empty and encoded names
//     and addresses without a domain, for FROM, TO, CC and DISPLAY*.

// dovecotCase is one command of answers.txt and Dovecot's answer.
type dovecotCase struct {
	command string   // "SORT (SUBJECT) UTF-8 ALL"
	answer  []string // the "* ..." lines
}

func TestDovecot_answers(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "*", "answers.txt"))
	if err != nil || len(dirs) < 2 {
		t.Fatalf("answer files: %v %v", dirs, err)
	}
	for _, answers := range dirs {
		dir := filepath.Dir(answers)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			msgs := loadFixtures(t, dir)
			cases := loadAnswers(t, answers)
			if len(cases) == 0 {
				t.Fatalf("%s has no commands", answers)
			}
			for _, c := range cases {
				t.Run(c.command, func(t *testing.T) {
					got := run(t, msgs, c.command)
					if !slices.Equal(got, c.answer) {
						t.Errorf("%s:\n got %q\nwant %q", c.command, got, c.answer)
					}
				})
			}
		})
	}
}

// run answers command the way Dovecot did, from msgs.
func run(t *testing.T, msgs []imapsort.Message, command string) []string {
	t.Helper()
	f := strings.Fields(command)
	switch f[0] {
	case "FETCH":
		var out []string
		for _, m := range msgs {
			out = append(out, fmt.Sprintf("* %d FETCH (RFC822.SIZE %d INTERNALDATE %q)",
				m.ID, m.Size, m.Arrival.Format("02-Jan-2006 15:04:05 -0700")))
		}
		return out
	case "SORT":
		var ret []string // ESORT return options; nil without RETURN
		if f[1] == "RETURN" {
			open, closing := strings.Index(command, "("), strings.Index(command, ")")
			ret = strings.Fields(command[open+1 : closing])
			if len(ret) == 0 {
				ret = []string{"ALL"} // RFC 5267 section 3.3: RETURN () is ALL
			}
			command = command[closing+1:]
		}
		open, closing := strings.Index(command, "("), strings.Index(command, ")")
		crit := parseCriteria(t, command[open+1:closing])
		sel := selectSet(t, msgs, f[len(f)-1])
		if ret != nil {
			return []string{esort(imapsort.Sort(sel, crit), ret)}
		}
		var b strings.Builder
		b.WriteString("* SORT")
		for _, id := range imapsort.Sort(sel, crit) {
			b.WriteString(" " + strconv.FormatUint(uint64(id), 10))
		}
		return []string{b.String()}
	case "THREAD":
		sel := selectSet(t, msgs, f[len(f)-1])
		var threads []*imapsort.Thread
		switch f[1] {
		case "ORDEREDSUBJECT":
			threads = imapsort.OrderedSubject(sel)
		case "REFERENCES":
			threads = imapsort.References(sel)
		default:
			t.Fatalf("unknown algorithm in %q", command)
		}
		return []string{strings.TrimSpace("* THREAD " + imapsort.Format(threads))}
	}
	t.Fatalf("unknown command %q", command)
	return nil
}

// esort writes the ESEARCH answer of an ESORT command (RFC 5267 section
// 3.1) with the return options ret, in Dovecot's order: MIN and MAX are the
// first and last IDs in sort order, ALL lists them in sort order with
// ascending ranges only (section 3.2).
func esort(ids []uint32, ret []string) string {
	var b strings.Builder
	b.WriteString(`* ESEARCH (TAG "b")`)
	has := func(opt string) bool { return slices.Contains(ret, opt) }
	if has("MIN") && len(ids) > 0 {
		fmt.Fprintf(&b, " MIN %d", ids[0])
	}
	if has("MAX") && len(ids) > 0 {
		fmt.Fprintf(&b, " MAX %d", ids[len(ids)-1])
	}
	if has("ALL") && len(ids) > 0 {
		b.WriteString(" ALL ")
		for i := 0; i < len(ids); {
			j := i
			for j+1 < len(ids) && ids[j+1] == ids[j]+1 {
				j++
			}
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%d", ids[i])
			if j > i {
				fmt.Fprintf(&b, ":%d", ids[j])
			}
			i = j + 1
		}
	}
	if has("COUNT") {
		fmt.Fprintf(&b, " COUNT %d", len(ids))
	}
	return b.String()
}

func parseCriteria(t *testing.T, s string) []imapsort.Criterion {
	t.Helper()
	keys := map[string]imapsort.Key{}
	for k := imapsort.Arrival; k <= imapsort.DisplayTo; k++ {
		keys[k.String()] = k
	}
	var crit []imapsort.Criterion
	reverse := false
	for _, w := range strings.Fields(s) {
		if w == "REVERSE" {
			reverse = true
			continue
		}
		k, ok := keys[w]
		if !ok {
			t.Fatalf("unknown sort key %q", w)
		}
		crit = append(crit, imapsort.Criterion{Key: k, Reverse: reverse})
		reverse = false
	}
	return crit
}

// selectSet returns the messages of msgs that the search key set ("ALL" or
// "first:last") selects.
func selectSet(t *testing.T, msgs []imapsort.Message, set string) []imapsort.Message {
	t.Helper()
	if set == "ALL" {
		return msgs
	}
	lo, hi, ok := strings.Cut(set, ":")
	first, err1 := strconv.Atoi(lo)
	last, err2 := strconv.Atoi(hi)
	if !ok || err1 != nil || err2 != nil {
		t.Fatalf("unsupported search key %q", set)
	}
	last = min(last, len(msgs)) // as in IMAP, a range may go past the last message
	return msgs[first-1 : last]
}

func loadAnswers(t *testing.T, path string) []dovecotCase {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []dovecotCase
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "C: "):
			cases = append(cases, dovecotCase{command: line[3:]})
		case strings.HasPrefix(line, "S: ") && len(cases) > 0:
			cases[len(cases)-1].answer = append(cases[len(cases)-1].answer, line[3:])
		case strings.HasPrefix(line, "E: "):
			t.Fatalf("answers.txt records a failed command: %s", line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return cases
}

// loadFixtures reads the *.eml files of dir in name order as messages 1, 2,
// ... the way an IMAP server fills Message: sizes with CRLF line ends,
// RFC 2047 decoding of the Subject and display names.
func loadFixtures(t *testing.T, dir string) []imapsort.Message {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no fixtures in %s: %v", dir, err)
	}
	slices.Sort(names)
	msgs := make([]imapsort.Message, len(names))
	for i, name := range names {
		raw, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		msgs[i] = parseFixture(t, uint32(i+1), raw)
	}
	return msgs
}

func parseFixture(t *testing.T, id uint32, raw []byte) imapsort.Message {
	t.Helper()
	mm, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("message %d: %v", id, err)
	}
	h := mm.Header
	arrival, err := time.Parse(time.RFC3339, h.Get("X-Arrival"))
	if err != nil {
		t.Fatalf("message %d: X-Arrival: %v", id, err)
	}
	date, err := mail.ParseDate(h.Get("Date"))
	if err != nil {
		date = time.Time{}
	}
	dec := &mime.WordDecoder{}
	subject, err := dec.DecodeHeader(h.Get("Subject"))
	if err != nil {
		t.Fatalf("message %d: Subject: %v", id, err)
	}
	env := imapmsg.ParseBytes(raw).Envelope
	return imapsort.Message{
		ID:         id,
		Arrival:    arrival.UTC(),
		Date:       date,
		Size:       imapmsg.ParseBytes(raw).Size,
		Subject:    subject,
		From:       firstAddress(t, env.From),
		To:         firstAddress(t, env.To),
		Cc:         firstAddress(t, env.Cc),
		MessageID:  h.Get("Message-ID"),
		InReplyTo:  h.Get("In-Reply-To"),
		References: h.Get("References"),
	}
}

// firstAddress returns the first address of an ENVELOPE address list the
// way the IMAP engine fills Message: Dovecot's ENVELOPE shape (imapmsg
// builds it: a group's start marker, with the group name as Mailbox, is an
// address; a comment after a bare addr-spec is the name; MISSING_MAILBOX and
// MISSING_DOMAIN fill missing parts), the name decoded from RFC 2047.
func firstAddress(t *testing.T, list []imap.Address) imapsort.Address {
	t.Helper()
	if len(list) == 0 {
		return imapsort.Address{}
	}
	name, err := (&mime.WordDecoder{}).DecodeHeader(list[0].Name)
	if err != nil {
		t.Fatalf("name %q: %v", list[0].Name, err)
	}
	return imapsort.Address{Name: name, Mailbox: list[0].Mailbox, Host: list[0].Host}
}
