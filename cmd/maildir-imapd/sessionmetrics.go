package main

import (
	"crypto/tls"
	"errors"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

// Command metrics through go-imap's Session methods: each command the
// engine hands to the session is timed and counted here, and the session's
// state kept for the connection gauge. When the project's own IMAP engine
// replaces imapserver, it calls metrics.Command itself and these wrappers
// go.

// Connection states of the connection gauge.
const (
	stateNotAuthenticated int32 = iota
	stateAuthenticated
	stateSelected
	stateIdle
)

var stateNames = [...]string{"not_authenticated", "authenticated", "selected", "idle"}

// commandStatus names the outcome of a command for the metrics.
func commandStatus(err error) string {
	if err == nil {
		return "ok"
	}
	var ie *imap.Error
	if errors.As(err, &ie) {
		switch ie.Type {
		case imap.StatusResponseTypeNo:
			return "no"
		case imap.StatusResponseTypeBad:
			return "bad"
		}
	}
	if errors.Is(err, imapserver.ErrAuthFailed) {
		return "no"
	}
	return "error"
}

// done records a command that began at start.
func (s *trackedSession) done(name string, start time.Time, err error) {
	s.d.metrics.Command(name, time.Since(start), commandStatus(err))
}

// uidPrefix is "UID " for a command given UIDs.
func uidPrefix(set imap.NumSet) string {
	if _, ok := set.(imap.UIDSet); ok {
		return "UID "
	}
	return ""
}

func (s *trackedSession) Login(username, password string) error {
	start := time.Now()
	err := s.Session.Login(username, password)
	s.done("LOGIN", start, err)
	s.d.metrics.Login(loginOutcome(err))
	if err == nil {
		s.state.Store(stateAuthenticated)
	}
	return err
}

// loginOutcome names the result of Session.Login for the metrics.
func loginOutcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, imapserver.ErrAuthFailed):
		return "failed"
	}
	var ie *imap.Error
	if errors.As(err, &ie) && ie.Type == imap.StatusResponseTypeNo {
		return "refused"
	}
	return "error"
}

func (s *trackedSession) Unauthenticate() error {
	start := time.Now()
	err := s.Session.Unauthenticate()
	s.done("UNAUTHENTICATE", start, err)
	if err == nil {
		s.state.Store(stateNotAuthenticated)
	}
	return err
}

func (s *trackedSession) Select(mailbox string, options *imap.SelectOptions) (*imap.SelectData, error) {
	start := time.Now()
	data, err := s.Session.Select(mailbox, options)
	name := "SELECT"
	if options != nil && options.ReadOnly {
		name = "EXAMINE"
	}
	s.done(name, start, err)
	if err == nil {
		s.state.Store(stateSelected)
	} else {
		s.state.Store(stateAuthenticated) // a failed SELECT unselects
	}
	return data, err
}

func (s *trackedSession) Unselect() error {
	start := time.Now()
	err := s.Session.Unselect()
	s.done("UNSELECT", start, err)
	if err == nil {
		s.state.Store(stateAuthenticated)
	}
	return err
}

func (s *trackedSession) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	start := time.Now()
	prev := s.state.Swap(stateIdle)
	err := s.Session.Idle(w, stop)
	s.state.CompareAndSwap(stateIdle, prev)
	s.done("IDLE", start, err)
	return err
}

func (s *trackedSession) Create(mailbox string, options *imap.CreateOptions) error {
	start := time.Now()
	err := s.Session.Create(mailbox, options)
	s.done("CREATE", start, err)
	return err
}

func (s *trackedSession) Delete(mailbox string) error {
	start := time.Now()
	err := s.Session.Delete(mailbox)
	s.done("DELETE", start, err)
	return err
}

func (s *trackedSession) Rename(mailbox, newName string, options *imap.RenameOptions) error {
	start := time.Now()
	err := s.Session.Rename(mailbox, newName, options)
	s.done("RENAME", start, err)
	return err
}

func (s *trackedSession) Subscribe(mailbox string) error {
	start := time.Now()
	err := s.Session.Subscribe(mailbox)
	s.done("SUBSCRIBE", start, err)
	return err
}

func (s *trackedSession) Unsubscribe(mailbox string) error {
	start := time.Now()
	err := s.Session.Unsubscribe(mailbox)
	s.done("UNSUBSCRIBE", start, err)
	return err
}

func (s *trackedSession) List(w *imapserver.ListWriter, ref string, patterns []string, options *imap.ListOptions) error {
	start := time.Now()
	err := s.Session.List(w, ref, patterns, options)
	s.done("LIST", start, err)
	return err
}

func (s *trackedSession) Status(mailbox string, options *imap.StatusOptions) (*imap.StatusData, error) {
	start := time.Now()
	data, err := s.Session.Status(mailbox, options)
	s.done("STATUS", start, err)
	return data, err
}

func (s *trackedSession) Append(mailbox string, r imap.LiteralReader, options *imap.AppendOptions) (*imap.AppendData, error) {
	start := time.Now()
	data, err := s.Session.Append(mailbox, r, options)
	s.done("APPEND", start, err)
	return data, err
}

func (s *trackedSession) Expunge(w *imapserver.ExpungeWriter, uids *imap.UIDSet) error {
	start := time.Now()
	err := s.Session.Expunge(w, uids)
	name := "EXPUNGE"
	if uids != nil {
		name = "UID EXPUNGE"
	}
	s.done(name, start, err)
	return err
}

func (s *trackedSession) Search(kind imapserver.NumKind, criteria *imap.SearchCriteria, options *imap.SearchOptions) (*imap.SearchData, error) {
	start := time.Now()
	data, err := s.Session.Search(kind, criteria, options)
	name := "SEARCH"
	if kind == imapserver.NumKindUID {
		name = "UID SEARCH"
	}
	s.done(name, start, err)
	return data, err
}

func (s *trackedSession) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet, options *imap.FetchOptions) error {
	start := time.Now()
	err := s.Session.Fetch(w, numSet, options)
	s.done(uidPrefix(numSet)+"FETCH", start, err)
	return err
}

func (s *trackedSession) Store(w *imapserver.FetchWriter, numSet imap.NumSet, flags *imap.StoreFlags, options *imap.StoreOptions) error {
	start := time.Now()
	err := s.Session.Store(w, numSet, flags, options)
	s.done(uidPrefix(numSet)+"STORE", start, err)
	return err
}

func (s *trackedSession) Copy(numSet imap.NumSet, dest string) (*imap.CopyData, error) {
	start := time.Now()
	data, err := s.Session.Copy(numSet, dest)
	s.done(uidPrefix(numSet)+"COPY", start, err)
	return data, err
}

func (s *trackedSession) Move(w *imapserver.MoveWriter, numSet imap.NumSet, dest string) error {
	start := time.Now()
	err := s.Session.Move(w, numSet, dest)
	s.done(uidPrefix(numSet)+"MOVE", start, err)
	return err
}

func (s *trackedSession) Namespace() (*imap.NamespaceData, error) {
	start := time.Now()
	data, err := s.Session.Namespace()
	s.done("NAMESPACE", start, err)
	return data, err
}

// countConns reports each open connection's state and TLS to the
// connection gauge. NetConn takes the connection's own lock, so it is
// called after d.mu is released.
func (d *daemon) countConns(add func(state, tls string)) {
	type entry struct {
		conn  *imapserver.Conn
		state int32
	}
	d.mu.Lock()
	conns := make([]entry, 0, len(d.conns))
	for c, s := range d.conns {
		e := entry{conn: c, state: stateNotAuthenticated}
		if s != nil {
			e.state = s.state.Load()
		}
		conns = append(conns, e)
	}
	d.mu.Unlock()
	for _, e := range conns {
		secure := "no"
		if _, ok := e.conn.NetConn().(*tls.Conn); ok {
			secure = "yes"
		}
		add(stateNames[e.state], secure)
	}
}

// Compile-time checks: the wrappers keep the optional interfaces.
var (
	_ imapserver.SessionIMAP4rev2      = (*trackedSession)(nil)
	_ imapserver.SessionUnauthenticate = (*trackedSession)(nil)
)
