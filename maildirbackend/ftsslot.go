package maildirbackend

import (
	"runtime"
	"time"
)

// ftsSlot is the process's one indexing slot: however many folders are
// open (a client polling STATUS of every folder opens them all), one
// indexer reads and indexes messages at a time, and the others wait for
// the slot in the order they asked. A slot holder gives it up after each
// batch of ftsSlotDocs documents, so a large folder's first build does
// not keep a small folder's delivery unindexed for its whole length.
type ftsSlot chan struct{}

// ftsSlotDocs is how many documents an indexer adds per turn of the slot.
const ftsSlotDocs = 500

func newFTSSlot() ftsSlot { return make(ftsSlot, 1) }

// acquire waits for the slot, or for stop to be closed (then it reports
// false and holds nothing).
func (s ftsSlot) acquire(stop <-chan struct{}) bool {
	select {
	case s <- struct{}{}:
		return true
	case <-stop:
		return false
	}
}

func (s ftsSlot) release() { <-s }

// ftsPace makes an indexer yield to IMAP work: after every ftsPaceDocs
// documents it sleeps as long as they took, so it uses at most half of
// one core, and while it sleeps the Go scheduler's P and the garbage
// collector's share of the CPU are free for sessions, deliveries and
// pushes. (Lowering the thread's nice value was measured and did not
// help: a starved thread that holds a P delays the goroutines queued on
// it.)
type ftsPace struct {
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
	t := time.NewTimer(time.Since(p.start))
	defer t.Stop()
	select {
	case <-t.C:
	case <-stop:
	}
}
