package imapsort_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/imapsort"
)

// benchMessages returns n messages of a busy list: threads of up to 20
// replies, each reply referencing its parent and the thread's root.
func benchMessages(n int) []imapsort.Message {
	msgs := make([]imapsort.Message, n)
	for i := range msgs {
		root := i - i%20
		m := imapsort.Message{
			ID:        uint32(i + 1),
			Arrival:   day0.Add(time.Duration(i) * time.Minute),
			Date:      day0.Add(time.Duration(i*7%n) * time.Minute),
			Size:      int64(1000 + i*37%5000),
			Subject:   fmt.Sprintf("Topic number %d", root),
			From:      imapsort.Address{Name: fmt.Sprintf("Poster %d", i%97), Mailbox: fmt.Sprintf("p%d", i%97), Host: "example.org"},
			MessageID: fmt.Sprintf("<m%d@example.org>", i),
		}
		if i != root {
			m.Subject = "Re: " + m.Subject
			m.References = fmt.Sprintf("<m%d@example.org> <m%d@example.org>", root, root+(i-root)/2)
		}
		msgs[i] = m
	}
	return msgs
}

func BenchmarkSort(b *testing.B) {
	msgs := benchMessages(10000)
	for _, c := range []struct {
		name     string
		criteria []imapsort.Criterion
	}{
		{"DATE", []imapsort.Criterion{{Key: imapsort.Date}}},
		{"SUBJECT_DATE", []imapsort.Criterion{{Key: imapsort.Subject}, {Key: imapsort.Date}}},
		{"DISPLAYFROM", []imapsort.Criterion{{Key: imapsort.DisplayFrom}}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				imapsort.Sort(msgs, c.criteria)
			}
		})
	}
}

func BenchmarkThread(b *testing.B) {
	msgs := benchMessages(10000)
	b.Run("REFERENCES", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			imapsort.Format(imapsort.References(msgs))
		}
	})
	chain := make([]imapsort.Message, 20000)
	for i := range chain {
		chain[i] = imapsort.Message{ID: uint32(i + 1), Date: day0.Add(time.Duration(i) * time.Minute),
			Subject: "Re: chain", MessageID: fmt.Sprintf("<c%d@example.org>", i)}
		if i > 0 {
			chain[i].InReplyTo = fmt.Sprintf("<c%d@example.org>", i-1)
		}
	}
	b.Run("REFERENCES_chain", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			imapsort.Format(imapsort.References(chain))
		}
	})
	b.Run("ORDEREDSUBJECT", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			imapsort.Format(imapsort.OrderedSubject(msgs))
		}
	})
}
