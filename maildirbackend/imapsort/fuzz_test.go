package imapsort_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/imapsort"
)

// fuzzMessages makes messages from data: one per line, with the fields
// subject|Message-ID|References|In-Reply-To|From name|From mailbox|To
// mailbox|hour. IDs are 1..n, in the slice in the order of line lengths, so
// that the input order is not the ID order.
func fuzzMessages(data string) []imapsort.Message {
	lines := strings.Split(data, "\n")
	if len(lines) > 64 {
		lines = lines[:64]
	}
	msgs := make([]imapsort.Message, len(lines))
	for i, line := range lines {
		f := strings.Split(line, "|")
		field := func(j int) string {
			if j < len(f) {
				return f[j]
			}
			return ""
		}
		var hour int
		for _, c := range []byte(field(7)) {
			hour = (hour*31 + int(c)) % 100
		}
		m := imapsort.Message{
			ID:         uint32(i + 1),
			Arrival:    day0.Add(time.Duration(len(line)%7) * time.Hour),
			Size:       int64(len(line)),
			Subject:    field(0),
			MessageID:  field(1),
			References: field(2),
			InReplyTo:  field(3),
			From:       imapsort.Address{Name: field(4), Mailbox: field(5), Host: "h"},
			To:         imapsort.Address{Mailbox: field(6)},
		}
		if hour%5 != 0 {
			m.Date = day0.Add(time.Duration(hour) * time.Hour)
		}
		msgs[i] = m
	}
	slices.SortStableFunc(msgs, func(a, b imapsort.Message) int { return int(a.Size%3) - int(b.Size%3) })
	return msgs
}

// threadIDs appends the IDs of the message nodes of threads to ids and
// reports whether there was a dummy node.
func threadIDs(ids []uint32, threads []*imapsort.Thread) ([]uint32, bool) {
	dummy := false
	for _, t := range threads {
		if t.ID == 0 {
			dummy = true
		} else {
			ids = append(ids, t.ID)
		}
		var d bool
		ids, d = threadIDs(ids, t.Children)
		dummy = dummy || d
	}
	return ids, dummy
}

func FuzzSortThread(f *testing.F) {
	f.Add("Re: a|<1@x>||||amy|bob|1\na|<2@x>|<1@x>|||bob|amy|2\n[fwd: a]|<3@x>|<9@x> <2@x>||Zed|c||3")
	f.Add("x|<a@x>|<b@x>\nRe: x|<b@x>|<a@x>\n(fwd)|<a@x>\n|||<a@x>\n[l] Re[2]: x (fwd)|<\"q\"@x>|<q@x>")
	f.Add("a|<1@x>|<g@x>\nb|<2@x>|<g@x>\nb|<3@x>\nRe: b|<4@x>|<h@x>\nRe: b|<5@x>|<h@x>")
	f.Add("Ｒe: ｆoo\nfoo\x00|<\xff@x>|<(c)@x> <@> <x@>")
	f.Fuzz(func(t *testing.T, data string) {
		msgs := fuzzMessages(data)
		want := make([]uint32, len(msgs))
		for i := range want {
			want[i] = uint32(i + 1)
		}
		for k := imapsort.Arrival; k <= imapsort.DisplayTo; k++ {
			for _, rev := range []bool{false, true} {
				got := imapsort.Sort(msgs, []imapsort.Criterion{{Key: k, Reverse: rev}, {Key: imapsort.Subject}})
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Fatalf("Sort %v (reverse %v) is not a permutation: %v", k, rev, got)
				}
			}
		}
		for name, algo := range map[string]func([]imapsort.Message) []*imapsort.Thread{
			"ORDEREDSUBJECT": imapsort.OrderedSubject,
			"REFERENCES":     imapsort.References,
		} {
			threads := algo(msgs)
			got, dummy := threadIDs(nil, threads)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("%s: IDs %v; want each of 1..%d once", name, got, len(msgs))
			}
			if dummy && name == "ORDEREDSUBJECT" {
				t.Fatalf("ORDEREDSUBJECT made a dummy node")
			}
			s := imapsort.Format(threads)
			if again := imapsort.Format(parseThreads(t, s)); again != s {
				t.Fatalf("%s: Format %q parses back as %q", name, s, again)
			}
		}
		for _, m := range msgs {
			b := imapsort.BaseSubject(m.Subject)
			if again := imapsort.BaseSubject(b); again != b {
				t.Fatalf("BaseSubject(%q) = %q, but BaseSubject(%q) = %q", m.Subject, b, b, again)
			}
		}
	})
}
