package maildirbackend

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/safefile"

	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/idle"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/courier"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/dovecot"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/folderindex"
	"github.com/maildir-imapd/maildir-imapd/watch"
)

// folder is the in-memory state of one Maildir++ folder, shared by every
// session of the process that uses it. It is reconciled with the disk on
// load, on every change the watcher reports, and before each write it makes.
type folder struct {
	acct    *account // immutable
	mailbox string   // immutable: the IMAP name it was opened under
	path    string   // immutable: absolute folder directory
	ctl     string   // immutable: directory of its control files: path, or under CONTROL=
	log     *slog.Logger

	refs   int         // protected by account.mu
	linger *time.Timer // protected by account.mu

	mu          sync.Mutex
	loaded      bool
	gone        bool            // the folder directory disappeared or was replaced
	readOnly    bool            // dovecot-uidlist cannot be written: UIDs in memory, sessions read-only (readonly.go)
	dir         dirID           // the directory loaded: the folder's identity (identity.go)
	tmpCleaned  time.Time       // when tmp/ was last cleaned (tmpclean.go)
	background  bool            // a watcher-driven sync runs: short lock waits
	seenAt      time.Time       // when the changes of that sync were seen on disk (push latency); zero: none
	stopped     bool            // no longer watched: no retry either
	inOrder     bool            // addFiles runs: new UIDs in the caller's order
	placing     map[string]bool // keys of the files COPY/MOVE is placing: addFiles numbers them, syncs leave them
	retry       *time.Timer     // retries a failed background sync; may be nil
	retryDelay  time.Duration   // the next retry's delay (backoff)
	uidValidity uint32
	uidNext     imap.UID
	msgs        []*message   // ascending UID
	maxUID      imap.UID     // highest UID ever in msgs: never decreases
	recentFloor imap.UID     // UIDs above it are \Recent and unclaimed (recent.go)
	rw          []*selection // read-write selections, earliest first
	byKey       map[string]*message
	keywords    *dovecot.Keywords
	kwStamp     fileStamp
	scanned     dirStamp      // cur/ and new/ as the last complete scan read them (dirstamp.go)
	listIno     uint64        // inode of dovecot-uidlist as we last read or wrote it
	uidlist     *uidlistCache // dovecot-uidlist as we last read or wrote it; may be nil (uidlistcache.go)
	recheck     *time.Timer   // runs recheckUIDList after activity; may be nil
	mbox        *idle.Mailbox
	mem         memCache // messages' content held in memory (content.go)

	cacheMu   sync.Mutex
	cache     *diskCache // the cache file (cachefile.go); nil until first used
	cacheDone bool       // stopped: no cache file any more
	pruning   bool       // a prune step runs (cacheprune.go)
	prunedAt  time.Time  // when the last one started

	fts ftsState // the full-text index (ftsfolder.go)

	idx           *folderindex.Index // nil: modification sequences in memory only (modseq.go)
	highestModSeq uint64             // HIGHESTMODSEQ
	modSeqBase    uint64             // the index knows the expunges above this modseq only

	watchMu sync.Mutex
	sub     *watch.Subscription
	syncing atomic.Bool    // a drain goroutine runs
	syncs   sync.WaitGroup // drain goroutines
}

func newFolder(a *account, name, path string) *folder {
	return &folder{
		acct:    a,
		mailbox: name,
		path:    path,
		ctl:     a.names.control(path),
		log:     a.log.With("mailbox", name),
		byKey:   make(map[string]*message),
	}
}

// open loads the folder if needed and starts following the disk. A folder
// already open first applies the changes the watcher reported and no sync
// has taken yet, so that SELECT, EXAMINE and STATUS answer from the disk
// as it is, as Dovecot's sync on SELECT does.
func (f *folder) open() error {
	f.watchMu.Lock()
	sub := f.sub
	f.watchMu.Unlock()
	if sub != nil && sub.Pending() {
		if b := sub.Drain(); !b.Empty() {
			f.syncBatch(b)
		}
	}
	f.mu.Lock()
	if !f.loaded {
		// Watch before the first listing, so that a change between the
		// two is reported (its sync waits for the load); a folder that
		// cannot be watched yet (no directory) is watched after it.
		_ = f.startWatching()
		if err := f.loadLocked(); err != nil {
			f.mu.Unlock()
			return err
		}
		f.loaded = true
	} else if err := f.refreshLocked(); err != nil {
		f.mu.Unlock()
		return err
	}
	f.mu.Unlock()
	f.cleanTmpIfDue()
	f.ftsKick()
	return f.startWatching()
}

// loadLocked reads the folder from disk: directory listing, uidlist,
// keywords. Files without a UID get one.
func (f *folder) loadLocked() error {
	id, err := ensureFolderDirs(f.path, f.isInbox())
	if err != nil {
		return err
	}
	if f.ctl != f.path {
		if err := os.MkdirAll(f.ctl, 0o700); err != nil {
			return mapFSError(fmt.Errorf("create control directory: %w", err))
		}
	}
	f.dir = id
	// A Courier-IMAP folder (courierimapuiddb, no dovecot-uidlist) is
	// converted once, keeping its UIDs and keywords; not with CONTROL=
	// elsewhere, where the import would write where nobody reads.
	if f.ctl == f.path {
		f.importCourierLocked()
	}
	f.readKeywordsLocked()
	stamp := readDirStamp(f.path)
	entries, err := readEntries(f.path)
	if err != nil {
		return err
	}
	f.listIno = stampOf(filepath.Join(f.ctl, uidlistName)).ino
	list, err := dovecot.ReadUIDList(filepath.Join(f.ctl, uidlistName))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		f.log.Warn("unreadable dovecot-uidlist, rebuilding under its lock", "err", err)
		list = nil
	}
	var cands []*message
	var stale []dovecot.Record
	if list != nil {
		f.uidValidity = list.UIDValidity
		f.uidNext = imap.UID(list.Next())
		for _, r := range list.Records {
			e, ok := entries[r.Key]
			if !ok {
				stale = append(stale, r)
			}
			if !ok || f.byKey[r.Key] != nil {
				continue // stale line, or a duplicate: the first wins here
			}
			m := newMessage(strings.Clone(r.Key), e.inNew, e.info)
			m.uid = imap.UID(r.UID)
			applyRecordSizes(m, r)
			f.appendLocked(m)
			delete(entries, r.Key)
		}
	}
	f.usedStaleUIDsLocked(stale)
	for key, e := range entries {
		cands = append(cands, newMessage(key, e.inNew, e.info))
	}
	if list == nil || len(cands) > 0 {
		if _, err := f.assignAndAddLocked(cands, true); err != nil {
			return err
		}
	}
	f.initRecentLocked()
	f.openIndexLocked()
	f.mbox = idle.NewMailbox(f.uidsLocked(), f.mailboxFlagsLocked())
	f.scannedLocked(stamp)
	return nil
}

// usedStaleUIDsLocked counts the UIDs of dovecot-uidlist records whose
// files a load did not find as used: those messages were expunged (another
// program unlinked them) while the record stayed. A file with such a name
// that turns up later, such as a COPY, which keeps its source's name, is a
// new message and gets a new UID, as Dovecot gives an "expunged message
// reappeared". A second listing keeps a file that readdir missed while it
// was renamed from being taken for gone.
func (f *folder) usedStaleUIDsLocked(stale []dovecot.Record) {
	if len(stale) == 0 {
		return
	}
	again, err := readEntries(f.path)
	if err != nil {
		return
	}
	for _, r := range stale {
		if _, ok := again[r.Key]; !ok && imap.UID(r.UID) > f.maxUID {
			f.maxUID = imap.UID(r.UID)
		}
	}
}

const uidlistName = "dovecot-uidlist"

// entry is one message file found in new/ or cur/.
type entry struct {
	inNew bool
	info  string
}

// readEntries lists new/ and cur/ without sorting or stat: keys to entries.
// A key present in both (a rename from new/ to cur/ seen half-way) is taken
// from cur/.
func readEntries(path string) (map[string]entry, error) {
	entries := make(map[string]entry)
	for _, sub := range [...]string{"new", "cur"} {
		names, err := readDirNames(filepath.Join(path, sub))
		if err != nil {
			return nil, err
		}
		inNew := sub == "new"
		for _, name := range names {
			if !validMessageName(name) {
				continue
			}
			key, info := splitName(name)
			entries[key] = entry{inNew: inNew, info: info}
		}
	}
	return entries, nil
}

// readDirNames lists the regular files of dir, unsorted, from the
// directory entries' types (no stat). Subdirectories, symbolic links and
// other non-files are not messages: a symbolic link could make the server
// read a file its owner may read and the mail user may not.
func readDirNames(dir string) ([]string, error) {
	// O_NOFOLLOW: a cur/ or new/ replaced by a symbolic link must not
	// list another directory's messages.
	d, err := os.OpenFile(dir, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", filepath.Base(dir), err)
	}
	defer d.Close()
	entries, err := d.ReadDir(-1)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Base(dir), err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// openMessageFile opens a message file for reading, refusing to follow a
// symbolic link put in its place.
func openMessageFile(path string) (*os.File, error) {
	return safefile.Open(path)
}

// validMessageName reports whether a directory entry can be a message:
// Dovecot ignores dot files and names with CR or LF.
func validMessageName(name string) bool {
	return name != "" && name[0] != '.' && !strings.ContainsAny(name, "\r\n/")
}

// ensureFolderDirs makes sure a folder has cur/, new/ and tmp/ when its
// directory exists (the Maildir root is created for INBOX), and returns
// the identity of the folder directory (identity.go). A folder whose
// directory or subdirectory is a symbolic link, or anything but a
// directory, is refused: it could lead into another user's mail.
func ensureFolderDirs(path string, isInbox bool) (dirID, error) {
	if isInbox {
		if err := os.MkdirAll(path, 0o700); err != nil {
			return dirID{}, mapFSError(fmt.Errorf("create maildir: %w", err))
		}
	}
	id, err := statFolderDir(path, isInbox)
	if missingDir(err) {
		return dirID{}, errNoSuchMailbox
	} else if err != nil {
		return dirID{}, fmt.Errorf("stat folder: %w", err)
	}
	for _, sub := range [...]string{"cur", "new", "tmp"} {
		p := filepath.Join(path, sub)
		err := os.Mkdir(p, 0o700)
		switch {
		case err == nil:
			continue
		case errors.Is(err, fs.ErrNotExist) && !isInbox:
			return dirID{}, errNoSuchMailbox // the folder was renamed meanwhile
		case !errors.Is(err, fs.ErrExist):
			return dirID{}, mapFSError(fmt.Errorf("create %s: %w", sub, err))
		}
		if fi, err := os.Lstat(p); err != nil {
			return dirID{}, mapFSError(fmt.Errorf("stat %s: %w", sub, err))
		} else if !fi.IsDir() {
			return dirID{}, errUnsafeFolder
		}
	}
	return id, nil
}

// appendLocked adds a message with a UID above every other.
func (f *folder) appendLocked(m *message) {
	f.msgs = append(f.msgs, m)
	f.byKey[m.key] = m
	if m.uid > f.maxUID {
		f.maxUID = m.uid
	}
	if m.uid >= f.uidNext {
		f.uidNext = m.uid + 1
	}
	if f.loaded {
		f.ftsKick() // index the new message
	}
}

func (f *folder) uidsLocked() []imap.UID {
	uids := make([]imap.UID, len(f.msgs))
	for i, m := range f.msgs {
		uids[i] = m.uid
	}
	return uids
}

// byUIDLocked finds a message by UID, or nil.
func (f *folder) byUIDLocked(uid imap.UID) *message {
	i := sort.Search(len(f.msgs), func(i int) bool { return f.msgs[i].uid >= uid })
	if i < len(f.msgs) && f.msgs[i].uid == uid {
		return f.msgs[i]
	}
	return nil
}

// removeLocked drops the messages in gone from the state.
func (f *folder) removeLocked(gone map[imap.UID]bool) {
	kept := f.msgs[:0]
	for _, m := range f.msgs {
		if gone[m.uid] {
			delete(f.byKey, m.key)
			continue
		}
		kept = append(kept, m)
	}
	for i := len(kept); i < len(f.msgs); i++ {
		f.msgs[i] = nil
	}
	f.msgs = kept
}

// startWatching subscribes the folder to the watcher, once. No goroutine
// waits on an idle folder: the watcher's notification starts one (kick)
// that drains and syncs until nothing is pending.
func (f *folder) startWatching() error {
	f.watchMu.Lock()
	defer f.watchMu.Unlock()
	if f.sub != nil {
		return nil
	}
	sub, err := f.acct.b.watcher.SubscribeFunc(f.path, f.kick)
	if err != nil {
		return fmt.Errorf("watch folder: %w", err)
	}
	f.sub = sub
	return nil
}

// stopWatching drops the watches and waits for a running sync to end.
func (f *folder) stopWatching() {
	f.releaseCacheFile()
	f.watchMu.Lock()
	sub := f.sub
	f.sub = nil
	f.watchMu.Unlock()
	if sub == nil {
		f.mu.Lock()
		f.closeIndexLocked()
		f.mu.Unlock()
		return
	}
	sub.Close()
	f.syncs.Wait()
	f.ftsStop()
	f.mu.Lock()
	if f.recheck != nil {
		f.recheck.Stop()
	}
	if f.retry != nil {
		f.retry.Stop()
	}
	f.stopped = true
	f.closeIndexLocked()
	f.mu.Unlock()
}

// kick is the watcher's notification: it starts the sync goroutine unless
// one is running. It never blocks.
func (f *folder) kick() {
	if f.syncing.CompareAndSwap(false, true) {
		f.syncs.Add(1)
		go f.drain()
	}
}

// drain applies the changes the watcher reports until none is pending.
func (f *folder) drain() {
	defer f.syncs.Done()
	f.watchMu.Lock()
	sub := f.sub
	f.watchMu.Unlock()
	for sub != nil {
		if b := sub.Drain(); !b.Empty() {
			f.syncBatch(b)
			continue
		}
		f.syncing.Store(false)
		// A notification between Drain and Store saw a sync running and
		// returned: look once more.
		if !sub.Pending() || !f.syncing.CompareAndSwap(false, true) {
			return
		}
	}
	f.syncing.Store(false)
}

// syncBatch reconciles the folder with the names of a watcher batch, never
// letting a panic kill the sync goroutine.
func (f *folder) syncBatch(b watch.Batch) {
	defer func() {
		if v := recover(); v != nil {
			f.log.Error("panic while syncing folder", "err", v, "stack", string(debug.Stack()))
		}
	}()
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.loaded {
		return // its load failed; the next load reads everything
	}
	f.background, f.seenAt = true, b.Seen
	var err error
	if b.Rescan || len(b.Names) == 0 {
		err = f.syncLocked()
	} else {
		err = f.syncNamesLocked(b.Names)
	}
	f.background, f.seenAt = false, time.Time{}
	if err != nil {
		f.syncFailedLocked(err)
	} else if f.retryDelay != 0 {
		f.retryDelay = 0
		f.retry.Stop()
	}
	// Another process handling the same change may rewrite dovecot-uidlist
	// a moment later, and that file is not watched: look once more when
	// the activity settles (a stat; see adoptUIDListLocked).
	if f.recheck == nil {
		f.recheck = time.AfterFunc(uidlistRecheckDelay, f.recheckUIDList)
	} else {
		f.recheck.Reset(uidlistRecheckDelay)
	}
}

// uidlistRecheckDelay is how long after a change the folder looks again for
// a dovecot-uidlist rewritten by another process.
const uidlistRecheckDelay = 200 * time.Millisecond

// recheckUIDList adopts a dovecot-uidlist another process rewrote.
func (f *folder) recheckUIDList() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.loaded || !f.currentLocked() {
		return
	}
	if err := f.adoptUIDListLocked(); err != nil {
		f.log.Warn("adopting rewritten dovecot-uidlist", "err", err)
	}
}

// importCourierLocked converts a Courier-IMAP folder's UIDs and keywords
// once.
func (f *folder) importCourierLocked() {
	if ok, err := courier.Convert(f.path); err != nil {
		f.log.Warn("cannot import Courier-IMAP UIDs and keywords; assigning new UIDs", "err", err)
	} else if ok {
		f.log.Info("imported Courier-IMAP UIDs and keywords")
	}
}
