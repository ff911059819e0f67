package maildirbackend

import (
	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/imapd"
)

var _ imapd.SessionQuota = (*EngineSession)(nil)

// QUOTA (RFC 9208) for the engine: one quota root, QuotaRootName, for the
// whole account, as Dovecot's maildir quota has.

var (
	errNoQuotaRoot = &imap.Error{Type: imap.StatusResponseTypeNo, Text: "Quota root doesn't exist"}
	errSetQuota    = &imap.Error{Type: imap.StatusResponseTypeNo, Text: "Quota can be changed only by admin"}
)

// QuotaResources implements imapd.SessionQuota: STORAGE and MESSAGE when
// the backend has quotas (Options.Quota), none otherwise.
func (s *EngineSession) QuotaResources() []imap.QuotaResourceType {
	if s.b.opts.Quota == nil {
		return nil
	}
	return []imap.QuotaResourceType{imap.QuotaResourceStorage, imap.QuotaResourceMessage}
}

// QuotaRoots implements imapd.SessionQuota: the user's one root, for any
// mailbox name (existing or not, as Dovecot answers), or none when the
// user has no quota rules.
func (s *EngineSession) QuotaRoots(string) ([]string, error) {
	if s.acct == nil || s.acct.quota().rules() == nil {
		return nil, nil
	}
	return []string{QuotaRootName}, nil
}

// Quota implements imapd.SessionQuota: the usage and limits of the default
// rule (a mailbox rule's extra does not show, as in Dovecot's answer),
// read from maildirsize, which is recalculated first when it must be.
// STORAGE is in KiB rounded up, as Dovecot rounds it; a resource without a
// limit is left out.
func (s *EngineSession) Quota(root string) ([]imapd.QuotaResource, error) {
	if root != QuotaRootName || s.acct == nil {
		return nil, errNoQuotaRoot
	}
	q := s.acct.quota()
	q.mu.Lock()
	st, err := q.statusLocked()
	q.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if st.rules == nil {
		return nil, errNoQuotaRoot
	}
	var res []imapd.QuotaResource
	if st.limits.Bytes > 0 {
		res = append(res, imapd.QuotaResource{Name: imap.QuotaResourceStorage,
			Usage: kib(st.used.Bytes), Limit: kib(st.limits.Bytes)})
	}
	if st.limits.Count > 0 {
		res = append(res, imapd.QuotaResource{Name: imap.QuotaResourceMessage,
			Usage: st.used.Count, Limit: st.limits.Count})
	}
	return res, nil
}

// SetQuota implements imapd.SessionQuota: limits come from the users file,
// so SETQUOTA is refused with Dovecot's words.
func (s *EngineSession) SetQuota(root string, _ map[imap.QuotaResourceType]int64) error {
	return errSetQuota
}

// kib returns n bytes in KiB, rounded up.
func kib(n int64) int64 {
	if n <= 0 {
		return 0
	}
	return (n + 1023) / 1024
}
