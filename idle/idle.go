package idle

import (
	"errors"
	"fmt"
	"time"
)

// ErrAlreadyIdling is returned by [View.Idle] when another Idle of the same
// view is running.
var ErrAlreadyIdling = errors.New("idle: View.Idle is already running")

// Idle writes updates through w until stop is closed, then returns nil. It
// polls at once, as Dovecot does: changes made between the last command and
// IDLE must not wait for the next change (the Cyrus bug,
// cyrusimap/cyrus-imapd#3668, which imapserver.SessionTracker.Idle shares).
// Then it polls whenever [Mailbox.Apply] changes the mailbox. It returns the
// first write error. It is called from the goroutine imapserver starts for
// IDLE, which counts as the session's while the session waits for DONE.
// Only one Idle (or IdleWithKeepalive) per view may run at a time.
func (v *View) Idle(w UpdateWriter, stop <-chan struct{}) error {
	return v.IdleWithKeepalive(w, stop, 0, nil)
}

// IdleWithKeepalive is [View.Idle] that also calls keepalive every interval
// while idling, so that the backend can write "* OK Still here" (Dovecot
// does every 2 minutes; mobile NATs drop silent flows after 5 to 15
// minutes). A keepalive error ends the call and is returned. With
// every <= 0 or a nil keepalive it is Idle.
func (v *View) IdleWithKeepalive(w UpdateWriter, stop <-chan struct{}, every time.Duration, keepalive func() error) error {
	m := v.mbox
	m.mu.Lock()
	busy := v.idling
	v.idling = true
	m.mu.Unlock()
	if busy {
		return ErrAlreadyIdling
	}
	defer func() {
		m.mu.Lock()
		v.idling = false
		m.mu.Unlock()
	}()

	// A stale signal would only cause an empty poll; drop it.
	select {
	case <-v.wake:
	default:
	}
	if err := v.Poll(w, true); err != nil {
		return err
	}

	var tick <-chan time.Time
	if every > 0 && keepalive != nil {
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-stop:
			return nil
		case <-v.wake:
			if err := v.Poll(w, true); err != nil {
				return err
			}
		case <-tick:
			if err := keepalive(); err != nil {
				return fmt.Errorf("idle: keepalive: %w", err)
			}
		}
	}
}
