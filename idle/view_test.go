package idle_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/idle"
)

// TestView_Poll checks the untagged responses two selected clients get after
// changes made outside (from == nil) or by client a itself.
func TestView_Poll(t *testing.T) {
	seen := []imap.Flag{imap.FlagSeen}
	tests := []struct {
		name  string
		uids  []imap.UID
		act   func(h *harness, a *rawClient)
		wantA []string // untagged responses of a's NOOP after act
		wantB []string // untagged responses of b's NOOP after act
	}{
		{
			name: "external expunge of non-contiguous UIDs, highest first",
			uids: uidRange(1, 10),
			act: func(h *harness, _ *rawClient) {
				h.apply(idle.Change{Expunged: []imap.UID{5, 2, 9}}, nil)
			},
			wantA: []string{"* 9 EXPUNGE", "* 5 EXPUNGE", "* 2 EXPUNGE"},
			wantB: []string{"* 9 EXPUNGE", "* 5 EXPUNGE", "* 2 EXPUNGE"},
		},
		{
			name: "three added at once, one EXISTS",
			uids: uidRange(1, 5),
			act: func(h *harness, _ *rawClient) {
				h.apply(idle.Change{Added: []imap.UID{6, 7, 8}}, nil)
			},
			wantA: []string{"* 8 EXISTS"},
			wantB: []string{"* 8 EXISTS"},
		},
		{
			name: "expunge everything, no EXISTS 0",
			uids: uidRange(1, 3),
			act: func(h *harness, _ *rawClient) {
				h.apply(idle.Change{Expunged: uidRange(1, 3)}, nil)
			},
			wantA: []string{"* 3 EXPUNGE", "* 2 EXPUNGE", "* 1 EXPUNGE"},
			wantB: []string{"* 3 EXPUNGE", "* 2 EXPUNGE", "* 1 EXPUNGE"},
		},
		{
			name: "expunge and add keeping the count: EXISTS after EXPUNGE",
			uids: uidRange(1, 3),
			act: func(h *harness, _ *rawClient) {
				h.apply(idle.Change{Expunged: []imap.UID{2}}, nil)
				h.apply(idle.Change{Added: []imap.UID{4}}, nil)
			},
			wantA: []string{"* 2 EXPUNGE", "* 3 EXISTS"},
			wantB: []string{"* 2 EXPUNGE", "* 3 EXISTS"},
		},
		{
			name: "flag change of an expunged UID is not sent, later ones use new seq",
			uids: uidRange(1, 5),
			act: func(h *harness, _ *rawClient) {
				h.apply(idle.Change{Flags: map[imap.UID][]imap.Flag{3: seen, 4: seen}}, nil)
				h.apply(idle.Change{Expunged: []imap.UID{3}}, nil)
			},
			wantA: []string{"* 3 EXPUNGE", `* 3 FETCH (UID 4 FLAGS (\Seen))`},
			wantB: []string{"* 3 EXPUNGE", `* 3 FETCH (UID 4 FLAGS (\Seen))`},
		},
		{
			name: "flag changes collapse to the latest, ascending seq",
			uids: uidRange(1, 5),
			act: func(h *harness, _ *rawClient) {
				h.apply(idle.Change{Flags: map[imap.UID][]imap.Flag{5: seen, 2: seen}}, nil)
				h.apply(idle.Change{Flags: map[imap.UID][]imap.Flag{2: {imap.FlagFlagged}}}, nil)
			},
			wantA: []string{`* 2 FETCH (UID 2 FLAGS (\Flagged))`, `* 5 FETCH (UID 5 FLAGS (\Seen))`},
			wantB: []string{`* 2 FETCH (UID 2 FLAGS (\Flagged))`, `* 5 FETCH (UID 5 FLAGS (\Seen))`},
		},
		{
			name: "keyword: FLAGS before FETCH, then EXPUNGE, EXISTS, FETCH",
			uids: uidRange(1, 5),
			act: func(h *harness, _ *rawClient) {
				h.apply(idle.Change{
					Expunged:     []imap.UID{1},
					Added:        []imap.UID{6},
					Flags:        map[imap.UID][]imap.Flag{4: {"$Work"}},
					MailboxFlags: []imap.Flag{imap.FlagSeen, "$Work"},
				}, nil)
			},
			wantA: []string{`* FLAGS (\Seen $Work)`, "* 1 EXPUNGE", "* 5 EXISTS", `* 3 FETCH (UID 4 FLAGS ($Work))`},
			wantB: []string{`* FLAGS (\Seen $Work)`, "* 1 EXPUNGE", "* 5 EXISTS", `* 3 FETCH (UID 4 FLAGS ($Work))`},
		},
		{
			name: "own STORE and EXPUNGE are not echoed",
			uids: uidRange(1, 4),
			act: func(_ *harness, a *rawClient) {
				if got, want := a.cmd(`STORE 2 +FLAGS (\Deleted)`), []string{`* 2 FETCH (UID 2 FLAGS (\Deleted))`}; !slices.Equal(got, want) {
					t.Errorf("STORE: got %q, want %q", got, want)
				}
				if got, want := a.cmd("EXPUNGE"), []string{"* 2 EXPUNGE"}; !slices.Equal(got, want) {
					t.Errorf("EXPUNGE: got %q, want %q", got, want)
				}
			},
			wantA: nil,
			// The flag change was pending for b when 2 was expunged: dropped.
			wantB: []string{"* 2 EXPUNGE"},
		},
		{
			name: "own STORE of a new keyword announces FLAGS to both",
			uids: uidRange(1, 2),
			act: func(_ *harness, a *rawClient) {
				if got, want := a.cmd("STORE 1 +FLAGS.SILENT ($Later)"), []string{`* FLAGS (\Seen $Later)`}; !slices.Equal(got, want) {
					t.Errorf("STORE: got %q, want %q", got, want)
				}
			},
			wantA: nil,
			wantB: []string{`* FLAGS (\Seen $Later)`, `* 1 FETCH (UID 1 FLAGS ($Later))`},
		},
		{
			name: "unknown UIDs and re-used UIDs are ignored",
			uids: uidRange(1, 3),
			act: func(h *harness, _ *rawClient) {
				h.apply(idle.Change{Expunged: []imap.UID{3, 77}, Flags: map[imap.UID][]imap.Flag{99: seen}}, nil)
				h.apply(idle.Change{Added: []imap.UID{2, 3, 0}}, nil)
			},
			wantA: []string{"* 3 EXPUNGE"},
			wantB: []string{"* 3 EXPUNGE"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.uids, []imap.Flag{imap.FlagSeen})
			a, b := h.dial(t), h.dial(t)
			tt.act(h, a)
			if got := a.cmd("NOOP"); !slices.Equal(got, tt.wantA) {
				t.Errorf("a: got %q, want %q", got, tt.wantA)
			}
			if got := b.cmd("NOOP"); !slices.Equal(got, tt.wantB) {
				t.Errorf("b: got %q, want %q", got, tt.wantB)
			}
			want := h.mbox.UIDs()
			for _, c := range []*rawClient{a, b} {
				if got := c.fetchUIDs(); !slices.Equal(got, want) {
					t.Errorf("client sees %v, mailbox has %v", got, want)
				}
				if got := c.cmd("NOOP"); len(got) != 0 {
					t.Errorf("second NOOP: got %q", got)
				}
				if flags, mf, shared := idle.PendingState(c.view()); flags != 0 || mf || !shared {
					t.Errorf("up-to-date view: pending flags %d, FLAGS %v, shares snapshot %v", flags, mf, shared)
				}
			}
		})
	}
}

// TestView_PollNoExpunge checks that FETCH, STORE and SEARCH-time polls
// (allowExpunge=false) defer EXPUNGE but announce new messages.
func TestView_PollNoExpunge(t *testing.T) {
	h := newHarness(t, uidRange(1, 5), nil)
	a := h.dial(t)
	h.apply(idle.Change{
		Expunged: []imap.UID{2},
		Added:    []imap.UID{6},
		Flags:    map[imap.UID][]imap.Flag{4: {imap.FlagSeen}},
	}, nil)

	want := []string{"* 1 FETCH (UID 1 FLAGS ())", "* 6 EXISTS", `* 4 FETCH (UID 4 FLAGS (\Seen))`}
	if got := a.cmd("FETCH 1 (FLAGS)"); !slices.Equal(got, want) {
		t.Fatalf("FETCH: got %q, want %q", got, want)
	}
	if got, want := a.view().UIDs(), []imap.UID{1, 2, 3, 4, 5, 6}; !slices.Equal(got, want) {
		t.Fatalf("view during deferred expunge: %v, want %v", got, want)
	}
	// Another change during the deferral: the new message is appended, the
	// flag change of the (still visible) expunged one is dropped.
	h.apply(idle.Change{Added: []imap.UID{7}, Flags: map[imap.UID][]imap.Flag{2: {imap.FlagSeen}}}, nil)
	want = []string{"* 1 FETCH (UID 1 FLAGS ())", "* 7 EXISTS"}
	if got := a.cmd("FETCH 1 (FLAGS)"); !slices.Equal(got, want) {
		t.Fatalf("second FETCH: got %q, want %q", got, want)
	}
	if got := a.cmd("FETCH 1 (FLAGS)"); !slices.Equal(got, want[:1]) {
		t.Fatalf("third FETCH: got %q, want %q", got, want[:1])
	}
	if got, want := a.cmd("NOOP"), []string{"* 2 EXPUNGE"}; !slices.Equal(got, want) {
		t.Fatalf("NOOP: got %q, want %q", got, want)
	}
	if got, want := a.fetchUIDs(), h.mbox.UIDs(); !slices.Equal(got, want) {
		t.Fatalf("client sees %v, mailbox has %v", got, want)
	}
}

// TestView_IdleFlushesAtStart checks that changes made between the last
// command and IDLE are sent as soon as IDLE starts (the Cyrus bug).
func TestView_IdleFlushesAtStart(t *testing.T) {
	h := newHarness(t, uidRange(1, 3), nil)
	a := h.dial(t)
	h.apply(idle.Change{Expunged: []imap.UID{2}, Added: []imap.UID{4, 5}}, nil)
	a.idle()
	a.expectLines("* 2 EXPUNGE", "* 4 EXISTS")
	if got := a.done(); len(got) != 0 {
		t.Fatalf("after DONE: %q", got)
	}
}

// TestView_IdleWakes checks that each change reaches an idling client.
func TestView_IdleWakes(t *testing.T) {
	h := newHarness(t, uidRange(1, 3), nil)
	a, b := h.dial(t), h.dial(t)
	a.idle()
	b.idle()
	steps := []struct {
		change idle.Change
		want   []string
	}{
		{idle.Change{Added: []imap.UID{4}}, []string{"* 4 EXISTS"}},
		{idle.Change{Expunged: []imap.UID{1, 3}}, []string{"* 3 EXPUNGE", "* 1 EXPUNGE"}},
		{idle.Change{Flags: map[imap.UID][]imap.Flag{4: {imap.FlagAnswered}}}, []string{`* 2 FETCH (UID 4 FLAGS (\Answered))`}},
		{idle.Change{MailboxFlags: []imap.Flag{"$X"}}, []string{"* FLAGS ($X)"}},
	}
	for _, s := range steps {
		h.apply(s.change, nil)
		a.expectLines(s.want...)
		b.expectLines(s.want...)
	}
	for _, c := range []*rawClient{a, b} {
		if got := c.done(); len(got) != 0 {
			t.Fatalf("after DONE: %q", got)
		}
	}
}

// TestView_IdleTwice checks that a second concurrent Idle of a view fails.
func TestView_IdleTwice(t *testing.T) {
	h := newHarness(t, uidRange(1, 3), nil)
	a := h.dial(t)
	h.apply(idle.Change{Added: []imap.UID{4}}, nil)
	a.idle()
	a.expectLines("* 4 EXISTS") // the first Idle is running
	stop := make(chan struct{})
	close(stop)
	if err := a.view().Idle(nil, stop); err != idle.ErrAlreadyIdling {
		t.Fatalf("second Idle: %v, want ErrAlreadyIdling", err)
	}
	a.done()
	if err := a.view().Idle(nil, stop); err != nil {
		t.Fatalf("Idle after DONE: %v", err)
	}
}

// TestView_IdleKeepalive checks that the keepalive hook runs while idling and
// that its error ends Idle.
func TestView_IdleKeepalive(t *testing.T) {
	h := newHarness(t, uidRange(1, 3), nil)
	calls := make(chan struct{})
	n := 0
	h.sessMu.Lock()
	h.keepEvery = 1 // as fast as the ticker goes; no timing is asserted
	h.keepalive = func() error {
		n++
		if n == 3 {
			close(calls)
			return errKeepalive
		}
		return nil
	}
	h.sessMu.Unlock()
	a := h.dial(t)
	a.idle()
	<-calls
	// Idle returned the error; the server still waits for DONE and then
	// reports a failure.
	a.write("DONE")
	if l := a.readLine(); !strings.HasPrefix(l, "i ") || strings.HasPrefix(l, "i OK") {
		t.Fatalf("after keepalive error: %q", l)
	}
}

// TestView_ShowFlags: a FETCH written outside Poll never shows a keyword
// the client has not been given in FLAGS; the next Poll writes the FLAGS
// list, then the full flags. A flag change that reaches a view without a
// FLAGS list naming its keyword gets one too.
func TestView_ShowFlags(t *testing.T) {
	h := newHarness(t, uidRange(1, 2), []imap.Flag{imap.FlagSeen})
	a := h.dial(t)
	h.apply(idle.Change{MailboxFlags: []imap.Flag{imap.FlagSeen, "$X"}, Flags: map[imap.UID][]imap.Flag{1: {"$X"}}}, nil)
	if got := a.view().ShowFlags(2, []imap.Flag{"$x", imap.FlagSeen, `\Recent`}); !slices.Equal(got, []imap.Flag{imap.FlagSeen, `\Recent`}) {
		t.Errorf("ShowFlags = %v", got)
	}
	if got, want := a.cmd("NOOP"), []string{`* FLAGS (\Seen $X)`, `* 1 FETCH (UID 1 FLAGS ($X))`, `* 2 FETCH (UID 2 FLAGS ($x \Seen))`}; !slices.Equal(got, want) {
		t.Errorf("NOOP = %q, want %q", got, want)
	}
	if got := a.view().ShowFlags(2, []imap.Flag{"$X"}); !slices.Equal(got, []imap.Flag{"$X"}) {
		t.Errorf("ShowFlags after FLAGS = %v", got)
	}
	h.apply(idle.Change{Flags: map[imap.UID][]imap.Flag{1: {"$Y"}}}, nil)
	if got, want := a.cmd("NOOP"), []string{`* FLAGS (\Seen $X $Y)`, `* 1 FETCH (UID 1 FLAGS ($Y))`}; !slices.Equal(got, want) {
		t.Errorf("NOOP = %q, want %q", got, want)
	}
}

// TestView_WriteObserver checks that a view reports, after writing, the
// earliest Seen time of the changes it wrote, and nothing for changes
// without one (a session's own).
func TestView_WriteObserver(t *testing.T) {
	h := newHarness(t, uidRange(1, 3), nil)
	seen := make(chan time.Time, 8)
	h.onWritten = func(at time.Time) { seen <- at }
	a := h.dial(t)
	early, late := time.Unix(1000, 0), time.Unix(2000, 0)

	// Two changes pending before one poll (NOOP): the earlier time.
	h.apply(idle.Change{Added: []imap.UID{4}, Seen: late}, nil)
	h.apply(idle.Change{Flags: map[imap.UID][]imap.Flag{1: {imap.FlagSeen}}, Seen: early}, nil)
	a.cmd("NOOP")
	if got := <-seen; !got.Equal(early) {
		t.Errorf("observed %v, want the earliest Seen %v", got, early)
	}

	// A change a session made is not a push.
	h.apply(idle.Change{Added: []imap.UID{5}}, nil)
	a.idle()
	a.expectLines("* 5 EXISTS")
	h.apply(idle.Change{Expunged: []imap.UID{2}, Seen: late}, nil)
	a.expectLines("* 2 EXPUNGE")
	if got := a.done(); len(got) != 0 {
		t.Fatalf("after DONE: %q", got)
	}
	if got := <-seen; !got.Equal(late) {
		t.Errorf("observed %v, want %v", got, late)
	}
	select {
	case got := <-seen:
		t.Errorf("extra observation %v", got)
	default:
	}
}
