package maildirbackend

import (
	"testing"
	"time"
)

// TestFTSSlot_yieldToScans: an indexer's pause for a search that reads
// message files lasts until the search ends, or its limit, or the
// indexer's stop.
func TestFTSSlot_yieldToScans(t *testing.T) {
	returns := func(s *ftsSlot, stop <-chan struct{}, limit time.Duration) <-chan struct{} {
		ch := make(chan struct{})
		go func() { s.yieldToScans(stop, limit); close(ch) }()
		return ch
	}
	waitClosed := func(ch <-chan struct{}, what string) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: the indexer still waits", what)
		}
	}

	s := newFTSSlot()
	waitClosed(returns(s, nil, time.Hour), "no search")

	done := s.scanning()
	ch := returns(s, nil, time.Hour)
	select {
	case <-ch:
		t.Fatal("the indexer went on while a search read files")
	case <-time.After(100 * time.Millisecond):
	}
	done()
	waitClosed(ch, "after the search ended")

	done = s.scanning()
	defer done()
	waitClosed(returns(s, nil, 10*time.Millisecond), "after its limit")
	stop := make(chan struct{})
	ch = returns(s, stop, time.Hour)
	close(stop)
	waitClosed(ch, "after stop")
}
