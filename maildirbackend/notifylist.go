package maildirbackend

import (
	"slices"

	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/imapd"
)

// listState is the folder list and the subscriptions a NOTIFY session last
// reported (or found at NOTIFY SET): FlushNotify compares the disk with
// them, so that a folder created, renamed or removed by another program is
// reported as one made by a session. A rename is a folder gone and one
// added in the same flush whose directory is the same (device and inode).
type listState struct {
	names map[string]dirID // folders by mailbox name, INBOX excluded
	subs  map[string]bool
}

// reset reads the current list and subscriptions.
func (l *listState) reset(s *Session, dirs map[string]string) {
	l.names = make(map[string]dirID, len(dirs))
	for name, path := range dirs {
		if id, err := statFolderDir(path, false); err == nil {
			l.names[name] = id
		}
	}
	l.subs = map[string]bool{}
	if list, err := s.readSubscriptions(); err == nil {
		for _, name := range list {
			l.subs[name] = true
		}
	}
}

func (l *listState) isSubscribed(name string) bool { return l.subs[name] }

// listChange is one mailbox-list change to report.
type listChange struct {
	data  imap.ListData
	event imapd.NotifyEvent // MailboxName or SubscriptionChange
	names []string          // the names a group must match (both of a rename)
}

// diff compares the disk with l, updates l and returns the changes in
// Dovecot's order: removals, renames, creations, subscriptions,
// unsubscriptions.
func (l *listState) diff(s *Session) ([]listChange, error) {
	dirs, err := s.folders()
	if err != nil {
		return nil, err
	}
	subList, err := s.readSubscriptions()
	if err != nil {
		return nil, err
	}
	var gone []string
	for name := range l.names {
		if _, ok := dirs[name]; !ok {
			gone = append(gone, name)
		}
	}
	added := map[string]dirID{}
	for name, path := range dirs {
		if _, ok := l.names[name]; ok {
			continue
		}
		if id, err := statFolderDir(path, false); err == nil {
			added[name] = id
		}
	}
	var removals, renames, creations []listChange
	for _, g := range sortedStrings(gone) {
		old := l.names[g]
		delete(l.names, g)
		if to, ok := renamedTo(added, old); ok {
			l.names[to] = old
			delete(added, to)
			renames = append(renames, listChange{data: imap.ListData{Mailbox: to, Delim: Delim, OldName: g}, event: imapd.NotifyMailboxName, names: []string{g, to}})
			continue
		}
		removals = append(removals, listChange{data: imap.ListData{Mailbox: g, Delim: Delim, Attrs: []imap.MailboxAttr{imap.MailboxAttrNonExistent}}, event: imapd.NotifyMailboxName, names: []string{g}})
	}
	for _, a := range sortedStrings(keysOf(added)) {
		l.names[a] = added[a]
		creations = append(creations, listChange{data: imap.ListData{Mailbox: a, Delim: Delim}, event: imapd.NotifyMailboxName, names: []string{a}})
	}
	changes := append(append(removals, renames...), creations...)
	now := make(map[string]bool, len(subList))
	for _, name := range subList {
		now[name] = true
	}
	for _, name := range sortedStrings(keysOf(now)) {
		if !l.subs[name] {
			changes = append(changes, listChange{data: imap.ListData{Mailbox: name, Delim: Delim, Attrs: []imap.MailboxAttr{imap.MailboxAttrSubscribed}}, event: imapd.NotifySubscriptionChange, names: []string{name}})
		}
	}
	for _, name := range sortedStrings(keysOf(l.subs)) {
		if !now[name] {
			changes = append(changes, listChange{data: imap.ListData{Mailbox: name, Delim: Delim}, event: imapd.NotifySubscriptionChange, names: []string{name}})
		}
	}
	l.subs = now
	return changes, nil
}

// renamedTo finds the added folder whose directory is id.
func renamedTo(added map[string]dirID, id dirID) (string, bool) {
	for name, a := range added {
		if a == id {
			return name, true
		}
	}
	return "", false
}

// flushList reports the mailbox-list changes the groups ask for, and
// follows them with the folder watches.
func (n *notifier) flushList(w *imapd.NotifyWriter) error {
	if n.list == nil || n.isStopped() {
		return nil
	}
	changes, err := n.list.diff(n.s)
	if err != nil {
		n.s.b.log.Debug("NOTIFY: reading the folder list", "user", n.s.user, "err", err)
		return nil
	}
	var out []imap.ListData
	for _, c := range changes {
		for _, name := range c.names {
			if n.eventsFor(name, n.list.isSubscribed)&c.event != 0 {
				out = append(out, c.data)
				break
			}
		}
	}
	if len(out) > n.limit || len(n.list.names) > n.listLimit() {
		return n.overflow(w)
	}
	if err := n.rewatch(changes); err != nil {
		return n.overflow(w)
	}
	for i := range out {
		if err := w.WriteList(&out[i]); err != nil {
			return err
		}
	}
	return nil
}

// rewatch follows list changes with the folder watches: a folder gone is
// no longer watched, a new one (or one subscribed) is when its groups ask.
func (n *notifier) rewatch(changes []listChange) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopped {
		return nil
	}
	for _, c := range changes {
		for _, name := range c.names {
			if _, exists := n.list.names[name]; !exists && name != inboxName {
				if nf := n.folders[name]; nf != nil {
					nf.sub.Close()
					delete(n.folders, name)
				}
				continue
			}
			if err := n.watchLocked(name); err != nil {
				return err
			}
		}
	}
	return nil
}

func keysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func sortedStrings(s []string) []string {
	slices.Sort(s)
	return s
}
