package maildirbackend

import (
	"slices"

	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/imapd"
)

// flush writes what changed since the last flush: the mailbox-list
// changes first, then the STATUS of every dirty folder.
func (n *notifier) flush(w *imapd.NotifyWriter) error {
	n.mu.Lock()
	if n.stopped {
		n.mu.Unlock()
		return nil
	}
	rootDirt := n.rootDirt.Swap(false)
	var dirty []*notifyFolder
	for _, nf := range n.folders {
		if nf.dirty.Swap(false) {
			if nf.name != n.selName {
				dirty = append(dirty, nf)
			}
		}
	}
	n.mu.Unlock()
	if rootDirt {
		for _, r := range n.roots {
			r.Drain()
		}
		if err := n.flushList(w); err != nil {
			return err
		}
	}
	slices.SortFunc(dirty, func(a, b *notifyFolder) int { return compareNames(a.name, b.name) })
	for _, nf := range dirty {
		nf.sub.Drain()
		if err := n.flushFolder(w, nf); err != nil {
			return err
		}
	}
	return nil
}

func compareNames(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// flushFolder writes the STATUS of a folder that changed, when what
// changed is an event its groups ask for.
func (n *notifier) flushFolder(w *imapd.NotifyWriter, nf *notifyFolder) error {
	if n.isStopped() {
		return nil
	}
	if nf.told == nil && nf.stamp != (dirStamp{}) && readDirStamp(nf.sub.Folder()) == nf.stamp {
		return nil
	}
	d, err := n.s.Status(nf.name, &notifyStatus)
	if err != nil {
		return nil // removed meanwhile: the root's report says so
	}
	c := countsOf(d)
	t := nf.told
	send := false
	switch {
	case t == nil || c.uidValidity != t.uidValidity:
		send = true
	case c.messages != t.messages || c.uidNext != t.uidNext:
		send = nf.events&(imapd.NotifyMessageNew|imapd.NotifyMessageExpunge) != 0
	case c.unseen != t.unseen:
		send = nf.events&imapd.NotifyFlagChange != 0
	}
	if !send {
		return nil
	}
	opts := &notifyStatus
	if t != nil && c.messages == t.messages && c.uidNext == t.uidNext && c.uidValidity == t.uidValidity {
		// Only flags changed: UNSEEN alone, as Dovecot sends.
		opts = &imap.StatusOptions{NumUnseen: true}
	}
	nf.told = &c
	return w.WriteStatus(d, opts)
}

func countsOf(d *imap.StatusData) folderCounts {
	c := folderCounts{uidValidity: d.UIDValidity, uidNext: d.UIDNext}
	if d.NumMessages != nil {
		c.messages = *d.NumMessages
	}
	if d.NumUnseen != nil {
		c.unseen = *d.NumUnseen
	}
	return c
}

func (n *notifier) isStopped() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stopped
}

// writeAllStatus answers NOTIFY SET STATUS: the STATUS of every watched
// folder but the selected one, in name order.
func (n *notifier) writeAllStatus(w *imapd.NotifyWriter) error {
	n.mu.Lock()
	all := make([]*notifyFolder, 0, len(n.folders))
	for _, nf := range n.folders {
		if nf.name != n.selName {
			all = append(all, nf)
		}
	}
	n.mu.Unlock()
	slices.SortFunc(all, func(a, b *notifyFolder) int { return compareNames(a.name, b.name) })
	for _, nf := range all {
		d, err := n.s.Status(nf.name, &notifyStatus)
		if err != nil {
			continue
		}
		c := countsOf(d)
		nf.told = &c
		if err := w.WriteStatus(d, &notifyStatus); err != nil {
			return err
		}
	}
	return nil
}
