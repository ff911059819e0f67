package maildirbackend

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/imapd"
	"github.com/maildir-imapd/maildir-imapd/watch"
)

// NOTIFY (RFC 5465) for the mailboxes other than the selected one.
//
// A NOTIFY session watches, through the process's one watcher, the new/ and
// cur/ of every folder its event groups ask message events of, and the
// Maildir root itself (watch.SubscribeDir) for folders created, renamed or
// removed and for the subscriptions file: the changes of other programs
// and of this process alike. A report only marks the folder (or the root)
// dirty and tells the engine, which calls FlushNotify when it may write.
// FlushNotify reconciles state rather than translating events: it answers
// each dirty folder's STATUS through the same account and folder states
// SELECT and STATUS use (which first apply what the watcher reported), and
// compares it with what the client was last told; it compares the folder
// list and the subscriptions with those it last reported.
//
// What a session holds is bounded by Options.NotifyLimit (DefaultNotifyLimit):
// it watches at most that many folders, without loading them (a folder is
// read when it changes, and lingers FolderLinger after, as after STATUS),
// and one flush reports at most that many mailbox-list changes; the
// folder list it compares with (MailboxName, SubscriptionChange) holds at
// most ten times that many names. Past any of these, NOTIFY SET is
// answered NO [NOTIFICATIONOVERFLOW], or, later, the client gets
// * OK [NOTIFICATIONOVERFLOW] and NOTIFY is off, as after NOTIFY NONE. Per
// watched folder the session keeps a subscription and the four numbers it
// last sent; for the root, the folder names (with their directories'
// identities) and the subscriptions.

// DefaultNotifyLimit is the default of Options.NotifyLimit.
const DefaultNotifyLimit = 1000

// notifyStatus is what a NOTIFY STATUS response carries: RFC 5465 section
// 5.2 asks MESSAGES and UIDNEXT (and UIDVALIDITY for a new mailbox); UNSEEN
// serves FlagChange. Dovecot sends MESSAGES UIDNEXT UNSEEN.
var notifyStatus = imap.StatusOptions{NumMessages: true, UIDNext: true, UIDValidity: true, NumUnseen: true}

// notifier is the NOTIFY state of one session.
type notifier struct {
	s     *Session         // immutable
	set   *imapd.NotifySet // immutable
	ready func()           // immutable: tells the engine; never blocks
	limit int              // immutable

	mu       sync.Mutex
	stopped  bool
	roots    []*watch.Subscription    // the Maildir root (and the control root); nil when not needed
	folders  map[string]*notifyFolder // watched folders by mailbox name
	list     *listState               // the folder list and subscriptions last reported; nil without roots
	rootDirt atomic.Bool              // a root reported a change
	selName  string                   // the selected mailbox ("" if none): no STATUS for it
	unobs    func()                   // stops observing the selected mailbox; may be nil
}

// notifyFolder is one watched folder.
type notifyFolder struct {
	name   string
	events imapd.NotifyEvent // of the groups that match it
	sub    *watch.Subscription
	dirty  atomic.Bool   // its watch reported a change
	told   *folderCounts // what the client was last told; nil: nothing yet; used by flushes only
	// stamp is the folder's cur/ and new/ times when the watch began
	// (zero when unsettled): a report before any STATUS that finds them
	// unchanged (a polled folder's second look) is no change.
	stamp dirStamp
}

// folderCounts are the numbers of a NOTIFY STATUS response.
type folderCounts struct {
	messages, unseen, uidValidity uint32
	uidNext                       imap.UID
}

// SetNotify implements imapd.SessionNotify.
func (s *Session) SetNotify(w *imapd.NotifyWriter, set *imapd.NotifySet, ready func()) error {
	if set == nil {
		s.stopNotify()
		return nil
	}
	// A refused set leaves the previous one on, as in Dovecot.
	n := &notifier{s: s, set: set, ready: ready, limit: s.b.opts.NotifyLimit, folders: map[string]*notifyFolder{}}
	if err := n.start(); err != nil {
		n.stop()
		return err
	}
	if old := s.notify.Swap(n); old != nil {
		old.stop()
	}
	s.selMu.Lock()
	sel := s.sel
	s.selMu.Unlock()
	n.selected(sel)
	if set.Status {
		return n.writeAllStatus(w)
	}
	return nil
}

// FlushNotify implements imapd.SessionNotify.
func (s *Session) FlushNotify(w *imapd.NotifyWriter) error {
	n := s.notify.Load()
	if n == nil {
		return nil
	}
	return n.flush(w)
}

// stopNotify turns NOTIFY off.
func (s *Session) stopNotify() {
	if n := s.notify.Swap(nil); n != nil {
		n.stop()
	}
}

// errNotifyTooMany refuses a NOTIFY naming more folders than NotifyLimit,
// as Dovecot refuses more than 100 names.
var errNotifyTooMany = &imap.Error{Type: imap.StatusResponseTypeNo, Code: "NOTIFICATIONOVERFLOW", Text: "Too many mailboxes"}

// start takes the watches the set needs.
func (n *notifier) start() error {
	s := n.s
	if n.wantsRoot() {
		if err := n.watchRoots(); err != nil {
			return err
		}
	}
	dirs, err := s.folders()
	if err != nil {
		return err
	}
	names := make([]string, 0, len(dirs)+1)
	names = append(names, inboxName)
	for name := range dirs {
		names = append(names, name)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.list != nil {
		if len(dirs) > n.listLimit() {
			return errNotifyTooMany
		}
		n.list.reset(s, dirs)
	}
	for _, name := range names {
		if err := n.watchLocked(name); err != nil {
			return err
		}
	}
	return nil
}

// listLimit is how many folders the list state of the root may hold: ten
// times NotifyLimit.
func (n *notifier) listLimit() int { return 10 * n.limit }

// wantsRoot reports whether the set needs the root watched: for
// MailboxName and SubscriptionChange, and for the filters that new
// folders may join.
func (n *notifier) wantsRoot() bool {
	for _, g := range n.set.Groups {
		if g.Events&(imapd.NotifyMailboxName|imapd.NotifySubscriptionChange) != 0 {
			return true
		}
		if g.Events != 0 && g.Filter != imapd.NotifyMailboxes {
			return true
		}
	}
	return false
}

// watchRoots subscribes to the Maildir root and, when the control files
// live apart, to the control root (the subscriptions file).
func (n *notifier) watchRoots() error {
	a := n.s.acct
	dirs := []string{a.root}
	if c := a.ctlRoot(); c != a.root {
		dirs = append(dirs, c)
	}
	for _, d := range dirs {
		sub, err := n.s.b.watcher.SubscribeDir(d, n.rootChanged)
		if err != nil {
			return err
		}
		n.roots = append(n.roots, sub)
	}
	n.list = &listState{}
	return nil
}

// eventsFor returns the events the non-selected groups ask of mailbox name.
func (n *notifier) eventsFor(name string, subscribed func(string) bool) imapd.NotifyEvent {
	var ev imapd.NotifyEvent
	for _, g := range n.set.Groups {
		if n.matches(g, name, subscribed) {
			ev |= g.Events
		}
	}
	return ev
}

// matches reports whether group g names mailbox name. INBOXES is PERSONAL,
// as in Dovecot: any folder may receive mail (a Sieve script, an MTA's
// rules), and the server cannot know which.
func (n *notifier) matches(g imapd.NotifyGroup, name string, subscribed func(string) bool) bool {
	switch g.Filter {
	case imapd.NotifyInboxes, imapd.NotifyPersonal:
		return true
	case imapd.NotifySubscribed:
		return subscribed != nil && subscribed(name)
	case imapd.NotifySubtree:
		return slices.ContainsFunc(g.Mailboxes, func(m string) bool {
			m = n.canonical(m)
			return name == m || strings.HasPrefix(name, m+string(Delim))
		})
	case imapd.NotifyMailboxes:
		return slices.ContainsFunc(g.Mailboxes, func(m string) bool { return n.canonical(m) == name })
	}
	return false
}

// canonical spells a client's mailbox name as the folder list does.
func (n *notifier) canonical(name string) string {
	if c, err := n.s.acct.names.canonical(name); err == nil {
		return c
	}
	return name
}

// watchLocked starts watching folder name when its groups ask message
// events of it, and stops when they no longer do.
func (n *notifier) watchLocked(name string) error {
	var subscribed func(string) bool
	if n.list != nil {
		subscribed = n.list.isSubscribed
	}
	ev := n.eventsFor(name, subscribed) & (imapd.NotifyMessageNew | imapd.NotifyMessageExpunge | imapd.NotifyFlagChange)
	nf := n.folders[name]
	if ev == 0 {
		if nf != nil {
			nf.sub.Close()
			delete(n.folders, name)
		}
		return nil
	}
	if nf != nil {
		nf.events = ev
		return nil
	}
	if len(n.folders) >= n.limit {
		return errNotifyTooMany
	}
	path, err := n.s.acct.names.path(name)
	if err != nil {
		return nil // not a name a folder can have
	}
	nf = &notifyFolder{name: name, events: ev, stamp: notifyStamp(path)}
	sub, err := n.s.b.watcher.SubscribeFunc(path, func() { n.folderChanged(nf) })
	if err != nil {
		return nil // gone meanwhile: the root's report removes it
	}
	nf.sub = sub
	n.folders[name] = nf
	return nil
}

// notifyStamp returns the stamp of folder path for notifyFolder.stamp: as
// read on a file system with sub-second times, else only when settled
// (dirstamp.go).
func notifyStamp(path string) dirStamp {
	st := readDirStamp(path)
	if st.cur.Nanosecond() != 0 || st.new.Nanosecond() != 0 {
		return st
	}
	return st.settled(time.Now())
}

// folderChanged is a folder's watch report. It is called under the
// watcher's locks, which watchLocked takes under n.mu: it must not take
// n.mu.
func (n *notifier) folderChanged(nf *notifyFolder) {
	nf.dirty.Store(true)
	n.ready()
}

// rootChanged is the root's watch report; see folderChanged.
func (n *notifier) rootChanged() {
	n.rootDirt.Store(true)
	n.ready()
}

// selected follows the session's selection: no STATUS for the selected
// mailbox (RFC 5465 section 5), and with SELECTED events the engine is told
// of its changes, which it writes with Poll. Safe on a nil notifier.
func (n *notifier) selected(sel *selection) {
	if n == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.unobs != nil {
		n.unobs()
		n.unobs = nil
	}
	n.selName = ""
	if sel == nil {
		return
	}
	n.selName = sel.f.mailbox
	if n.set.Selected != nil && n.set.Selected.Events != 0 && !n.stopped {
		n.unobs = sel.f.mbox.Observe(n.ready)
	}
}

// stop drops every watch. Safe to call twice.
func (n *notifier) stop() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopped {
		return
	}
	n.stopped = true
	for _, sub := range n.roots {
		sub.Close()
	}
	for _, nf := range n.folders {
		nf.sub.Close()
	}
	n.folders = nil
	if n.unobs != nil {
		n.unobs()
		n.unobs = nil
	}
}

// overflow tells the client that notifications stop, and stops them.
func (n *notifier) overflow(w *imapd.NotifyWriter) error {
	n.stop()
	n.s.notify.CompareAndSwap(n, nil)
	return w.WriteOverflow("Too many changes, NOTIFY is off")
}
