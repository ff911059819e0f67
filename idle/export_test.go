package idle

// PendingState reports the view's pending state for tests: the number of
// pending flag changes, whether a FLAGS list is pending, and whether the view's
// UID list is the mailbox's current snapshot slice (shared, not a copy).
func PendingState(v *View) (flags int, mailboxFlags, shared bool) {
	m := v.mbox
	m.mu.Lock()
	defer m.mu.Unlock()
	shared = len(v.uids) == len(m.uids) && (len(v.uids) == 0 || &v.uids[0] == &m.uids[0])
	return len(v.pendingFlags), v.pendingMailboxFlags != nil, shared
}
