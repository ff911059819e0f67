package imapmsg_test

import (
	"bytes"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/imapmsg"
)

// summaryMessages are the fixture messages and a few shapes they lack.
func summaryMessages(t testing.TB) [][]byte {
	var msgs [][]byte
	for _, c := range loadFixture(t) {
		msgs = append(msgs, c.data)
	}
	return append(msgs, []byte(nestedMsg), []byte("Subject: only header"), []byte(""),
		[]byte("Date: Mon, 02 Jan 2006 15:04:05 +0530\nSender:\nSubject: x\r\n\r\nbody\n"))
}

// sameSummary compares two summaries deeply, nil and empty told apart,
// dates by instant and UTC offset (the decoded one's zone is a fixed zone).
// It changes the dates of both to UTC.
func sameSummary(t *testing.T, got, want *imapmsg.Summary) {
	t.Helper()
	if g, w := normDates(got.Envelope, got.BodyStructure), normDates(want.Envelope, want.BodyStructure); !reflect.DeepEqual(g, w) {
		t.Fatalf("dates %v, want %v", g, w)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("summary\n got %s\nwant %s", dump(got), dump(want))
	}
}

func dump(s *imapmsg.Summary) string {
	out := fmt.Sprintf("%+v %d %d", *s.Envelope, s.Size, s.HeaderSize)
	if s.BodyStructure != nil {
		s.BodyStructure.Walk(func(path []int, part imap.BodyStructure) bool {
			out += fmt.Sprintf("\n%v %+v", path, part)
			return true
		})
	}
	return out
}

// normDates sets every envelope date to UTC and returns them as they were,
// as text with their offsets.
func normDates(env *imap.Envelope, bs imap.BodyStructure) []string {
	var out []string
	if env != nil {
		out = append(out, env.Date.Format(time.RFC3339Nano))
		env.Date = env.Date.UTC()
	}
	if bs != nil {
		bs.Walk(func(path []int, part imap.BodyStructure) bool {
			if sp, ok := part.(*imap.BodyStructureSinglePart); ok && sp.MessageRFC822 != nil {
				out = append(out, normDates(sp.MessageRFC822.Envelope, sp.MessageRFC822.BodyStructure)...)
				return false
			}
			return true
		})
	}
	return out
}

// TestSummary_roundTrip encodes and decodes the summary of every fixture
// message, complete and header-only.
func TestSummary_roundTrip(t *testing.T) {
	for i, b := range summaryMessages(t) {
		p, err := imapmsg.Parse(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		h, err := imapmsg.ParseHeader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []*imapmsg.Summary{&p.Summary, &h.Summary} {
			enc, _ := s.AppendBinary(nil)
			got, err := imapmsg.DecodeSummary(enc)
			if err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
			sameSummary(t, got, s)
			if got.Complete() != s.Complete() {
				t.Fatalf("message %d: Complete %v, want %v", i, got.Complete(), s.Complete())
			}
			if got.MemSize() <= 0 {
				t.Fatalf("MemSize %d", got.MemSize())
			}
		}
	}
}

// TestSummary_damaged checks that every truncation and every single-byte
// change of an encoding decodes to an error or to some summary, never a
// panic.
func TestSummary_damaged(t *testing.T) {
	p := imapmsg.ParseBytes([]byte(nestedMsg))
	enc, _ := p.AppendBinary(nil)
	for n := 0; n < len(enc); n++ {
		if _, err := imapmsg.DecodeSummary(enc[:n]); err == nil {
			t.Fatalf("truncated to %d bytes: no error", n)
		}
	}
	for i := range enc {
		for _, v := range []byte{0, 1, 0x7f, 0x80, 0xff} {
			b := bytes.Clone(enc)
			b[i] = v
			imapmsg.DecodeSummary(b)
		}
	}
	if _, err := imapmsg.DecodeSummary(append([]byte{99}, enc[1:]...)); err == nil {
		t.Fatal("another version decoded")
	}
}

// cachedNames are the fields TestHeaderFields keeps.
var cachedNames = []string{"From", "To", "Cc", "Subject", "Date", "Message-ID", "References", "Content-Type", "X-Priority"}

// TestHeaderFields checks that HEADER.FIELDS of kept names answered from
// HeaderFields' result equals the answer from the whole message, partial
// ranges included.
func TestHeaderFields(t *testing.T) {
	want := func(name string) bool {
		for _, n := range cachedNames {
			if strings.EqualFold(n, name) {
				return true
			}
		}
		return false
	}
	requests := [][]string{cachedNames, {"subject"}, {"DATE", "from", "x-priority"}, {"Content-Type"}}
	msgs := append(summaryMessages(t), []byte("Subject: a\n folded\nX-Other: b\nsubject : c\nFrom: d\r\n\r\nbody"),
		[]byte(" leading\nSubject: x\nno colon\n cont\nTo: y"))
	for i, b := range msgs {
		fields, ok, err := imapmsg.HeaderFields(bytes.NewReader(b), want, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			if len(b) > 0 && !bytes.Contains(b, []byte("\n\n")) && !bytes.Contains(b, []byte("\r\n\r\n")) {
				continue // header ends without a line ending: the file answers
			}
			t.Fatalf("message %d: not kept", i)
		}
		stand := imapmsg.HeaderFieldsMessage(fields)
		for _, names := range requests {
			for _, partial := range []*imap.SectionPartial{nil, {Offset: 3, Size: 10}, {Offset: 0, Size: -1}} {
				item := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: names, Partial: partial}
				want := imapmsg.SectionBytes(b, item)
				if got := imapmsg.SectionBytes(stand, item); !bytes.Equal(got, want) {
					t.Fatalf("message %d %v %v: got %q, want %q", i, names, partial, got, want)
				}
				var got bytes.Buffer
				err := imapmsg.HeaderFieldsParsed(stand).WriteBodySection(bytes.NewReader(stand), item, func(int64) io.Writer { return &got })
				if err != nil || !bytes.Equal(got.Bytes(), want) {
					t.Fatalf("message %d %v %v, HeaderFieldsParsed: got %q (%v), want %q", i, names, partial, got.Bytes(), err, want)
				}
			}
			for _, name := range names {
				got, _ := imapmsg.HeaderField(bytes.NewReader(stand), name)
				want, _ := imapmsg.HeaderField(bytes.NewReader(b), name)
				if got != want {
					t.Fatalf("message %d HeaderField %s: %q, want %q", i, name, got, want)
				}
			}
		}
	}
	if _, ok, _ := imapmsg.HeaderFields(strings.NewReader("Subject: "+strings.Repeat("x", 100)+"\n\n"), want, 50); ok {
		t.Fatal("kept fields over the limit")
	}
}
