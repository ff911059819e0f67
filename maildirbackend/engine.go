package maildirbackend

import (
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/imapd"
)

// EngineSession is a [Session] as the project's engine, imapd, drives it:
// the same store and the same behaviour, with imapd's writers. Create one
// with [Backend.NewEngineSession].
type EngineSession struct {
	*Session
}

var (
	_ imapd.Session               = (*EngineSession)(nil)
	_ imapd.SessionUnauthenticate = (*EngineSession)(nil)
	_ imapd.SessionAppendLimit    = (*EngineSession)(nil)
	_ imapd.SessionMultiAppend    = (*EngineSession)(nil)
	_ imapd.SessionMetadata       = (*EngineSession)(nil)
)

// List implements imapd.Session.
func (s *EngineSession) List(w *imapd.ListWriter, ref string, patterns []string, options *imap.ListOptions) error {
	return s.list(w, w.LSub(), ref, patterns, options)
}

// Poll implements imapd.Session.
func (s *EngineSession) Poll(w *imapd.UpdateWriter, allowExpunge bool) error {
	return s.poll(w, allowExpunge)
}

// Idle implements imapd.Session. The keepalive ("* OK Still here") goes
// through the engine's writer, so that it never lands inside another
// response and is compressed when COMPRESS is on.
func (s *EngineSession) Idle(w *imapd.UpdateWriter, stop <-chan struct{}) error {
	return s.idle(w, stop, func() error { return w.WriteText("Still here") })
}

// Expunge implements imapd.Session.
func (s *EngineSession) Expunge(w *imapd.ExpungeWriter, uids *imap.UIDSet) error {
	return s.expungeCmd(w, uids)
}

// Search implements imapd.Session.
func (s *EngineSession) Search(kind imapd.NumKind, criteria *imap.SearchCriteria, options *imap.SearchOptions) (*imap.SearchData, error) {
	return s.search(kind == imapd.NumKindUID, criteria, options)
}

// Fetch implements imapd.Session.
func (s *EngineSession) Fetch(w *imapd.FetchWriter, numSet imap.NumSet, options *imap.FetchOptions) error {
	return s.fetch(engineFetchWriter{w}, numSet, options)
}

// Store implements imapd.Session.
func (s *EngineSession) Store(w *imapd.FetchWriter, numSet imap.NumSet, flags *imap.StoreFlags, options *imap.StoreOptions) error {
	return s.store(engineFetchWriter{w}, numSet, flags, options)
}

// Move implements imapd.Session.
func (s *EngineSession) Move(w *imapd.MoveWriter, numSet imap.NumSet, dest string) error {
	return s.move(w, numSet, dest)
}

// engineFetchWriter adapts imapd's FetchWriter.
type engineFetchWriter struct{ w *imapd.FetchWriter }

func (e engineFetchWriter) CreateMessage(seqNum uint32) fetchResponseWriter {
	return e.w.CreateMessage(seqNum)
}

// StartIdle implements imapd.SessionIdleFunc: the view writes updates from
// a goroutine that exists only while it writes, and "* OK Still here" comes
// from a timer. A write error ends the connection.
func (s *EngineSession) StartIdle(w *imapd.UpdateWriter) (stop func(), err error) {
	keepalive := func() error { return w.WriteText("Still here") }
	fail := func(err error) {
		s.b.log.Debug("IDLE write failed", "conn", s.remote(), "err", err)
		if s.conn != nil {
			_ = s.conn.Bye("Write error")
		}
	}
	s.selMu.Lock()
	sel := s.sel
	s.selMu.Unlock()
	if sel == nil {
		// Authenticated state: nothing to report but the keepalive.
		var mu sync.Mutex
		stopped := false
		var t *time.Timer
		mu.Lock()
		defer mu.Unlock()
		t = time.AfterFunc(s.b.opts.KeepaliveInterval, func() {
			mu.Lock()
			defer mu.Unlock()
			if stopped {
				return
			}
			if err := keepalive(); err != nil {
				fail(err)
				return
			}
			t.Reset(s.b.opts.KeepaliveInterval)
		})
		return func() {
			mu.Lock()
			stopped = true
			t.Stop()
			mu.Unlock()
		}, nil
	}
	return sel.view.IdleFunc(w, s.b.opts.KeepaliveInterval, keepalive, fail)
}

var _ imapd.SessionNotify = (*EngineSession)(nil)
