package idle

// observer is one function registered with Mailbox.Observe.
type observer struct{ fn func() }

// Observe registers fn, which is called after every [Mailbox.Apply] that
// changed the mailbox's UID list, a message's flags or the FLAGS list,
// after the views have been told. It is called with the mailbox's lock
// held: it must not block or call the Mailbox; typically it sets a flag
// and starts a goroutine. The returned function removes it (idempotent).
//
// A NOTIFY session uses it to learn of changes to its selected mailbox
// without a view of its own.
func (m *Mailbox) Observe(fn func()) (cancel func()) {
	o := &observer{fn: fn}
	m.mu.Lock()
	if m.observers == nil {
		m.observers = make(map[*observer]struct{})
	}
	m.observers[o] = struct{}{}
	m.mu.Unlock()
	return func() {
		m.mu.Lock()
		delete(m.observers, o)
		m.mu.Unlock()
	}
}
