package main

import (
	"crypto/tls"
	"errors"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/maildir-imapd/maildir-imapd/imapd"
)

// Session metrics: the engine reports every command itself
// (imapd.Options.CommandDone); the wrappers here count logins and keep the
// session's state for the connection gauge.

// Connection states of the connection gauge.
const (
	stateNotAuthenticated int32 = iota
	stateAuthenticated
	stateSelected
	stateIdle
)

var stateNames = [...]string{"not_authenticated", "authenticated", "selected", "idle"}

func (s *trackedSession) Login(username, password string) error {
	err := s.EngineSession.Login(username, password)
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
	err := s.EngineSession.Unauthenticate()
	if err == nil {
		s.state.Store(stateNotAuthenticated)
	}
	return err
}

func (s *trackedSession) Select(mailbox string, options *imap.SelectOptions) (*imap.SelectData, error) {
	data, err := s.EngineSession.Select(mailbox, options)
	if err == nil {
		s.state.Store(stateSelected)
	} else {
		s.state.Store(stateAuthenticated) // a failed SELECT unselects
	}
	return data, err
}

func (s *trackedSession) Unselect() error {
	err := s.EngineSession.Unselect()
	if err == nil {
		s.state.Store(stateAuthenticated)
	}
	return err
}

func (s *trackedSession) Idle(w *imapd.UpdateWriter, stop <-chan struct{}) error {
	prev := s.state.Swap(stateIdle)
	err := s.EngineSession.Idle(w, stop)
	s.state.CompareAndSwap(stateIdle, prev)
	return err
}

func (s *trackedSession) StartIdle(w *imapd.UpdateWriter) (func(), error) {
	prev := s.state.Swap(stateIdle)
	stop, err := s.EngineSession.StartIdle(w)
	if err != nil {
		s.state.CompareAndSwap(stateIdle, prev)
		return nil, err
	}
	return func() {
		stop()
		s.state.CompareAndSwap(stateIdle, prev)
	}, nil
}

// countConns reports each open connection's state and TLS to the
// connection gauge. NetConn takes the connection's own lock, so it is
// called after d.mu is released.
func (d *daemon) countConns(add func(state, tls string)) {
	type entry struct {
		conn  *imapd.Conn
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
	_ imapd.SessionUnauthenticate = (*trackedSession)(nil)
	_ imapd.SessionSort           = (*trackedSession)(nil)
	_ imapd.SessionThread         = (*trackedSession)(nil)
	_ imapd.SessionIdleFunc       = (*trackedSession)(nil)
)
