package idle_test

import (
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/idle"
)

// BenchmarkApply measures one Apply on a 10,000-message mailbox with 1000
// views that never poll.
func BenchmarkApply(b *testing.B) {
	for _, bc := range []struct {
		name   string
		change func(i int) idle.Change
	}{
		{"add", func(i int) idle.Change { return idle.Change{Added: []imap.UID{imap.UID(10001 + i)}} }},
		{"flags", func(i int) idle.Change {
			return idle.Change{Flags: map[imap.UID][]imap.Flag{imap.UID(1 + i%10000): {imap.FlagSeen}}}
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			m := idle.NewMailbox(uidRange(1, 10000), nil)
			for range 1000 {
				v := m.NewView()
				b.Cleanup(v.Close)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				m.Apply(bc.change(i), nil)
			}
		})
	}
}

// BenchmarkPoll measures a change plus the NOOP that delivers it, over a real
// connection, on a 10,000-message mailbox.
func BenchmarkPoll(b *testing.B) {
	for _, bc := range []struct {
		name   string
		change func(i int) *idle.Change
	}{
		{"nothing", func(int) *idle.Change { return nil }},
		{"add", func(i int) *idle.Change { return &idle.Change{Added: []imap.UID{imap.UID(10001 + i)}} }},
		{"flags", func(i int) *idle.Change {
			return &idle.Change{Flags: map[imap.UID][]imap.Flag{imap.UID(1 + i%10000): {imap.FlagSeen}}}
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h := newHarness(b, uidRange(1, 10000), nil)
			c := h.dial(b)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if ch := bc.change(i); ch != nil {
					h.mbox.Apply(*ch, nil)
				}
				if got := c.cmd("NOOP"); (bc.change(i) == nil) != (len(got) == 0) {
					b.Fatalf("NOOP: %q", got)
				}
			}
		})
	}
}
