package maildirbackend

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/idle"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/dovecot"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/safefile"
)

// lockTimeout bounds the wait for dovecot-uidlist.lock held by another
// process before a command fails with NO [INUSE].
var lockTimeout = 30 * time.Second

// backgroundLockWait bounds the wait of a sync that no command waits for
// (a delivery the watcher reported): it holds the folder's mutex, which
// the folder's sessions need, so it gives up soon and is retried with
// backoff (retry.go) rather than block them for lockTimeout.
var backgroundLockWait = 100 * time.Millisecond

// lockWaitLocked is how long the running operation may wait for the
// uidlist lock.
func (f *folder) lockWaitLocked() time.Duration {
	if f.background {
		return backgroundLockWait
	}
	return lockTimeout
}

// maxSizedAssign is the largest batch of new files whose sizes are computed
// (and stored in dovecot-uidlist) when they get their UIDs; bigger batches,
// such as the first scan of a large Postfix Maildir, compute sizes lazily.
const maxSizedAssign = 256

// syncLocked reconciles the whole folder with the disk and tells the views.
func (f *folder) syncLocked() error { return f.syncHintedLocked(nil) }

// syncHintedLocked is syncLocked with hints: files a watcher batch named and
// found. readdir may skip a file renamed during the scan (other programs
// rename files in cur/ for every flag change), so a key the scans miss is
// looked up again by name before it is called expunged, and a hinted file
// the scans miss is still taken if it exists.
func (f *folder) syncHintedLocked(hints map[string]entry) error {
	if !f.currentLocked() {
		return nil
	}
	if err := f.adoptUIDListLocked(); err != nil {
		return err
	}
	stamp := readDirStamp(f.path)
	entries, err := readEntries(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return f.goneLocked()
	} else if err != nil {
		return err
	}
	var missing []*message
	for _, m := range f.msgs {
		if _, ok := entries[m.key]; !ok {
			missing = append(missing, m)
		}
	}
	if len(missing) > 0 {
		again, err := readEntries(f.path)
		if err != nil {
			return err
		}
		for _, m := range missing {
			if e, ok := again[m.key]; ok {
				entries[m.key] = e
			} else if f.existsLocked(m.rel()) {
				entries[m.key] = entry{inNew: m.inNew, info: m.info}
			}
		}
	}
	for key, e := range hints {
		if _, ok := entries[key]; ok {
			continue
		}
		dir := "cur/"
		if e.inNew {
			dir = "new/"
		}
		if f.existsLocked(dir + key + e.info) {
			entries[key] = e
		}
	}
	if err := f.reconcileLocked(entries, true); err != nil {
		return err
	}
	f.scannedLocked(stamp)
	return nil
}

// existsLocked reports whether a message file exists at rel.
func (f *folder) existsLocked(rel string) bool {
	fi, err := os.Lstat(filepath.Join(f.path, rel))
	return err == nil && fi.Mode().IsRegular()
}

// reconcileLocked applies entries (keys found on disk) to the state. With
// complete set, known messages missing from entries are expunged.
func (f *folder) reconcileLocked(entries map[string]entry, complete bool) error {
	var change idle.Change
	kwChanged := f.readKeywordsLocked()
	gone := make(map[imap.UID]bool)
	if complete {
		for _, m := range f.msgs {
			e, ok := entries[m.key]
			if !ok {
				gone[m.uid] = true
				change.Expunged = append(change.Expunged, m.uid)
				continue
			}
			delete(entries, m.key)
			f.takeEntryLocked(m, e, &change)
		}
	} else {
		// A watcher batch names a few files: look them up, rather than
		// every message of the folder at each delivery.
		for key, e := range entries {
			if m := f.byKey[key]; m != nil {
				delete(entries, key)
				f.takeEntryLocked(m, e, &change)
			}
		}
	}
	if len(gone) > 0 {
		f.removeLocked(gone)
	}
	cands := make([]*message, 0, len(entries))
	for key, e := range entries {
		if !f.placing[key] { // addFiles numbers it
			cands = append(cands, newMessage(key, e.inNew, e.info))
		}
	}
	if len(cands) > 0 {
		added, err := f.assignAndAddLocked(cands, complete)
		if err != nil {
			// The state has dropped the expunged and taken the flags:
			// no later sync finds those again, so tell the views now.
			f.announceLocked(change, kwChanged)
		}
		if errors.Is(err, errUIDGap) {
			// Another process numbered files this batch does not name:
			// read the whole folder, so that UIDs are taken in order.
			return f.syncHintedLocked(entries)
		} else if err != nil {
			return err
		}
		change.Added = added
	}
	f.announceLocked(change, kwChanged)
	return nil
}

// takeEntryLocked gives known message m the name's directory and flags
// that the disk shows, noting a flag change in change.
func (f *folder) takeEntryLocked(m *message, e entry, change *idle.Change) {
	if e.inNew == m.inNew && e.info == m.info {
		return
	}
	old := m.flags
	m.inNew, m.info, m.flags = e.inNew, e.info, parseInfo(e.info)
	if old != m.flags {
		if change.Flags == nil {
			change.Flags = make(map[imap.UID][]imap.Flag)
		}
		change.Flags[m.uid] = f.imapFlagsLocked(m)
	}
}

// announceLocked hands a sync's change to the views, with the mailbox FLAGS
// when dovecot-keywords changed or a keyword letter has no name.
func (f *folder) announceLocked(change idle.Change, kwChanged bool) {
	if kwChanged || f.lettersUnnamedLocked(change) {
		change.MailboxFlags = f.mailboxFlagsLocked()
	}
	f.applyLocked(change, nil)
}

// syncNamesLocked handles a batch of changed names cheaply: it stats each
// name and only falls back to a full sync when a message's current file is
// gone (expunged, or renamed to a name the batch does not hold).
func (f *folder) syncNamesLocked(names []string) error {
	if !f.currentLocked() {
		return nil
	}
	if err := f.adoptUIDListLocked(); err != nil {
		return err
	}
	entries := make(map[string]entry)
	var vanished []string
	for _, rel := range names {
		dir, name := filepath.Split(rel)
		if (dir != "new/" && dir != "cur/") || !validMessageName(name) {
			return f.syncHintedLocked(entries)
		}
		key, info := splitName(name)
		fi, err := os.Lstat(filepath.Join(f.path, rel))
		if err == nil && fi.Mode().IsRegular() {
			entries[key] = entry{inNew: dir == "new/", info: info}
			continue
		}
		vanished = append(vanished, rel)
	}
	for _, rel := range vanished {
		_, name := filepath.Split(rel)
		key, _ := splitName(name)
		if _, found := entries[key]; found {
			continue // renamed within the batch
		}
		if m := f.byKey[key]; m != nil && m.rel() == rel {
			return f.syncHintedLocked(entries) // its current file is gone
		}
	}
	return f.reconcileLocked(entries, false)
}

// goneLocked expunges everything: the folder directory was removed.
func (f *folder) goneLocked() error {
	if f.gone {
		return nil
	}
	f.gone = true
	var change idle.Change
	gone := make(map[imap.UID]bool, len(f.msgs))
	for _, m := range f.msgs {
		gone[m.uid] = true
		change.Expunged = append(change.Expunged, m.uid)
	}
	f.removeLocked(gone)
	f.mem.dropAllLocked()
	f.applyLocked(change, nil)
	f.closeIndexLocked() // not written again: the file may be another state's now
	return nil
}

// applyLocked hands a change to the views.
func (f *folder) applyLocked(change idle.Change, from *idle.View) {
	if f.mbox == nil {
		return
	}
	if len(change.Expunged) == 0 && len(change.Added) == 0 && len(change.Flags) == 0 && change.MailboxFlags == nil {
		return
	}
	if change.Seen.IsZero() {
		change.Seen = f.seenAt
	}
	f.recordChangeLocked(&change)
	f.mbox.Apply(change, from)
}

// errUIDGap means dovecot-uidlist holds UIDs, above every UID we know, for
// files we have not seen: taking the candidates now would put their UIDs
// after those, and the others could then never be shown in order.
var errUIDGap = errors.New("uidlist has UIDs for files not yet seen")

// assignAndAddLocked gives UIDs to new files and adds them to the state. It
// returns the new UIDs in ascending order. complete says the candidates come
// from a full directory read; otherwise it may return errUIDGap, and the
// caller must sync the whole folder instead.
func (f *folder) assignAndAddLocked(cands []*message, complete bool) ([]imap.UID, error) {
	if err := f.assignLocked(cands, complete); err != nil {
		if !errors.Is(err, errUIDGap) && (!f.currentLocked() || errors.Is(err, fs.ErrNotExist)) {
			return nil, errNoSuchMailbox // removed or renamed meanwhile
		}
		return nil, err
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].uid < cands[j].uid })
	uids := make([]imap.UID, 0, len(cands))
	for _, m := range cands {
		if m.uid == 0 {
			continue
		}
		f.appendLocked(m)
		uids = append(uids, m.uid)
	}
	f.arrivedLocked(uids)
	return uids, nil
}

// assignLocked gives each candidate a UID under dovecot-uidlist.lock:
// the UID another process already wrote for its key when that is above
// every UID we have shown, else the next free one in Dovecot's file-name order.
// It creates dovecot-uidlist (with a new UIDVALIDITY) when there is none.
// Candidates are not added to the state. Unless complete, it returns
// errUIDGap, changing nothing, when the uidlist numbers files above our
// highest UID that are neither known nor candidates. With complete, such
// records are stale (their files are gone) and are skipped.
func (f *folder) assignLocked(cands []*message, complete bool) error {
	if err := f.checkCurrentLocked(); err != nil {
		return err
	}
	lock, err := f.lockUIDListLocked() // nil for a read-only folder (readonly.go)
	if errors.Is(err, dovecot.ErrLockTimeout) {
		return errBusy
	} else if err != nil {
		if missingDir(err) {
			f.currentLocked()
			return errNoSuchMailbox
		}
		return mapFSError(fmt.Errorf("lock uidlist: %w", err))
	}
	defer func() {
		if lock == nil {
			return
		}
		if err := lock.Unlock(); err != nil {
			f.log.Warn("uidlist lock", "err", err)
		}
	}()
	// The directory may have been replaced while we waited for the lock.
	if err := f.checkCurrentLocked(); err != nil {
		return err
	}

	listPath := filepath.Join(f.ctl, uidlistName)
	list, err := f.readUIDListLocked(listPath)
	created := false
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			f.log.Warn("rewriting unreadable dovecot-uidlist", "err", err)
		}
		uv := f.uidValidity
		if uv == 0 {
			if uv, err = f.newUIDValidityLocked(); err != nil {
				return mapFSError(fmt.Errorf("new uidvalidity: %w", err))
			}
		}
		list = &dovecot.UIDList{Version: 3, UIDValidity: uv, NextUID: uint32(f.uidNext), GUID: dovecot.NewGUID()}
		created = true
	}
	if f.uidValidity != 0 && list.UIDValidity != f.uidValidity {
		// Another program gave the folder a new UIDVALIDITY: every UID
		// we hold is void. The disk is right; this state is retired, and
		// the next open reads the folder afresh.
		f.log.Warn("dovecot-uidlist has a new UIDVALIDITY; reopening the folder", "was", f.uidValidity, "now", list.UIDValidity)
		f.goneLocked()
		return errReplaced
	}
	f.uidValidity = list.UIDValidity

	want := make(map[string]*message, len(cands))
	for _, m := range cands {
		want[m.key] = m
	}
	// A UID another process wrote can be taken only above every UID this
	// folder has ever shown, expunged ones included: a lower one could not
	// be announced in order (RFC 3501 2.3.1.1), and idle drops it.
	last := f.maxUID
	if !complete && f.uidGapLocked(list, last, want) {
		return errUIDGap
	}
	reappeared := f.takeRecordUIDsLocked(list, last, cands)
	var fresh []*message
	for _, m := range cands {
		if m.uid == 0 {
			fresh = append(fresh, m)
		}
	}
	if !f.inOrder {
		sort.Slice(fresh, func(i, j int) bool { return compareKeys(fresh[i].key, fresh[j].key) < 0 })
	}
	next := imap.UID(list.Next())
	if f.uidNext > next {
		next = f.uidNext
	}
	newRecs := make([]dovecot.Record, 0, len(fresh))
	for _, m := range fresh {
		m.uid = next
		next++
		rec := dovecot.Record{UID: uint32(m.uid), Key: m.key}
		if len(fresh) <= maxSizedAssign {
			rec.Fields = f.sizeFields(m)
		}
		newRecs = append(newRecs, rec)
	}
	if next > f.uidNext {
		f.uidNext = next
	}

	rewrite := created || reappeared || list.Version != 3 || list.NeedsRewrite ||
		f.needsCompactionLocked(list, want, len(newRecs))
	if f.readOnly {
		return nil // UIDs in memory only (readonly.go)
	}
	if !rewrite {
		if len(newRecs) == 0 {
			return nil
		}
		if err := dovecot.AppendRecords(listPath, newRecs); err != nil {
			f.dropUIDListLocked()
			return f.uidlistWrittenLocked(err)
		}
		f.appendedUIDListLocked(listPath, list, newRecs)
		return nil
	}
	// The list is rewritten: the next assignment reads the new file.
	f.dropUIDListLocked()
	// The rewritten file holds every message we know, with the fields its
	// old record had, plus any record another process added after our scan
	// (a UID above ours for a key we have not seen), plus the new ones. So a
	// deleted or truncated uidlist is restored from memory, not renumbered.
	old := make(map[string]dovecot.Record, len(list.Records))
	for _, r := range list.Records {
		old[r.Key] = r
	}
	kept := make([]dovecot.Record, 0, len(f.msgs)+len(cands)+len(newRecs))
	for _, m := range f.msgs {
		r, ok := old[m.key]
		if !ok || imap.UID(r.UID) != m.uid {
			r = dovecot.Record{UID: uint32(m.uid), Key: m.key, Fields: knownSizeFields(m)}
		}
		kept = append(kept, r)
	}
	for _, m := range cands {
		if r, ok := old[m.key]; ok && imap.UID(r.UID) == m.uid && m.uid != 0 {
			kept = append(kept, r)
		}
	}
	for _, r := range list.Records {
		if imap.UID(r.UID) > last && f.byKey[r.Key] == nil && want[r.Key] == nil {
			kept = append(kept, r)
		}
	}
	kept = append(kept, newRecs...)
	sort.Slice(kept, func(i, j int) bool { return kept[i].UID < kept[j].UID })
	list.Version = 3
	list.Records = kept
	list.NextUID = uint32(f.uidNext)
	if list.GUID == "" {
		list.GUID = dovecot.NewGUID()
	}
	if err := dovecot.WriteUIDList(f.ctl, list); err != nil {
		return f.uidlistWrittenLocked(err)
	}
	f.listIno = stampOf(listPath).ino
	return nil
}

// sizeFields computes the sizes a name lacks and returns them as
// dovecot-uidlist record fields ("W<vsize>", "S<size>"), as Dovecot writes
// them for files an MTA delivered.
func (f *folder) sizeFields(m *message) []string {
	if m.vsize >= 0 && m.fsize >= 0 {
		return nil
	}
	if err := f.computeSizes(m); err != nil {
		return nil
	}
	var fields []string
	if nameSize(m.key, 'W') < 0 {
		fields = append(fields, "W"+strconv.FormatInt(m.vsize, 10))
	}
	if nameSize(m.key, 'S') < 0 {
		fields = append(fields, "S"+strconv.FormatInt(m.fsize, 10))
	}
	return fields
}

// knownSizeFields returns the W and S fields for sizes a message's name
// lacks but memory knows.
func knownSizeFields(m *message) []string {
	var fields []string
	if nameSize(m.key, 'W') < 0 && m.vsize >= 0 {
		fields = append(fields, "W"+strconv.FormatInt(m.vsize, 10))
	}
	if nameSize(m.key, 'S') < 0 && m.fsize >= 0 {
		fields = append(fields, "S"+strconv.FormatInt(m.fsize, 10))
	}
	return fields
}

// applyRecordSizes takes the sizes of a uidlist record's W and S fields.
func applyRecordSizes(m *message, r dovecot.Record) {
	if m.vsize < 0 {
		if v, ok := r.Field('W'); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				m.vsize = n
			}
		}
	}
	if m.fsize < 0 {
		if v, ok := r.Field('S'); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				m.fsize = n
			}
		}
	}
}

// fileStamp identifies a version of a file by size, mtime and inode.
type fileStamp struct {
	size  int64
	mtime time.Time
	ino   uint64
}

func stampOf(path string) fileStamp {
	fi, err := os.Lstat(path)
	if err != nil {
		return fileStamp{}
	}
	s := fileStamp{size: fi.Size(), mtime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.ino = st.Ino
	}
	return s
}

// mapFSError turns disk-full and permission errors into clean IMAP answers
// and leaves other errors (server faults) as they are.
func mapFSError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return errNoSpace
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS):
		return errPermission
	case errors.Is(err, safefile.ErrNotRegular):
		return errNotRegular
	}
	return err
}
