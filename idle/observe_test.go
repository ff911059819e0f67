package idle_test

import (
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/idle"
)

func TestMailbox_Observe(t *testing.T) {
	m := idle.NewMailbox([]imap.UID{1, 2}, nil)
	calls := 0
	cancel := m.Observe(func() { calls++ })
	m.Apply(idle.Change{Added: []imap.UID{3}}, nil)
	m.Apply(idle.Change{Flags: map[imap.UID][]imap.Flag{9: {imap.FlagSeen}}}, nil) // no such message: nothing changed
	m.Apply(idle.Change{Expunged: []imap.UID{1}}, nil)
	if calls != 2 {
		t.Fatalf("observer called %d times, want 2 (two changes, one no-op)", calls)
	}
	cancel()
	cancel()
	m.Apply(idle.Change{Added: []imap.UID{4}}, nil)
	if calls != 2 {
		t.Fatalf("observer called after cancel")
	}
}
