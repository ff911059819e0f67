package maildirbackend

import "github.com/maildir-imapd/maildir-imapd/imapd"

var _ imapd.SessionConcurrent = (*EngineSession)(nil)

// ConcurrentReads implements imapd.SessionConcurrent: the read-only
// commands of one connection may run at once. Their state is either the
// folder's, under its mutex, or the view's, under the idle mailbox's, or
// the selection, which only commands the engine runs alone change (SELECT,
// SEARCH SAVE, and Poll).
func (s *EngineSession) ConcurrentReads() bool { return true }
