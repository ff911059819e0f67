package idle

import (
	"slices"
	"testing"

	"github.com/emersion/go-imap/v2"
)

func TestNewMailbox_normalizes(t *testing.T) {
	in := []imap.UID{5, 0, 3, 5, 1}
	flags := []imap.Flag{imap.FlagSeen}
	m := NewMailbox(in, flags)
	if got, want := m.UIDs(), []imap.UID{1, 3, 5}; !slices.Equal(got, want) {
		t.Errorf("UIDs %v, want %v", got, want)
	}
	if m.MaxUID() != 5 || m.Len() != 3 || m.Views() != 0 {
		t.Errorf("MaxUID %d Len %d Views %d", m.MaxUID(), m.Len(), m.Views())
	}
	in[0], flags[0] = 99, "$X"
	if m.UIDs()[2] != 5 || m.Flags()[0] != imap.FlagSeen {
		t.Error("NewMailbox kept the caller's slices")
	}
	if e := NewMailbox(nil, nil); e.Len() != 0 || e.Flags() == nil || e.MaxUID() != 0 {
		t.Errorf("empty mailbox: Len %d Flags %v", e.Len(), e.Flags())
	}
}

func TestView_SeqNumUID(t *testing.T) {
	m := NewMailbox([]imap.UID{4, 8, 15}, nil)
	v := m.NewView()
	defer v.Close()
	tests := []struct {
		name string
		uid  imap.UID
		seq  uint32
	}{
		{"first", 4, 1},
		{"last", 15, 3},
		{"absent", 5, 0},
		{"zero", 0, 0},
		{"above", 16, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := v.SeqNum(tt.uid); got != tt.seq {
				t.Errorf("SeqNum(%d) = %d, want %d", tt.uid, got, tt.seq)
			}
			if tt.seq != 0 {
				if got := v.UID(tt.seq); got != tt.uid {
					t.Errorf("UID(%d) = %d, want %d", tt.seq, got, tt.uid)
				}
			}
		})
	}
	for _, seq := range []uint32{0, 4, ^uint32(0)} {
		if got := v.UID(seq); got != 0 {
			t.Errorf("UID(%d) = %d, want 0", seq, got)
		}
	}
}

func TestMailbox_ApplyFrom(t *testing.T) {
	m := NewMailbox([]imap.UID{1, 2, 3, 4}, nil)
	a, b := m.NewView(), m.NewView()
	defer a.Close()
	defer b.Close()

	// b has an unsent flag change of 3 when a changes 3 and 4 itself.
	m.Apply(Change{Flags: map[imap.UID][]imap.Flag{3: {imap.FlagSeen}}}, b)
	m.Apply(Change{Flags: map[imap.UID][]imap.Flag{3: {imap.FlagSeen}}}, nil)
	m.Apply(Change{Flags: map[imap.UID][]imap.Flag{3: {imap.FlagFlagged}, 4: {imap.FlagSeen}}}, b)
	if len(b.pendingFlags) != 1 || !slices.Equal(b.pendingFlags[3], []imap.Flag{imap.FlagFlagged}) {
		t.Errorf("b pending %v: want only 3 updated to the latest flags", b.pendingFlags)
	}
	if len(a.pendingFlags) != 2 {
		t.Errorf("a pending %v, want 3 and 4", a.pendingFlags)
	}

	// a expunges 2 and 4 itself (plus an unknown UID): gone from its list at
	// once, still pending for b.
	m.Apply(Change{Expunged: []imap.UID{4, 2, 9}, Added: []imap.UID{5}}, a)
	if got, want := a.UIDs(), []imap.UID{1, 3}; !slices.Equal(got, want) {
		t.Errorf("a sees %v, want %v", got, want)
	}
	if got, want := b.UIDs(), []imap.UID{1, 2, 3, 4}; !slices.Equal(got, want) {
		t.Errorf("b sees %v, want %v", got, want)
	}
	if _, ok := a.pendingFlags[4]; ok {
		t.Error("a keeps a flag change of an expunged UID")
	}
	if a.version == m.version {
		t.Error("a marked up to date although 5 was added")
	}

	// Expunging with no addition makes a's list the snapshot again.
	m.Apply(Change{Expunged: []imap.UID{5}}, a)
	if _, _, shared := PendingState(a); !shared || a.version != m.version {
		t.Errorf("a after own expunge: shared %v, version %d/%d", shared, a.version, m.version)
	}

	// A closed or foreign view as from is ignored.
	other := NewMailbox([]imap.UID{1}, nil).NewView()
	m.Apply(Change{Expunged: []imap.UID{1}}, other)
	if got := other.UIDs(); !slices.Equal(got, []imap.UID{1}) {
		t.Errorf("foreign view changed: %v", got)
	}
}

func TestMailbox_ApplyMailboxFlags(t *testing.T) {
	m := NewMailbox(nil, []imap.Flag{imap.FlagSeen})
	v := m.NewView()
	defer v.Close()
	in := []imap.Flag{imap.FlagSeen}
	m.Apply(Change{MailboxFlags: in}, nil)
	if _, mf, _ := PendingState(v); mf {
		t.Error("unchanged FLAGS queued")
	}
	in = []imap.Flag{imap.FlagSeen, "$A"}
	m.Apply(Change{MailboxFlags: in}, v)
	in[1] = "$B"
	if _, mf, _ := PendingState(v); !mf || !slices.Equal(v.pendingMailboxFlags, []imap.Flag{imap.FlagSeen, "$A"}) {
		t.Errorf("pending FLAGS %v", v.pendingMailboxFlags)
	}
	m.Apply(Change{MailboxFlags: []imap.Flag{}}, nil)
	if v.pendingMailboxFlags == nil || len(v.pendingMailboxFlags) != 0 {
		t.Errorf("empty FLAGS list not pending: %#v", v.pendingMailboxFlags)
	}
}

// TestView_boundedPending checks that a view that never polls keeps one old
// snapshot and a flag map no larger than the mailbox.
func TestView_boundedPending(t *testing.T) {
	m := NewMailbox(uidsUpTo(50), nil)
	v := m.NewView()
	defer v.Close()
	first := v.UIDs()
	next := imap.UID(51)
	for i := range 10000 {
		uids := m.UIDs()
		c := Change{Flags: map[imap.UID][]imap.Flag{
			uids[i%len(uids)]:       {imap.FlagSeen},
			uids[(i*7)%len(uids)]:   {imap.Flag("$K" + string(rune('a'+i%26)))},
			imap.UID(1_000_000 + i): {imap.FlagSeen}, // unknown UID
		}}
		switch i % 3 {
		case 0:
			c.Added = []imap.UID{next, next + 1}
			next += 2
		case 1:
			c.Expunged = []imap.UID{uids[0], uids[len(uids)/2]}
		}
		m.Apply(c, nil)
		if n := len(v.pendingFlags); n > m.Len() {
			t.Fatalf("apply %d: %d pending flags for %d messages", i, n, m.Len())
		}
	}
	if got := v.UIDs(); &got[0] != &first[0] || len(got) != len(first) {
		t.Error("a view that never polls got a new list")
	}
	if len(v.wake) > 1 {
		t.Errorf("wake channel holds %d", len(v.wake))
	}
	if m.Views() != 1 {
		t.Errorf("Views %d", m.Views())
	}
}

func TestView_Close(t *testing.T) {
	m := NewMailbox([]imap.UID{1, 2}, nil)
	v, w := m.NewView(), m.NewView()
	if m.Views() != 2 {
		t.Fatalf("Views %d", m.Views())
	}
	v.Close()
	v.Close()
	if m.Views() != 1 {
		t.Errorf("Views %d after Close", m.Views())
	}
	m.Apply(Change{Expunged: []imap.UID{1}, Flags: map[imap.UID][]imap.Flag{2: nil}}, v)
	if v.UIDs() != nil || v.Len() != 0 || v.SeqNum(2) != 0 || v.pendingFlags != nil {
		t.Error("closed view holds state")
	}
	if err := v.Poll(nil, true); err != nil {
		t.Errorf("Poll of closed view: %v", err)
	}
	w.Close()
	if m.Views() != 0 {
		t.Errorf("Views %d", m.Views())
	}
}

func uidsUpTo(n int) []imap.UID {
	uids := make([]imap.UID, n)
	for i := range uids {
		uids[i] = imap.UID(i + 1)
	}
	return uids
}
