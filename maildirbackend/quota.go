package maildirbackend

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/maildirsize"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/quota"
)

// QuotaRootName is the name of a user's one quota root, as Dovecot's usual
// configuration ("quota = maildir:User quota") names it.
const QuotaRootName = "User quota"

// errOverQuota is Dovecot's answer to a change that would exceed the quota.
var errOverQuota = &imap.Error{
	Type: imap.StatusResponseTypeNo,
	Code: imap.ResponseCodeOverQuota,
	Text: "Quota exceeded (mailbox for user is full)",
}

// usage is a quantity of messages and bytes.
type usage = maildirsize.Usage

// accountQuota is the Maildir++ quota of one account: the maildirsize file
// in the control root, and what this process has checked against the
// limits but not yet written to it. It is safe for concurrent use.
type accountQuota struct {
	path  string              // immutable: the maildirsize file
	rules func() *quota.Rules // immutable: the user's rules now; nil: no quota
	log   *slog.Logger
	dirs  func() ([]string, error) // immutable: the folders counted, for a recalculation

	mu       sync.Mutex
	reserved usage // admitted by reserve, not yet recorded or released
}

// newAccountQuota returns the quota of the Maildir of names, whose control
// files are in ctl (the root, or CONTROL=), with the rules rules returns.
func newAccountQuota(names namer, ctl string, rules func() *quota.Rules, log *slog.Logger) *accountQuota {
	q := &accountQuota{path: filepath.Join(ctl, maildirsize.Name), rules: rules, log: log}
	q.dirs = func() ([]string, error) { return countedDirs(&names, q.rules()) }
	return q
}

// rulesOf returns the function that gives the rules of root under opts.
func rulesOf(opts *Options, root string) func() *quota.Rules {
	return func() *quota.Rules {
		if opts.Quota == nil {
			return nil
		}
		return opts.Quota(root)
	}
}

// countedDirs returns the folders the quota counts: INBOX (the root) and
// every folder whose mailbox no rule ignores, Trash included, as
// Dovecot's maildir quota counts them.
func countedDirs(names *namer, rules *quota.Rules) ([]string, error) {
	dirs, err := names.folderDirs()
	if err != nil {
		return nil, err
	}
	var out []string
	if rules == nil || !rules.Ignored(inboxName) {
		out = append(out, names.root)
	}
	for name, dir := range dirs {
		if rules == nil || !rules.Ignored(name) {
			out = append(out, dir)
		}
	}
	return out, nil
}

// quotaStatus is the quota's state at one moment.
type quotaStatus struct {
	rules    *quota.Rules
	limits   maildirsize.Limits // the default limits in force
	used     usage              // on disk (the file, or a count)
	recalced bool               // used was just counted and written
}

// statusLocked reads the file, recalculating it when it is missing or
// not to be trusted (maildirsize's rules). It returns nil rules when the
// user has no quota. Called with q.mu held.
func (q *accountQuota) statusLocked() (*quotaStatus, error) {
	rules := q.rules()
	if rules == nil {
		return &quotaStatus{}, nil
	}
	st := &quotaStatus{rules: rules, limits: maildirsize.Limits{Bytes: rules.Storage, Count: rules.Messages}}
	f, err := maildirsize.Read(q.path)
	switch {
	case err == nil && f.Trusted(st.limits, rules.Force, time.Now()):
		if !rules.Force {
			st.limits = f.Limits
		}
		st.used = f.Usage
		return st, nil
	case err == nil, errors.Is(err, maildirsize.ErrStale):
		// Recalculate below, keeping the file's limits under "?".
		if !rules.Force && f != nil {
			st.limits = f.Limits
		}
	case errors.Is(err, fs.ErrNotExist):
		if !rules.Force && st.limits == (maildirsize.Limits{}) {
			return st, nil // "?" without limits: no quota, no file
		}
	default:
		return nil, err
	}
	dirs, err := q.dirs()
	if err != nil {
		return nil, err
	}
	st.used, st.recalced, err = maildirsize.Recalculate(q.path, st.limits, dirs)
	return st, err
}

// mailboxLimits returns the limits of mailbox, and whether it is ignored.
func (st *quotaStatus) mailboxLimits(mailbox string) (maildirsize.Limits, bool) {
	b, c, ignored := st.rules.Limits(mailbox, st.limits.Bytes, st.limits.Count)
	return maildirsize.Limits{Bytes: b, Count: c}, ignored
}

// exceeds reports whether adding add to used breaks limits, with grace
// bytes allowed past the byte limit when used is still under it: Dovecot's
// quota_transaction_is_over for one transaction.
func exceeds(used, add usage, limits maildirsize.Limits, grace int64) bool {
	if limits.Count > 0 && add.Count > max(limits.Count-used.Count, 0) {
		return true
	}
	if limits.Bytes <= 0 {
		return false
	}
	if used.Bytes > limits.Bytes {
		return true
	}
	room := limits.Bytes - used.Bytes
	if room > 0 {
		room += grace
	}
	return add.Bytes > room
}

// reserve admits add into mailbox, or returns errOverQuota. delivery
// allows the grace (LMTP and deliver, as Dovecot's quota_grace). The
// caller must call the returned function once: done(true) after the
// messages were stored (the file gets their line), done(false) when they
// were not.
func (q *accountQuota) reserve(mailbox string, add usage, delivery bool) (done func(stored bool), err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	st, err := q.statusLocked()
	if err != nil {
		return nil, fmt.Errorf("quota: %w", err)
	}
	if st.rules == nil {
		return func(bool) {}, nil
	}
	limits, ignored := st.mailboxLimits(mailbox)
	if ignored {
		return func(bool) {}, nil
	}
	var grace int64
	if delivery {
		grace = st.rules.GraceBytes(limits.Bytes)
	}
	if exceeds(st.used.Add(q.reserved), add, limits, grace) {
		return nil, errOverQuota
	}
	q.reserved = q.reserved.Add(add)
	return func(stored bool) {
		q.mu.Lock()
		defer q.mu.Unlock()
		q.reserved = q.reserved.Add(add.Negate())
		if stored {
			// Under the same hold as the release: no reserve may see
			// neither the reservation nor the line.
			q.recordLocked(mailbox, add)
		}
	}, nil
}

// record writes a change made to mailbox to the file, as Dovecot's
// maildir_quota_update: a file that must be recalculated is (the count
// includes the change), else the change is appended. A failure is left
// to the next recalculation.
func (q *accountQuota) record(mailbox string, d usage) {
	if d == (usage{}) {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.recordLocked(mailbox, d)
}

// recordLocked is record with q.mu held.
func (q *accountQuota) recordLocked(mailbox string, d usage) {
	st, err := q.statusLocked()
	if err == nil && (st.rules == nil || st.recalced) {
		return
	}
	if err == nil {
		if _, ignored := st.mailboxLimits(mailbox); ignored {
			return
		}
		err = maildirsize.Append(q.path, d)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		q.log.Warn("maildirsize not updated; the next recalculation corrects it", "mailbox", mailbox, "err", err)
	}
}

// quota returns the account's quota, created on first use.
func (a *account) quota() *accountQuota {
	a.quotaOnce.Do(func() { a.quotaState = newAccountQuota(a.names, a.ctlRoot(), rulesOf(&a.b.opts, a.root), a.log) })
	return a.quotaState
}

// fileSize returns the size the quota counts for a message file: the
// ",S=" of its name, else its size on disk (0 when it is gone).
func fileSize(name, path string) int64 {
	if n, ok := maildirsize.NameSize(name); ok {
		return n
	}
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// quotaSize returns the size the quota counts for m: its ",S=" size, else
// the file's.
func (f *folder) quotaSize(m *message) int64 {
	if m.fsize >= 0 {
		return m.fsize
	}
	return fileSize(m.key, filepath.Join(f.path, m.rel()))
}

// admitTransfer checks a COPY or MOVE of uids from the selected folder to
// mailbox dest against the quota and returns the function the command
// calls once with whether it stored the messages. A COPY adds its
// messages; a MOVE within the account changes nothing, unless one side is
// ignored by a rule (then it adds to, or takes from, the counted side).
// Messages gone meanwhile count nothing.
func (s *Session) admitTransfer(sel *selection, uids []imap.UID, dest string, move bool) (func(stored bool), error) {
	q := s.acct.quota()
	rules := q.rules()
	if rules == nil {
		return func(bool) {}, nil
	}
	srcIgnored, destIgnored := rules.Ignored(sel.f.mailbox), rules.Ignored(dest)
	if move && srcIgnored == destIgnored || !move && destIgnored {
		return func(bool) {}, nil
	}
	var add usage
	for _, uid := range uids {
		sn, ok := sel.f.snap(uid)
		if !ok {
			continue
		}
		size := sn.fsize
		if size < 0 {
			size = fileSize(sn.key, sn.path())
		}
		add = add.Add(usage{Bytes: size, Count: 1})
	}
	if move && destIgnored {
		src := sel.f.mailbox
		return func(stored bool) {
			if stored {
				q.record(src, add.Negate())
			}
		}, nil
	}
	return q.reserve(dest, add, false)
}

// quotaDeleted takes the messages of mailbox, deleted and now in the
// folder dir about to be removed, off the quota, as Dovecot expunges a
// mailbox's messages before deleting it.
func (a *account) quotaDeleted(mailbox, dir string) {
	q := a.quota()
	if q.rules() == nil {
		return
	}
	held, _, err := maildirsize.Sum([]string{dir})
	if err != nil {
		a.log.Warn("size of a deleted mailbox not known; the next recalculation corrects the quota", "mailbox", mailbox, "err", err)
		return
	}
	q.record(mailbox, held.Negate())
}
