package idle

import (
	"slices"
	"sync"

	"github.com/emersion/go-imap/v2"
)

// Mailbox is the current state of one mailbox, shared by all sessions of the
// process that have it selected: its sorted UID list, its FLAGS list and the
// registered [View]s. Create it with [NewMailbox]. All methods are safe for
// concurrent use.
//
// The backend calls [Mailbox.Apply] for every change, inside the critical
// section that makes the change, so that views see changes in that order. A
// Mailbox with no views (see [Mailbox.Views]) holds no session state and may
// be dropped by the backend.
type Mailbox struct {
	mu      sync.Mutex
	uids    []imap.UID // guarded by mu; sorted; the slice's contents are immutable
	maxUID  imap.UID   // guarded by mu; the highest UID ever held
	version uint64     // guarded by mu; bumped whenever uids is replaced
	flags   []imap.Flag
	views   map[*View]struct{} // guarded by mu
	// observers are called after every Apply that changed something
	// (observe.go); guarded by mu.
	observers map[*observer]struct{}
}

// NewMailbox returns a Mailbox holding uids (in any order; duplicates and
// zeros are dropped) with the FLAGS list flags. It copies both slices.
func NewMailbox(uids []imap.UID, flags []imap.Flag) *Mailbox {
	m := &Mailbox{
		uids:  sortedUIDs(uids),
		flags: cloneFlags(flags),
		views: make(map[*View]struct{}),
	}
	if n := len(m.uids); n > 0 {
		m.maxUID = m.uids[n-1]
	}
	return m
}

// cloneFlags copies flags, returning a non-nil slice.
func cloneFlags(flags []imap.Flag) []imap.Flag {
	return append(make([]imap.Flag, 0, len(flags)), flags...)
}

// Apply records c and wakes every view. from, which may be nil, is the view of
// the session that made the change:
//
//   - every UID of c.Expunged is removed from from's list at once, because
//     that session writes its own EXPUNGE responses (through
//     imapserver.ExpungeWriter or MoveWriter); so compute their sequence
//     numbers with [View.SeqNum] before calling Apply;
//   - c.Flags is not queued to from, which answers its own STORE with FETCH,
//     except that a UID already holding an unsent change for from gets the
//     new flags, so that from never sees stale flags;
//   - c.Added and c.MailboxFlags are queued to from like to every view: the
//     session learns EXISTS from its next [View.Poll] after APPEND or COPY.
//
// A from view that belongs to another mailbox or is closed is treated as nil.
// Apply never blocks on a view and never writes to a client.
func (m *Mailbox) Apply(c Change, from *View) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if from != nil && (from.mbox != m || from.closed) {
		from = nil
	}

	u := applyUIDs(m.uids, m.maxUID, c.Expunged, c.Added)
	m.maxUID = u.maxUID
	if u.changed {
		m.uids = u.next
		m.version++
	}

	var flags map[imap.UID][]imap.Flag
	for uid, f := range c.Flags {
		if !containsUID(m.uids, uid) {
			continue
		}
		if flags == nil {
			flags = make(map[imap.UID][]imap.Flag, len(c.Flags))
		}
		flags[uid] = cloneFlags(f) // shared read-only by every view
	}

	mailboxFlags := c.MailboxFlags != nil && !slices.Equal(c.MailboxFlags, m.flags)
	if mailboxFlags {
		m.flags = cloneFlags(c.MailboxFlags)
	}

	if from != nil && len(u.exp) > 0 {
		from.uids = removeUIDs(from.uids, u.exp)
		from.dropPendingLocked(u.exp)
		if from.version != m.version && slices.Equal(from.uids, m.uids) {
			from.uids, from.version = m.uids, m.version
		}
	}
	if !u.changed && flags == nil && !mailboxFlags {
		return
	}

	for v := range m.views {
		v.dropPendingLocked(u.gone)
		for uid, f := range flags {
			if v == from {
				if _, ok := v.pendingFlags[uid]; !ok {
					continue
				}
			} else if v.pendingFlags == nil {
				v.pendingFlags = make(map[imap.UID][]imap.Flag, len(flags))
			}
			v.pendingFlags[uid] = f
		}
		if mailboxFlags {
			v.pendingMailboxFlags = m.flags
		}
		if !c.Seen.IsZero() && (v.seen.IsZero() || c.Seen.Before(v.seen)) {
			v.seen = c.Seen
		}
		v.wakeLocked()
	}
	for o := range m.observers {
		o.fn()
	}
}

// NewView registers and returns a new view of m, starting at m's current UID
// list with nothing pending: the caller reports that state in its SELECT
// response (EXISTS = [View.Len], FLAGS = [Mailbox.Flags]). The caller must
// call [View.Close] when the session unselects the mailbox or ends.
func (m *Mailbox) NewView() *View {
	m.mu.Lock()
	defer m.mu.Unlock()
	v := &View{
		mbox:    m,
		wake:    make(chan struct{}, 1),
		uids:    m.uids,
		version: m.version,
		known:   m.flags,
	}
	m.views[v] = struct{}{}
	return v
}

// Len returns the number of messages in the mailbox now.
func (m *Mailbox) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.uids)
}

// UIDs returns the mailbox's current sorted UID list. The slice is shared and
// must not be modified.
func (m *Mailbox) UIDs() []imap.UID {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.uids[:len(m.uids):len(m.uids)]
}

// MaxUID returns the highest UID the mailbox has ever held (0 if none): the
// backend's UIDNEXT must stay above it.
func (m *Mailbox) MaxUID() imap.UID {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.maxUID
}

// Flags returns the mailbox's current FLAGS list. The slice is shared and
// must not be modified.
func (m *Mailbox) Flags() []imap.Flag {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.flags[:len(m.flags):len(m.flags)]
}

// Views returns the number of open views of the mailbox.
func (m *Mailbox) Views() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.views)
}
