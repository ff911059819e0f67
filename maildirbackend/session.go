package maildirbackend

import (
	"errors"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/maildir-imapd/maildir-imapd/idle"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/courier"
)

// Session is one IMAP connection's session. It implements
// imapserver.SessionIMAP4rev2, SessionUnauthenticate and SessionAppendLimit.
// go-imap calls its methods one at a time.
type Session struct {
	b    *Backend
	conn conn // *imapserver.Conn or *imapd.Conn; nil in embedders' tests

	user string
	acct *account   // nil before login
	sel  *selection // nil unless a mailbox is selected; written under selMu
	// selMu orders the writes of sel with the read of go-imap's IDLE
	// goroutine, which may still start while Close runs.
	selMu sync.Mutex

	failures    int                      // failed logins on this connection
	releaseUser func()                   // gives back the user+IP slot; nil when not logged in
	loginTimer  *time.Timer              // see startLoginTimer; may be nil
	authed      atomic.Bool              // read by the login timer
	notify      atomic.Pointer[notifier] // NOTIFY (notify.go); nil when off
}

var (
	_ imapserver.SessionIMAP4rev2      = (*Session)(nil)
	_ imapserver.SessionUnauthenticate = (*Session)(nil)
	_ imapserver.SessionAppendLimit    = (*Session)(nil)
)

// selection is the selected mailbox of a session.
type selection struct {
	f          *folder
	view       *idle.View
	readOnly   bool
	searchRes  imap.UIDSet
	recent     map[imap.UID]bool // \Recent in this session; guarded by f.mu
	toldRecent uint32            // the RECENT count the client was last told
	counted    recentKey         // what toldRecent was counted from; guarded by f.mu
}

// Login authenticates the user and opens the user's Maildir. Failures are
// slowed down and throttled: see authenticate.
func (s *Session) Login(username, password string) error {
	root, err := s.authenticate(username, password)
	if err != nil {
		return err
	}
	// Like Dovecot, create the Maildir of a user who never had mail, so
	// that CREATE and APPEND work before the MTA's first delivery.
	if !filepath.IsAbs(root) {
		s.b.log.Error("authentication returned a relative maildir path", "user", username)
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeUnavailable, Text: "Mail store unavailable"}
	}
	if _, err := ensureFolderDirs(root, true); err != nil {
		s.b.log.Error("cannot create maildir", "user", username, "err", err)
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeUnavailable, Text: "Mail store unavailable"}
	}
	if err := s.admitUser(username, root); err != nil {
		return err
	}
	acct, err := s.b.openAccount(root)
	if err != nil {
		s.releaseLogin()
		s.b.log.Error("cannot open maildir", "user", username, "err", err)
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeUnavailable, Text: "Mail store unavailable"}
	}
	s.stopLoginTimer()
	s.user, s.acct = username, acct
	acct.subMu.Lock()
	if ok, err := courier.ConvertSubscriptions(acct.root); err != nil {
		acct.log.Warn("cannot import Courier-IMAP subscriptions", "err", err)
	} else if ok {
		acct.log.Info("imported Courier-IMAP subscriptions")
	}
	acct.subMu.Unlock()
	s.b.log.Info("login", "user", username, "conn", s.remote())
	return nil
}

func (s *Session) remote() string {
	if s.conn == nil {
		return ""
	}
	if c := s.conn.NetConn(); c != nil {
		return c.RemoteAddr().String()
	}
	return ""
}

// Close ends the session: it unselects and releases the account.
func (s *Session) Close() error {
	s.stopNotify()
	s.stopLoginTimer()
	s.releaseLogin()
	s.unselect()
	if s.acct != nil {
		s.b.closeAccount(s.acct)
		s.acct = nil
	}
	return nil
}

// Unauthenticate returns to the not-authenticated state (RFC 8437).
func (s *Session) Unauthenticate() error {
	return s.Close()
}

// AppendLimit returns the largest message APPEND accepts.
func (s *Session) AppendLimit() uint32 { return s.b.opts.AppendLimit }

// Namespace returns the single personal namespace.
func (s *Session) Namespace() (*imap.NamespaceData, error) {
	return &imap.NamespaceData{
		Personal: []imap.NamespaceDescriptor{{Prefix: s.b.opts.Prefix, Delim: Delim}},
	}, nil
}

// Select opens a mailbox and starts following it.
func (s *Session) Select(name string, options *imap.SelectOptions) (*imap.SelectData, error) {
	s.unselect()
	f, err := s.acct.acquire(name)
	if err != nil {
		return nil, err
	}
	sel := &selection{f: f, readOnly: options != nil && options.ReadOnly}
	f.mu.Lock()
	// A folder this process cannot write is served read-only (readonly.go).
	// go-imap still ends the SELECT with [READ-WRITE]; PERMANENTFLAGS ()
	// tells the client that nothing can be stored. imapd reads
	// options.ReadOnly back and answers [READ-ONLY].
	sel.readOnly = sel.readOnly || f.readOnly
	if options != nil && sel.readOnly {
		options.ReadOnly = true
	}
	view := f.mbox.NewView()
	sel.view = view
	view.SetFlagsFilter(sel.withRecentFlag)
	if m := s.b.opts.Metrics; m != nil {
		view.SetWriteObserver(func(seen time.Time) { m.Push(time.Since(seen)) })
	}
	if sel.readOnly {
		sel.recent = f.unclaimedRecentSetLocked() // shown, not claimed
	} else {
		f.claimRecentLocked(sel)
	}
	data := &imap.SelectData{
		Flags:          f.mailboxFlagsLocked(),
		PermanentFlags: sel.permanentFlagsLocked(),
		NumMessages:    uint32(view.Len()),
		UIDNext:        f.uidNext,
		UIDValidity:    f.uidValidity,
		NumRecent:      uint32(len(sel.recent)),
	}
	// A new view is the folder's current list: sequence number i+1 is
	// f.msgs[i].
	for i, m := range f.msgs {
		if m.flags.std&flagSeen == 0 {
			data.FirstUnseenSeqNum = uint32(i + 1)
			break
		}
	}
	view.SetAnnouncedFlags(data.Flags)
	f.mu.Unlock()
	sel.toldRecent = data.NumRecent
	s.selMu.Lock()
	s.sel = sel
	s.selMu.Unlock()
	s.notify.Load().selected(sel)
	return data, nil
}

// permanentFlagsLocked lists the flags a STORE of sel can keep: none after
// EXAMINE (as Dovecot answers, RFC 3501 7.1), else the folder's.
func (sel *selection) permanentFlagsLocked() []imap.Flag {
	if sel.readOnly {
		return []imap.Flag{}
	}
	return sel.f.permanentFlagsLocked()
}

// permanentFlagsLocked lists the flags STORE keeps, with \* while keyword
// letters are left; none for a folder this process cannot write, as
// Dovecot does.
func (f *folder) permanentFlagsLocked() []imap.Flag {
	if f.readOnly {
		return []imap.Flag{}
	}
	flags := f.mailboxFlagsLocked()
	if len(f.keywords.Names()) < 26 {
		flags = append(flags, imap.FlagWildcard)
	}
	return flags
}

// Unselect leaves the selected mailbox.
func (s *Session) Unselect() error {
	s.unselect()
	return nil
}

func (s *Session) unselect() {
	if s.sel == nil {
		return
	}
	sel, acct := s.sel, s.acct
	s.notify.Load().selected(nil)
	sel.view.Close()
	leave := func() {
		sel.f.dropRecentLocked(sel)
		sel.f.mu.Unlock()
		acct.release(sel.f)
	}
	if sel.f.mu.TryLock() {
		leave()
	} else {
		// The folder is busy (a wait for a foreign uidlist lock): the
		// session moves on to its next mailbox at once and leaves this
		// one later.
		go func() {
			sel.f.mu.Lock()
			leave()
		}()
	}
	s.selMu.Lock()
	s.sel = nil
	s.selMu.Unlock()
}

// Poll writes the changes other sessions and programs made since the last
// command.
func (s *Session) Poll(w *imapserver.UpdateWriter, allowExpunge bool) error {
	return s.poll(w, allowExpunge)
}

func (s *Session) poll(w updateWriter, allowExpunge bool) error {
	if s.sel == nil {
		return nil
	}
	if err := s.sel.view.Poll(w, allowExpunge); err != nil {
		return err
	}
	// IMAP4rev1: "* N RECENT" when the count changed (go-imap drops it for
	// IMAP4rev2 clients).
	if n := s.sel.recentCount(); n != s.sel.toldRecent {
		s.sel.toldRecent = n
		return w.WriteNumRecent(n)
	}
	return nil
}

// withRecentFlag adds \Recent to the flags of a FETCH the view pushes
// when the message is recent in this session.
func (sel *selection) withRecentFlag(uid imap.UID, flags []imap.Flag) []imap.Flag {
	sel.f.mu.Lock()
	recent := sel.recent[uid]
	sel.f.mu.Unlock()
	if recent {
		return withRecent(flags)
	}
	return flags
}

// recentCount is the number of messages the client sees that are \Recent
// in this session.
// It runs after every command, so it counts again only when the client's
// list (a new snapshot: idle never changes one in place) or the recent set
// changed.
func (sel *selection) recentCount() uint32 {
	uids := sel.view.UIDs()
	sel.f.mu.Lock()
	defer sel.f.mu.Unlock()
	key := recentKey{n: len(uids), recent: len(sel.recent)}
	if len(uids) > 0 {
		key.first = &uids[0]
	}
	if key == sel.counted {
		return sel.toldRecent
	}
	var n uint32
	for uid := range sel.recent {
		if sel.view.SeqNum(uid) != 0 {
			n++
		}
	}
	sel.counted = key
	return n
}

// recentKey identifies what recentCount last counted: the client's UID list
// and the size of the recent set.
type recentKey struct {
	first     *imap.UID
	n, recent int
}

// Idle writes changes as they happen until stop is closed, starting with
// any change made since the last command, and sends "* OK Still here"
// every Options.KeepaliveInterval.
func (s *Session) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	return s.idle(w, stop, s.keepalive)
}

// idle is Idle with the keepalive of the front-end.
func (s *Session) idle(w idle.UpdateWriter, stop <-chan struct{}, keepalive func() error) error {
	s.selMu.Lock()
	sel := s.sel
	s.selMu.Unlock()
	if sel == nil {
		return s.keepaliveUntil(stop, keepalive)
	}
	return sel.view.IdleWithKeepalive(w, stop, s.b.opts.KeepaliveInterval, keepalive)
}

// keepaliveUntil idles in the authenticated state: nothing to report but
// the keepalive.
func (s *Session) keepaliveUntil(stop <-chan struct{}, keepalive func() error) error {
	t := time.NewTicker(s.b.opts.KeepaliveInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return nil
		case <-t.C:
			if err := keepalive(); err != nil {
				return err
			}
		}
	}
}

// keepalive writes an untagged OK straight to the connection. go-imap has no
// API for it; this is safe only during IDLE, where this goroutine is the
// only writer and every earlier response has been flushed.
func (s *Session) keepalive() error {
	if s.conn == nil {
		return nil
	}
	c := s.conn.NetConn()
	if c == nil {
		return nil
	}
	c.SetWriteDeadline(time.Now().Add(30 * time.Second))
	_, err := c.Write([]byte("* OK Still here\r\n"))
	c.SetWriteDeadline(time.Time{})
	var ne net.Error
	if errors.As(err, &ne) {
		return err
	}
	return err
}

// selected returns the selection or the "No mailbox selected" error.
func (s *Session) selected() (*selection, error) {
	if s.sel == nil {
		return nil, errNotSelected
	}
	return s.sel, nil
}

// errBadSeqNum answers a message sequence number the client was never told
// about, as Dovecot does ("Invalid messageset").
var errBadSeqNum = &imap.Error{
	Type: imap.StatusResponseTypeBad,
	Code: imap.ResponseCodeClientBug,
	Text: "Invalid message sequence number",
}

// resolveChecked is resolve for FETCH, STORE, COPY and MOVE: a sequence
// number above the client's message count is a client error (RFC 3501
// 2.3.1.2: sequence numbers run from 1 to the number of messages). UIDs that
// do not exist are ignored (RFC 3501 6.4.8).
func (sel *selection) resolveChecked(numSet imap.NumSet) ([]imap.UID, error) {
	if set, ok := numSet.(imap.SeqSet); ok {
		n := uint32(sel.view.Len())
		if n == 0 && len(set) > 0 {
			// No sequence number, "*" included, names a message of an
			// empty mailbox (Dovecot: "Invalid messageset").
			return nil, errBadSeqNum
		}
		for _, r := range set {
			// Every number must name a message; "*" is the last one,
			// so "5:*" with 3 messages is BAD too, as in Dovecot.
			if r.Start > n || r.Stop > n {
				return nil, errBadSeqNum
			}
		}
	}
	return sel.resolve(numSet), nil
}

// resolve turns a sequence or UID set into the UIDs of the client's view, in
// ascending order. "*" and "$" (SEARCHRES) are resolved against the view.
func (sel *selection) resolve(numSet imap.NumSet) []imap.UID {
	uids := sel.view.UIDs()
	if imap.IsSearchRes(numSet) {
		numSet = sel.searchRes
	}
	var out []imap.UID
	switch set := numSet.(type) {
	case imap.SeqSet:
		n := uint32(len(uids))
		for _, r := range set {
			start, stop := r.Start, r.Stop
			if start == 0 {
				start = n
			}
			if stop == 0 {
				stop = n
			}
			if start > stop {
				start, stop = stop, start
			}
			if stop > n {
				stop = n
			}
			for seq := start; seq >= 1 && seq <= stop; seq++ {
				out = append(out, uids[seq-1])
			}
		}
	case imap.UIDSet:
		var max imap.UID
		if len(uids) > 0 {
			max = uids[len(uids)-1]
		}
		for _, r := range set {
			start, stop := r.Start, r.Stop
			if start == 0 {
				start = max
			}
			if stop == 0 {
				stop = max
			}
			if start > stop {
				start, stop = stop, start
			}
			lo := lowerBound(uids, start)
			for i := lo; i < len(uids) && uids[i] <= stop; i++ {
				out = append(out, uids[i])
			}
		}
	}
	return sortUnique(out)
}

func lowerBound(uids []imap.UID, uid imap.UID) int {
	lo, hi := 0, len(uids)
	for lo < hi {
		mid := (lo + hi) / 2
		if uids[mid] < uid {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

func sortUnique(uids []imap.UID) []imap.UID {
	for i := 1; i < len(uids); i++ {
		if uids[i] <= uids[i-1] {
			sortUIDs(uids)
			out := uids[:1]
			for _, u := range uids[1:] {
				if u != out[len(out)-1] {
					out = append(out, u)
				}
			}
			return out
		}
	}
	return uids
}
