package idle

import (
	"sync"
	"time"
)

// IdleFunc is [View.IdleWithKeepalive] without a goroutine of its own while
// nothing happens: it polls at once, then, whenever [Mailbox.Apply] changes
// the mailbox, polls in a goroutine that exists only while it writes, and
// calls keepalive every interval from a timer. A server whose connection
// goroutine already waits for the client's DONE then holds one goroutine
// per idle connection instead of two.
//
// fail is called (once, from that goroutine or the timer's) with the first
// error of a poll or a keepalive; idling stops then. stop ends idling and
// waits for a poll or keepalive being written; after it returns nothing is
// written. Only one Idle, IdleWithKeepalive or IdleFunc per view may run.
func (v *View) IdleFunc(w UpdateWriter, every time.Duration, keepalive func() error, fail func(error)) (stop func(), err error) {
	m := v.mbox
	m.mu.Lock()
	busy := v.idling
	v.idling = true
	m.mu.Unlock()
	if busy {
		return nil, ErrAlreadyIdling
	}
	select { // a stale signal would only cause an empty poll
	case <-v.wake:
	default:
	}
	if err := v.Poll(w, true); err != nil {
		m.mu.Lock()
		v.idling = false
		m.mu.Unlock()
		return nil, err
	}
	r := &idleRun{v: v, w: w, keepalive: keepalive, fail: fail, every: every, done: make(chan struct{})}
	m.mu.Lock()
	v.notify = r.changed
	pending := len(v.wake) > 0
	m.mu.Unlock()
	if pending {
		r.changed()
	}
	if every > 0 && keepalive != nil {
		r.mu.Lock()
		r.timer = time.AfterFunc(every, r.tick)
		r.mu.Unlock()
	}
	return r.stop, nil
}

// idleRun is one IdleFunc.
type idleRun struct {
	v         *View
	w         UpdateWriter
	keepalive func() error
	fail      func(error)
	every     time.Duration
	done      chan struct{} // closed by stop

	mu      sync.Mutex
	busy    sync.WaitGroup // a poll or keepalive being written
	polling bool           // a poll goroutine runs
	again   bool           // a change came while it ran
	timer   *time.Timer
	stopped bool
	failed  bool
}

// changed is the view's notify function: it runs with the mailbox lock
// held, so it only starts (or re-arms) the poll goroutine.
func (r *idleRun) changed() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped || r.failed {
		return
	}
	if r.polling {
		r.again = true
		return
	}
	r.polling = true
	r.busy.Add(1)
	go r.poll()
}

func (r *idleRun) poll() {
	defer r.busy.Done()
	for {
		select { // the signal is consumed here, not by a waiting Idle
		case <-r.v.wake:
		default:
		}
		err := r.v.Poll(r.w, true)
		r.mu.Lock()
		if err != nil && !r.stopped && !r.failed {
			r.failed = true
			r.polling = false
			r.mu.Unlock()
			r.fail(err)
			return
		}
		if !r.again || r.stopped {
			r.polling = false
			r.mu.Unlock()
			return
		}
		r.again = false
		r.mu.Unlock()
	}
}

func (r *idleRun) tick() {
	r.mu.Lock()
	if r.stopped || r.failed {
		r.mu.Unlock()
		return
	}
	r.busy.Add(1)
	r.mu.Unlock()
	defer r.busy.Done()
	if err := r.keepalive(); err != nil {
		r.mu.Lock()
		first := !r.failed && !r.stopped
		r.failed = true
		r.mu.Unlock()
		if first {
			r.fail(err)
		}
		return
	}
	r.mu.Lock()
	if !r.stopped && !r.failed {
		r.timer.Reset(r.every)
	}
	r.mu.Unlock()
}

// stop ends idling; see IdleFunc.
func (r *idleRun) stop() {
	m := r.v.mbox
	m.mu.Lock()
	r.v.notify = nil
	m.mu.Unlock()
	r.mu.Lock()
	r.stopped = true
	if r.timer != nil {
		r.timer.Stop()
	}
	r.mu.Unlock()
	r.busy.Wait()
	m.mu.Lock()
	r.v.idling = false
	m.mu.Unlock()
}
