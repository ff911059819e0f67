package maildirbackend

import (
	"time"
)

// Retrying failed syncs. A sync the watcher started can fail for a while:
// another process holds dovecot-uidlist.lock, the disk is full, a file is
// unreadable. Its batch of names is consumed, so nothing would look at the
// folder again before the next change or the watcher's safety check, and a
// delivery could stay invisible to IDLE clients. A failed sync is therefore
// retried, as a full sync, with exponential backoff until one succeeds.

const (
	retryMin = 100 * time.Millisecond
	retryMax = 5 * time.Second
)

// syncFailedLocked logs a failed background sync and schedules a retry.
func (f *folder) syncFailedLocked(err error) {
	if f.gone || f.stopped {
		return
	}
	switch {
	case f.retryDelay == 0:
		f.retryDelay = retryMin
	case f.retryDelay < retryMax:
		f.retryDelay = min(2*f.retryDelay, retryMax)
	}
	f.log.Warn("folder sync failed; retrying", "err", err, "in", f.retryDelay)
	if f.retry == nil {
		f.retry = time.AfterFunc(f.retryDelay, f.retrySync)
	} else {
		f.retry.Reset(f.retryDelay)
	}
}

// retrySync runs a full sync after a failure; a success ends the backoff.
func (f *folder) retrySync() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gone || f.stopped || !f.loaded {
		return
	}
	f.background = true
	err := f.syncLocked()
	f.background = false
	if err != nil {
		f.syncFailedLocked(err)
		return
	}
	f.retryDelay = 0
}
