package maildirbackend

import (
	"runtime"
	"sync/atomic"
	"time"
)

// ftsSlot is the process's one indexing slot: however many folders are
// open (a client polling STATUS of every folder opens them all), one
// indexer reads and indexes messages at a time, and the others wait for
// the slot in the order they asked. A slot holder gives it up after each
// batch of ftsSlotDocs documents, so a large folder's first build does
// not keep a small folder's delivery unindexed for its whole length.
type ftsSlot struct {
	ch    chan struct{}
	scans atomic.Int32 // SEARCHes of this process reading message files now
}

// ftsSlotDocs is how many documents an indexer adds per turn of the slot.
const ftsSlotDocs = 500

func newFTSSlot() *ftsSlot { return &ftsSlot{ch: make(chan struct{}, 1)} }

// acquire waits for the slot, or for stop to be closed (then it reports
// false and holds nothing).
func (s *ftsSlot) acquire(stop <-chan struct{}) bool {
	select {
	case s.ch <- struct{}{}:
		return true
	case <-stop:
		return false
	}
}

func (s *ftsSlot) release() { <-s.ch }

// scanning notes a SEARCH that reads message files until done is called:
// meanwhile the indexer yields to it (see ftsPace).
func (s *ftsSlot) scanning() (done func()) {
	s.scans.Add(1)
	return func() { s.scans.Add(-1) }
}

// ftsScanShare is how much of its paced time an indexer gives up while
// searches read message files: it pauses while they run, but at most
// this many times as long as it worked, so that a server searched
// without pause still builds its index (at a quarter of the pace).
const ftsScanShare = 3

// yieldToScans waits while a search reads message files, for at most
// limit or until stop is closed.
func (s *ftsSlot) yieldToScans(stop <-chan struct{}, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for s.scans.Load() > 0 {
		left := time.Until(deadline)
		if left <= 0 {
			return
		}
		t := time.NewTimer(min(left, 5*time.Millisecond))
		select {
		case <-t.C:
		case <-stop:
			t.Stop()
			return
		}
	}
}

// ftsPace makes an indexer yield to IMAP work: after every ftsPaceDocs
// documents it sleeps as long as they took, so it uses at most half of
// one core, and while it sleeps the Go scheduler's P and the garbage
// collector's share of the CPU are free for sessions, deliveries and
// pushes. (Lowering the thread's nice value was measured and did not
// help: a starved thread that holds a P delays the goroutines queued on
// it.)
type ftsPace struct {
	slot  *ftsSlot // may be nil: no yielding to searches
	n     int
	start time.Time
}

// ftsPaceDocs is how many documents an indexer adds between two pauses.
const ftsPaceDocs = 16

// done counts one document and pauses after every ftsPaceDocs, returning
// early when stop is closed.
func (p *ftsPace) done(stop <-chan struct{}) {
	if p.n == 0 {
		p.start = time.Now()
	}
	p.n++
	if p.n < ftsPaceDocs {
		runtime.Gosched()
		return
	}
	p.n = 0
	worked := time.Since(p.start)
	t := time.NewTimer(worked)
	defer t.Stop()
	select {
	case <-t.C:
	case <-stop:
		return
	}
	if p.slot != nil {
		// A SEARCH that scans message files (a folder not yet indexed)
		// would share the cores with the indexer: give them to it.
		p.slot.yieldToScans(stop, ftsScanShare*worked)
	}
}
