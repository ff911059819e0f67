package watch

import (
	"sync"
	"time"
)

// Batch is what changed in a folder since the previous [Subscription.Drain].
type Batch struct {
	// Names are the changed entries, each "new/<file>" or "cur/<file>", in the
	// order first seen and without duplicates. A name may have been created,
	// removed or renamed away (fsnotify reports a rename as the old name and
	// then the new one): the consumer stats each name to learn which. Nil when
	// Rescan is set.
	Names []string
	// Rescan means that names were lost (queue overflow, too many pending
	// names, a watched directory removed, a polled folder changed) and the
	// whole folder must be rescanned.
	Rescan bool
	// Seen is when the first change of the batch was seen (the event or
	// the poll that reported it), so that consumers can measure the
	// latency of a push. Zero for an empty batch.
	Seen time.Time
}

// Empty reports whether b holds no change.
func (b Batch) Empty() bool { return len(b.Names) == 0 && !b.Rescan }

// Subscription is one consumer's queue of changes to a folder, returned by
// [Watcher.Subscribe]. The pending names are bounded: past 4096 they collapse
// into a Rescan.
//
// All methods are safe for concurrent use. The subscriber calls
// [Subscription.Close].
type Subscription struct {
	w      *Watcher      // immutable
	f      *folderState  // immutable
	ready  chan struct{} // immutable; cap 1
	notify func()        // immutable; may be nil

	mu     sync.Mutex
	closed bool
	rescan bool
	names  []string
	seen   map[string]struct{} // names, for dedup; may be nil
	since  time.Time           // when the first pending change was seen; zero: none pending
}

func newSubscription(w *Watcher, f *folderState, notify func()) *Subscription {
	return &Subscription{w: w, f: f, ready: make(chan struct{}, 1), notify: notify}
}

// Folder returns the subscribed folder's absolute path, with symbolic links
// resolved.
func (s *Subscription) Folder() string { return s.f.path }

// Ready returns a channel with capacity 1 that receives a value as soon as
// [Subscription.Drain] has something to return. A wakeup may find an empty
// Batch. The channel is never closed.
func (s *Subscription) Ready() <-chan struct{} { return s.ready }

// Drain returns and clears everything pending. It does not block, and returns
// an empty Batch when nothing is pending or the subscription (or its Watcher)
// is closed.
func (s *Subscription) Drain() Batch {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := Batch{Names: s.names, Rescan: s.rescan, Seen: s.since}
	s.names, s.seen, s.rescan, s.since = nil, nil, false, time.Time{}
	// Everything is handed over: a pending wakeup would only find nothing.
	select {
	case <-s.ready:
	default:
	}
	return b
}

// Pending reports whether Drain has something to return.
func (s *Subscription) Pending() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.closed && (s.rescan || len(s.names) > 0)
}

// Close ends the subscription; when it is the folder's last one, the folder's
// watches are removed. Close is idempotent and always returns nil.
func (s *Subscription) Close() error {
	if !s.markClosed() {
		return nil
	}
	s.w.unsubscribe(s)
	return nil
}

// markClosed drops pending changes and reports whether s was open.
func (s *Subscription) markClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.closed = true
	s.names, s.seen, s.rescan, s.since = nil, nil, false, time.Time{}
	return true
}

// add queues name and wakes the consumer.
func (s *Subscription) add(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.rescan {
		return // a pending Rescan covers every name
	}
	if _, dup := s.seen[name]; dup {
		return
	}
	s.markSeenLocked()
	if len(s.names) >= maxPending {
		s.names, s.seen, s.rescan = nil, nil, true
		s.w.rescans.Add(1)
	} else {
		if s.seen == nil {
			s.seen = make(map[string]struct{})
		}
		s.seen[name] = struct{}{}
		s.names = append(s.names, name)
	}
	s.wakeLocked()
}

// setRescan queues a Rescan and wakes the consumer.
func (s *Subscription) setRescan() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.markSeenLocked()
	if !s.rescan {
		s.w.rescans.Add(1)
	}
	s.names, s.seen, s.rescan = nil, nil, true
	s.wakeLocked()
}

// markSeenLocked records when the first pending change was seen.
func (s *Subscription) markSeenLocked() {
	if s.since.IsZero() {
		s.since = time.Now()
	}
}

// wakeLocked signals Ready without blocking; a full channel already holds a
// wakeup that the consumer has not taken yet.
func (s *Subscription) wakeLocked() {
	if s.notify != nil {
		s.notify()
		return
	}
	select {
	case s.ready <- struct{}{}:
	default:
	}
}
