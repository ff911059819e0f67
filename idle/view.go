package idle

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/emersion/go-imap/v2"
)

// View is one session's view of a [Mailbox]: the UID list the client has been
// told about, and the changes not yet sent to it. Create it with
// [Mailbox.NewView] and release it with [View.Close].
//
// A view is used by one session: Poll, Idle, UIDs, SeqNum, UID and Len are
// called from that session's goroutine (Idle's goroutine counts as the
// session's while it runs), concurrently with [Mailbox.Apply] from any
// goroutine.
type View struct {
	mbox *Mailbox      // immutable
	wake chan struct{} // immutable; cap 1; signalled by Apply

	// flagsFilter, when set, rewrites the flags of each FETCH FLAGS this
	// view writes; set before the view is used, then read-only.
	flagsFilter func(uid imap.UID, flags []imap.Flag) []imap.Flag
	// onWritten, when set, is told when the oldest change seen on disk
	// that a Poll wrote was seen; set before the view is used.
	onWritten func(seen time.Time)

	// Guarded by mbox.mu.
	uids    []imap.UID // the client's list; contents immutable; == mbox.uids when version == mbox.version
	version uint64     // the mailbox version uids was taken from
	// pendingFlags holds the latest unsent flags per UID; nil when empty.
	pendingFlags map[imap.UID][]imap.Flag
	// pendingModSeq holds the modification sequence of each pending
	// flag change that had one (modseq.go); nil when empty.
	pendingModSeq map[imap.UID]uint64
	// condStore and qresync are the session's RFC 7162 state (modseq.go).
	condStore, qresync bool
	// pendingMailboxFlags is the unsent FLAGS list; nil when none.
	pendingMailboxFlags []imap.Flag
	// known is the last FLAGS list the client was given (read-only
	// contents): keywords outside it are not shown (see ShowFlags).
	known []imap.Flag
	// seen is the earliest Change.Seen among the pending changes; zero
	// when none came from disk.
	seen   time.Time
	idling bool
	closed bool
	// notify, when set, is called (with mbox.mu held) after each wake:
	// IdleFunc's way to learn of changes without a waiting goroutine.
	notify func()
}

// flagUpdate is one FETCH FLAGS response to write.
type flagUpdate struct {
	seq    uint32
	uid    imap.UID
	flags  []imap.Flag
	modSeq uint64 // 0: unknown
}

// SetFlagsFilter installs f to rewrite the flags of every FETCH FLAGS the
// view writes, for session-specific flags such as \Recent (RFC 3501: one
// session sees a message as recent). f is called from Poll and Idle, with
// no lock of this package held; the flags it receives must not be
// modified. Call it before the view's first Poll or Idle.
func (v *View) SetFlagsFilter(f func(uid imap.UID, flags []imap.Flag) []imap.Flag) {
	v.flagsFilter = f
}

// SetWriteObserver installs f, which Poll and Idle call after writing
// updates that include a change seen on disk ([Change].Seen), with the
// earliest such time: the backend measures push latency with it. f is
// called with no lock of this package held. Call it before the view's
// first Poll or Idle.
func (v *View) SetWriteObserver(f func(seen time.Time)) {
	v.onWritten = f
}

// dropPendingLocked forgets pending flag changes of the sorted UIDs uids.
func (v *View) dropPendingLocked(uids []imap.UID) {
	if v.pendingFlags == nil {
		return
	}
	for _, uid := range uids {
		delete(v.pendingFlags, uid)
		delete(v.pendingModSeq, uid)
	}
	if len(v.pendingFlags) == 0 {
		v.pendingFlags, v.pendingModSeq = nil, nil
	}
}

// wakeLocked signals a running Idle without blocking; a signal already
// pending is enough, since Poll reads state, not events.
func (v *View) wakeLocked() {
	select {
	case v.wake <- struct{}{}:
	default:
	}
	if v.notify != nil {
		v.notify()
	}
}

// Poll brings the client up to date and writes what changed through w, in
// this order:
//
//  1. "* FLAGS" if the mailbox FLAGS list changed, before any FETCH that may
//     show a new keyword: clients learn keywords from FLAGS (RFC 3501
//     section 7.2.6) and ImapTest reports a keyword used before it was in
//     FLAGS.
//  2. If allowExpunge, "* N EXPUNGE" for every message gone from the mailbox,
//     highest sequence number first so that no renumbering is needed, then
//     one "* N EXISTS" if new messages arrived (never when the count only
//     went down, so never "* 0 EXISTS").
//     If !allowExpunge (RFC 3501 section 7.4.1: no EXPUNGE during FETCH,
//     STORE or SEARCH), expunges stay pending and the gone messages keep
//     their sequence numbers, but new messages are still announced: they are
//     appended to the client's list and EXISTS counts them.
//  3. "* N FETCH (UID u FLAGS (...))" for every pending flag change of a
//     message the client sees, in ascending sequence order.
//
// Poll writes without holding any lock. If a write fails it returns the
// error; the state already taken is not re-queued. Poll on a closed view
// writes nothing and returns nil.
func (v *View) Poll(w UpdateWriter, allowExpunge bool) error {
	mailboxFlags, expunges, gone, exists, fetches, seen := v.takeUpdates(allowExpunge)
	if mailboxFlags != nil {
		if err := w.WriteMailboxFlags(mailboxFlags); err != nil {
			return fmt.Errorf("idle: writing FLAGS: %w", err)
		}
	}
	if err := v.writeExpunges(w, expunges, gone); err != nil {
		return err
	}
	if exists > 0 {
		if err := w.WriteNumMessages(exists); err != nil {
			return fmt.Errorf("idle: writing EXISTS: %w", err)
		}
	}
	for _, f := range fetches {
		if v.flagsFilter != nil {
			f.flags = v.flagsFilter(f.uid, f.flags)
		}
		if err := v.writeFlags(w, f); err != nil {
			return fmt.Errorf("idle: writing FETCH FLAGS: %w", err)
		}
	}
	wrote := mailboxFlags != nil || len(expunges) > 0 || exists > 0 || len(fetches) > 0
	if wrote && !seen.IsZero() && v.onWritten != nil {
		v.onWritten(seen)
	}
	return nil
}

// takeUpdates moves the view to the state the client will have after Poll's
// writes and returns those writes: the FLAGS list (nil: none), EXPUNGE
// sequence numbers in write order, the EXISTS count (0: none) and the FETCH
// FLAGS responses in ascending sequence order, and the time the oldest
// of the changes they carry was seen on disk (zero: none was).
func (v *View) takeUpdates(allowExpunge bool) (mailboxFlags []imap.Flag, expunges []uint32, gone []imap.UID, exists uint32, fetches []flagUpdate, seen time.Time) {
	m := v.mbox
	m.mu.Lock()
	defer m.mu.Unlock()
	if v.closed {
		return nil, nil, nil, 0, nil, time.Time{}
	}
	seen = v.seen
	v.seen = time.Time{}

	mailboxFlags, v.pendingMailboxFlags = v.pendingMailboxFlags, nil

	if v.version != m.version {
		old, snap := v.uids, m.uids
		vanished, added := diffUIDs(old, snap)
		switch {
		case allowExpunge || len(vanished) == 0:
			expunges = make([]uint32, 0, len(vanished))
			for i := len(vanished) - 1; i >= 0; i-- {
				expunges = append(expunges, uint32(vanished[i]+1))
			}
			if v.qresync {
				gone = make([]imap.UID, len(vanished))
				for i, at := range vanished {
					gone[i] = old[at]
				}
			}
			if len(added) > 0 {
				exists = uint32(len(snap))
			}
			v.uids, v.version = snap, m.version
		case len(added) > 0:
			// Keep the vanished UIDs (their EXPUNGE is deferred) and
			// append the new ones. New UIDs are above every UID the
			// client knows (Apply only adds UIDs above the maximum), the
			// check keeps the list sorted even if that were broken.
			var maxOld imap.UID
			if len(old) > 0 {
				maxOld = old[len(old)-1]
			}
			list := make([]imap.UID, 0, len(old)+len(added))
			list = append(list, old...)
			for _, uid := range added {
				if uid > maxOld {
					list = append(list, uid)
				}
			}
			if len(list) > len(old) {
				v.uids = list
				exists = uint32(len(list))
			}
		}
	}

	if len(v.pendingFlags) > 0 {
		fetches = make([]flagUpdate, 0, len(v.pendingFlags))
		for uid, flags := range v.pendingFlags {
			if seq := seqNumOf(v.uids, uid); seq != 0 {
				fetches = append(fetches, flagUpdate{seq: seq, uid: uid, flags: flags, modSeq: v.pendingModSeq[uid]})
			}
		}
		slices.SortFunc(fetches, func(a, b flagUpdate) int {
			return cmp.Compare(a.seq, b.seq)
		})
	}
	v.pendingFlags, v.pendingModSeq = nil, nil
	if mailboxFlags != nil {
		v.known = mailboxFlags
	}
	if missing := unannouncedLocked(v.known, fetches); missing != nil {
		// A keyword reached a message without a FLAGS list naming
		// it: announce it first rather than break the rule.
		v.announceLocked(missing)
		mailboxFlags, v.pendingMailboxFlags = v.pendingMailboxFlags, nil
		v.known = mailboxFlags
	}
	return mailboxFlags, expunges, gone, exists, fetches, seen
}

// Close unregisters the view from its mailbox and releases its state. It is
// idempotent. After Close, Poll writes nothing, UIDs returns nil, and Apply
// ignores the view.
func (v *View) Close() {
	m := v.mbox
	m.mu.Lock()
	defer m.mu.Unlock()
	if v.closed {
		return
	}
	v.closed = true
	delete(m.views, v)
	v.uids = nil
	v.pendingFlags, v.pendingModSeq = nil, nil
	v.pendingMailboxFlags = nil
}
