package maildirbackend

import (
	"errors"
	"net"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

// Errors of the login path. A throttled attempt and a wrong password look
// the same to a client apart from the response code.
var (
	errThrottled = &imap.Error{
		Type: imap.StatusResponseTypeNo,
		Code: imap.ResponseCodeUnavailable,
		Text: "Too many failed logins from your address; try again later",
	}
	errAuthUnavailable = &imap.Error{
		Type: imap.StatusResponseTypeNo,
		Code: imap.ResponseCodeUnavailable,
		Text: "Authentication is temporarily unavailable",
	}
)

// authenticate checks the credentials of a LOGIN or AUTHENTICATE PLAIN (go-imap
// sends both to Session.Login) and returns the user's Maildir root.
//
// Every failure, whatever its cause (unknown user, wrong password, empty
// password, throttled address, backend error), returns at the same fixed
// time after the attempt began (Options.AuthFailureDelay), so that neither
// the existence of the user nor the password scheme shows in the timing.
// The wait holds no lock. After Options.MaxAuthFailures failures the
// connection is sent BYE right after the tagged NO.
func (s *Session) authenticate(username, password string) (string, error) {
	var root string
	answerAt, err := s.b.CheckLogin(s.remoteAddr(), username, func() error {
		if s.b.opts.Authenticate == nil || password == "" {
			return imapserver.ErrAuthFailed
		}
		var err error
		root, err = s.b.opts.Authenticate(username, password)
		return err
	})
	if err != nil {
		return "", s.fail(answerAt, err)
	}
	return root, nil
}

// CheckLogin runs check, a password check of username, as a login attempt
// from the client at client under the protection IMAP logins have: a
// client address past its burst of failures (Options.IPAuthFailures) fails
// without check being called, failures are logged at a bounded rate, and
// every failure is to be answered at the same time after the attempt began
// (Options.AuthFailureDelay). CheckLogin itself does not wait: it returns
// that time, answerAt, with the error, and the caller waits or has its
// client wait (nginx's Auth-Wait). check returns nil for good credentials,
// an error wrapping [imapserver.ErrAuthFailed] for bad ones, and any other
// error when it could not tell.
//
// The error is nil, one wrapping imapserver.ErrAuthFailed, or an
// *imap.Error (NO [UNAVAILABLE]) for a throttled address or a failed check;
// its Text may be shown to the client. client may be nil (no throttle). It
// is safe for concurrent use: servers in front of the backend (nginx's
// auth_http) use it so that their logins and IMAP's share one throttle.
func (b *Backend) CheckLogin(client net.Addr, username string, check func() error) (answerAt time.Time, err error) {
	g := b.guard
	start := g.now()
	answerAt = start.Add(g.delay)
	addr := clientKey(client)
	conn := ""
	if client != nil {
		conn = client.String()
	}
	if !g.begin(addr) {
		g.logFailure("login throttled", "user", username, "conn", conn)
		return answerAt, errThrottled
	}
	switch err := check(); {
	case err == nil:
		g.end(addr, true)
		return time.Time{}, nil
	case errors.Is(err, imapserver.ErrAuthFailed):
		g.end(addr, false)
		g.logFailure("login failed", "user", username, "conn", conn)
		return answerAt, imapserver.ErrAuthFailed
	default:
		g.end(addr, true) // not the client's fault
		b.log.Error("authentication backend failed", "user", username, "err", err)
		return answerAt, errAuthUnavailable
	}
}

// fail counts a failed attempt, waits until its deadline and, at the last
// failure allowed, arranges the BYE. It returns err.
func (s *Session) fail(answerAt time.Time, err error) error {
	s.failures++
	s.b.guard.failed(answerAt.Add(-s.b.guard.delay))
	if s.failures >= s.b.opts.MaxAuthFailures {
		s.byeAfterReply("Too many authentication failures")
	}
	return err
}

// byeAfterReply sends "* BYE text" and closes the connection once go-imap
// has written its reply to the current command (the tagged NO of a
// LOGIN): Login cannot write BYE itself, since go-imap would then write a
// tagged reply after it, and during AUTHENTICATE go-imap holds the
// connection's write lock. It relies on the connection coming from
// NewListener; on any other, the BYE may come before the tagged reply.
func (s *Session) byeAfterReply(text string) {
	conn := s.conn
	if conn == nil {
		return
	}
	if c, ok := conn.(interface{ ByeAfterReply(string) }); ok {
		c.ByeAfterReply(text) // imapd
		return
	}
	bye := func() { _ = conn.Bye(text) }
	if bc := findBatchConn(conn.NetConn()); bc != nil {
		bc.onNextRead(bye)
		return
	}
	go bye()
}

// findBatchConn unwraps c (a *tls.Conn, say) down to the batchConn of
// NewListener, or returns nil.
func findBatchConn(c net.Conn) *batchConn {
	for range 4 {
		switch v := c.(type) {
		case *batchConn:
			return v
		case interface{ NetConn() net.Conn }:
			c = v.NetConn()
		default:
			return nil
		}
	}
	return nil
}

// admitUser applies Options.MaxUserIPConns to a login that succeeded; the
// slot is given back by Close. It returns the error for the client when
// the user is over the cap, and arranges the BYE.
func (s *Session) admitUser(username, root string) error {
	release, reason := s.b.userIP.acquire(root, clientKey(s.remoteAddr()))
	if reason != "" {
		s.b.log.Info("login refused", "user", username, "conn", s.remote(), "reason", reason)
		s.byeAfterReply(reason)
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeLimit, Text: reason}
	}
	s.releaseUser = release
	return nil
}

// releaseLogin gives back the user+IP slot of a logged-in session.
func (s *Session) releaseLogin() {
	if s.releaseUser != nil {
		s.releaseUser()
		s.releaseUser = nil
	}
}

// startLoginTimer sends BYE to a connection still unauthenticated after
// Options.LoginTimeout.
func (s *Session) startLoginTimer() {
	if s.conn == nil || s.b.opts.LoginTimeout < 0 {
		return
	}
	conn := s.conn
	s.loginTimer = time.AfterFunc(s.b.opts.LoginTimeout, func() {
		if s.authed.Load() {
			return
		}
		s.b.log.Debug("login timeout", "conn", s.remote())
		_ = conn.Bye("Disconnected for inactivity")
	})
}

// stopLoginTimer marks the session authenticated for the login timer.
func (s *Session) stopLoginTimer() {
	s.authed.Store(true)
	if s.loginTimer != nil {
		s.loginTimer.Stop()
	}
}

func (s *Session) remoteAddr() net.Addr {
	if s.conn == nil {
		return nil
	}
	if c := s.conn.NetConn(); c != nil {
		return c.RemoteAddr()
	}
	return nil
}
