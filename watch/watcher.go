package watch

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
)

// ErrClosed is returned by [Watcher.Subscribe] after [Watcher.Close].
var ErrClosed = errors.New("watch: watcher closed")

const (
	defaultPollInterval   = 5 * time.Second
	defaultSafetyInterval = 30 * time.Second

	// maxPending bounds the names a Subscription keeps between two Drains;
	// past it the pending names collapse into Rescan.
	maxPending = 4096
)

// subdirs are the directories of a folder that are watched, in index order.
var subdirs = [2]string{"new", "cur"}

// Options configures a [Watcher]. The zero value gives the documented defaults.
type Options struct {
	// Logger receives the Watcher's logs; nil means slog.Default().
	Logger *slog.Logger
	// PollInterval is how often folders without inotify watches are stat'ed;
	// 0 means 5s.
	PollInterval time.Duration
	// SafetyInterval is how often folders with inotify watches are stat'ed
	// anyway, to catch changes that produce no events (NFS); 0 means 30s and
	// a negative value disables the check. A changed new/ or cur/ signature
	// (mtime, ctime, size, inode) gives Rescan when no event was delivered for
	// the folder since the previous check; a directory replaced at the same
	// path also gets its watches renewed.
	SafetyInterval time.Duration
	// MaxWatches caps the number of inotify watches the Watcher holds (two per
	// folder); folders beyond it are polled. 0 means unlimited (the kernel's
	// max_user_watches decides).
	MaxWatches int
}

// Stats is a snapshot of a [Watcher]'s state, returned by [Watcher.Stats].
type Stats struct {
	Folders       int    // folders with at least one subscription
	Subscriptions int    // open subscriptions
	Watches       int    // inotify watches held
	PolledFolders int    // folders served by polling (fully or partly)
	Events        uint64 // fsnotify events received
	Overflows     uint64 // kernel event queue overflows
	Rescans       uint64 // batches that asked for a whole-folder rescan (overflow, lost names, polled changes)
	Fallback      string // why inotify first failed a folder (limits); "" if it never did
}

// Watcher watches the new/ and cur/ directories of subscribed Maildir folders
// with one fsnotify instance, falling back to polling when needed.
//
// Create it with [New], normally once per process. All methods are safe for
// concurrent use. The owner calls [Watcher.Close].
type Watcher struct {
	log            *slog.Logger             // immutable
	pollInterval   time.Duration            // immutable
	safetyInterval time.Duration            // immutable; <= 0: disabled
	maxWatches     int                      // immutable; 0: unlimited
	fsw            *fsnotify.Watcher        // immutable; may be nil: poll everything
	fsOf           func(path string) string // immutable: NetworkFS; tests replace it

	// regMu serialises the fsnotify Add and Remove calls of Subscribe, the
	// last Subscription.Close of a folder and Close. The event loop never
	// takes it, so fsnotify's reader can always hand over its events.
	regMu sync.Mutex

	mu             sync.Mutex
	closed         bool
	folders        map[string]*folderState // by cleaned absolute path
	dirs           map[string]dirRef       // watched directory path -> folder
	inodes         map[dirID]dirRef        // watched directory identity -> folder (see evictStale)
	watches        int
	fallback       string
	warnedFallback bool
	warnedOverflow bool
	warnedError    bool
	loggedRemote   map[string]bool // folders logged as on a network file system

	events    atomic.Uint64
	overflows atomic.Uint64
	rescans   atomic.Uint64

	done chan struct{}
	wg   sync.WaitGroup
}

// folderState is the shared state of one subscribed Maildir folder; w.mu guards
// every field but path.
type folderState struct {
	path      string   // immutable
	key       string   // immutable: its key in Watcher.folders (path, or path with flatSuffix)
	dirs      []string // immutable: the directories watched, relative to path: subdirs, or "" (SubscribeDir)
	subs      []*Subscription
	watched   [2]bool // dirs[i] holds an inotify watch
	polled    bool    // served by the poller (no, or lost, watches)
	remote    string  // immutable: the network file system it is on ("nfs"), polled too; "" if local
	lost      bool    // the kernel dropped a watch (directory removed or moved): re-add when back
	sig       [2]dirSig
	wid       [2]dirID // the directory each inotify watch follows
	eventSeen bool     // an event was delivered since the last safety check
}

// dirRef names one watched directory: dirs[i] of f.
type dirRef struct {
	f *folderState
	i int
}

// New starts a Watcher. opts may be nil. The error is always nil: a Watcher
// without inotify still works by polling.
//
// If no inotify instance can be created (EMFILE: the per-user instance limit),
// New still succeeds and every folder is polled; this is logged once at Warn.
func New(opts *Options) (*Watcher, error) {
	fsw, err := fsnotify.NewWatcher()
	return newWatcher(opts, fsw, err), nil
}

// newWatcher builds the Watcher around fsw, or around nothing (polling only)
// when fswErr is not nil.
func newWatcher(opts *Options, fsw *fsnotify.Watcher, fswErr error) *Watcher {
	if opts == nil {
		opts = &Options{}
	}
	w := &Watcher{
		log:            opts.Logger,
		pollInterval:   opts.PollInterval,
		safetyInterval: opts.SafetyInterval,
		maxWatches:     opts.MaxWatches,
		folders:        make(map[string]*folderState),
		dirs:           make(map[string]dirRef),
		inodes:         make(map[dirID]dirRef),
		loggedRemote:   make(map[string]bool),
		fsOf:           NetworkFS,
		done:           make(chan struct{}),
	}
	if w.log == nil {
		w.log = slog.Default()
	}
	if w.pollInterval <= 0 {
		w.pollInterval = defaultPollInterval
	}
	if w.safetyInterval == 0 {
		w.safetyInterval = defaultSafetyInterval
	}
	if w.maxWatches < 0 {
		w.maxWatches = 0
	}
	if fswErr != nil {
		w.fallback = fmt.Sprintf("inotify unavailable: %v", fswErr)
		w.warnedFallback = true
		w.log.Warn("inotify unavailable, polling all folders",
			"err", fswErr, "interval", w.pollInterval)
	} else {
		w.fsw = fsw
		w.wg.Add(1)
		go w.eventLoop()
	}
	w.wg.Add(1)
	go w.tickLoop()
	return w
}

// Subscribe watches folder, a Maildir directory containing new/ and cur/, and
// returns a new [Subscription] with its own queue. Several subscriptions to the
// same folder share its watches. Changes made after Subscribe returns are
// reported, so a consumer subscribes first and scans the folder second.
//
// A relative folder is made absolute and symbolic links are resolved; see
// [Subscription.Folder]. Subscribe fails if folder is not a
// directory, and returns [ErrClosed] after [Watcher.Close]. A folder that
// cannot get inotify watches is polled; that is not an error.
func (w *Watcher) Subscribe(folder string) (*Subscription, error) {
	return w.subscribe(folder, nil, false)
}

// SubscribeFunc is like Subscribe, but instead of signalling the Ready
// channel it calls notify, from the watcher's goroutine, whenever Drain has
// something new. notify must not block; it typically starts a goroutine
// that drains, so that an idle folder costs no goroutine at all. A call may
// find an empty Batch.
func (w *Watcher) SubscribeFunc(folder string, notify func()) (*Subscription, error) {
	return w.subscribe(folder, notify, false)
}

func (w *Watcher) subscribe(folder string, notify func(), flat bool) (*Subscription, error) {
	path, err := filepath.Abs(folder)
	if err != nil {
		return nil, fmt.Errorf("watch: subscribe %q: %w", folder, err)
	}
	// inotify watches inodes: two paths to one directory must share the
	// watches, or fsnotify reports the events under the first path only.
	if resolved, err := filepath.EvalSymlinks(path); err == nil {
		path = resolved
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("watch: subscribe: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("watch: subscribe %s: not a directory", path)
	}

	key, dirs := path, subdirs[:]
	if flat {
		key, dirs = path+flatSuffix, []string{""}
	}
	if s, f, stale, err := w.join(key, notify); err != nil || s != nil {
		if stale {
			// The folder was removed and created again while subscribed:
			// follow the new directories now, not at the next poll.
			w.rewatch(f)
		}
		return s, err
	}

	w.regMu.Lock()
	defer w.regMu.Unlock()

	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil, ErrClosed
	}
	if f := w.folders[key]; f != nil {
		// Subscribed meanwhile; the check for replaced directories is
		// the next subscriber's or the poller's.
		s := newSubscription(w, f, notify)
		f.subs = append(f.subs, s)
		w.mu.Unlock()
		return s, nil
	}
	var reason string
	switch {
	case w.fsw == nil:
		reason = w.fallback
	case w.maxWatches > 0 && w.watches+len(dirs) > w.maxWatches:
		reason = fmt.Sprintf("MaxWatches (%d) reached", w.maxWatches)
	}
	w.mu.Unlock()

	// The fsnotify calls run without w.mu; regMu keeps them ordered.
	f := &folderState{path: path, key: key, dirs: dirs, remote: w.fsOf(path)}
	now := time.Now()
	for i, d := range dirs {
		f.sig[i] = statDir(filepath.Join(path, d), now)
	}
	var addErr error
	if reason == "" {
		addErr = w.addWatches(f)
		if addErr != nil {
			reason = fmt.Sprintf("inotify add watch: %v", addErr)
		}
	}
	f.polled = reason != ""

	w.mu.Lock()
	defer w.mu.Unlock()
	// Close takes regMu too, so w.closed cannot have changed.
	for i := range dirs {
		if f.watched[i] {
			w.trackLocked(f, i)
		}
	}
	w.folders[key] = f
	switch {
	case errors.Is(addErr, fs.ErrNotExist):
		// new/ or cur/ is missing: not a limit; watch it once it exists.
		f.lost = true
		w.log.Debug("folder lacks new/ or cur/, polling it", "folder", path, "err", addErr)
	case f.polled:
		w.noteFallbackLocked(path, reason, addErr)
	}
	if f.remote != "" {
		w.noteRemoteLocked(f)
	}
	s := newSubscription(w, f, notify)
	f.subs = append(f.subs, s)
	return s, nil
}

// join adds a subscription to the folder at path if it is subscribed
// already, and reports whether its watches must be replaced (see
// staleLocked). It returns a nil Subscription if the folder is new.
func (w *Watcher) join(key string, notify func()) (s *Subscription, f *folderState, stale bool, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, nil, false, ErrClosed
	}
	f = w.folders[key]
	if f == nil {
		return nil, nil, false, nil
	}
	s = newSubscription(w, f, notify)
	f.subs = append(f.subs, s)
	return s, f, w.staleLocked(f), nil
}

// staleLocked reports whether f's inotify watches no longer follow the
// directories at its path (lost, or the directories were replaced).
func (w *Watcher) staleLocked(f *folderState) bool {
	if w.fsw == nil {
		return false
	}
	if f.lost {
		return true
	}
	for i, d := range f.dirs {
		if !f.watched[i] {
			continue
		}
		if id, ok := idOf(filepath.Join(f.path, d)); ok && id != f.wid[i] {
			return true
		}
	}
	return false
}

// addWatches adds inotify watches on the directories of f, all or none.
// Called with regMu held and w.mu not.
func (w *Watcher) addWatches(f *folderState) error {
	for i, d := range f.dirs {
		p := filepath.Join(f.path, d)
		err := w.evictStale(p)
		if err == nil {
			err = w.fsw.Add(p)
		}
		if err != nil {
			for j := range i {
				w.removeWatch(filepath.Join(f.path, f.dirs[j]))
				f.watched[j] = false
			}
			return err
		}
		f.watched[i] = true
		f.wid[i], _ = idOf(p)
	}
	return nil
}

// removeWatch drops the inotify watch on path; a watch the kernel already
// dropped (directory removed) is not an error.
func (w *Watcher) removeWatch(path string) {
	err := w.fsw.Remove(path)
	if err != nil && !errors.Is(err, fsnotify.ErrNonExistentWatch) && !errors.Is(err, fsnotify.ErrClosed) {
		w.log.Debug("inotify remove watch", "folder", filepath.Dir(path), "err", err)
	}
}

// noteFallbackLocked records why folder is polled when it could not get
// watches, logging at Warn once per Watcher.
func (w *Watcher) noteFallbackLocked(folder, reason string, err error) {
	if w.fallback == "" {
		w.fallback = reason
	}
	if w.warnedFallback {
		w.log.Debug("polling folder", "folder", folder, "reason", reason)
		return
	}
	w.warnedFallback = true
	msg := "inotify watch unavailable, polling folders"
	if err == nil || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EMFILE) {
		msg = "inotify watch limit reached, polling folders"
	}
	w.log.Warn(msg, "folder", folder, "reason", reason, "interval", w.pollInterval)
}

// unsubscribe forgets s and, when it was the folder's last subscription,
// the folder and its watches.
func (w *Watcher) unsubscribe(s *Subscription) {
	w.regMu.Lock()
	defer w.regMu.Unlock()

	w.mu.Lock()
	f := s.f
	for i, x := range f.subs {
		if x == s {
			f.subs = append(f.subs[:i], f.subs[i+1:]...)
			break
		}
	}
	var drop []string
	if len(f.subs) == 0 && w.folders[f.key] == f {
		delete(w.folders, f.key)
		for i := range f.dirs {
			if f.watched[i] {
				drop = append(drop, w.untrackLocked(f, i))
			}
		}
	}
	w.mu.Unlock()

	for _, p := range drop {
		w.removeWatch(p)
	}
}

// Close stops the Watcher's goroutines and releases the inotify instance.
// Open subscriptions stop receiving changes and their Drain returns an empty
// Batch; their Ready channels are not closed. Later calls to
// [Watcher.Subscribe] return [ErrClosed]. Close is idempotent.
func (w *Watcher) Close() error {
	w.regMu.Lock()
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		w.regMu.Unlock()
		return nil
	}
	w.closed = true
	var subs []*Subscription
	for _, f := range w.folders {
		subs = append(subs, f.subs...)
		f.subs = nil
	}
	w.folders = make(map[string]*folderState)
	w.dirs = make(map[string]dirRef)
	w.inodes = make(map[dirID]dirRef)
	w.watches = 0
	w.mu.Unlock()

	close(w.done)
	var err error
	if w.fsw != nil {
		if cerr := w.fsw.Close(); cerr != nil {
			err = fmt.Errorf("watch: close inotify: %w", cerr)
		}
	}
	// Unlock before waiting: the poller may be waiting for regMu in rewatch,
	// which returns at once now that w.closed is set.
	w.regMu.Unlock()

	for _, s := range subs {
		s.markClosed()
	}
	w.wg.Wait()
	return err
}

// Stats returns a snapshot of the Watcher's state.
func (w *Watcher) Stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := Stats{
		Folders:   len(w.folders),
		Watches:   w.watches,
		Events:    w.events.Load(),
		Overflows: w.overflows.Load(),
		Rescans:   w.rescans.Load(),
		Fallback:  w.fallback,
	}
	for _, f := range w.folders {
		st.Subscriptions += len(f.subs)
		if f.polls() {
			st.PolledFolders++
		}
	}
	return st
}

// eventLoop drains fsnotify's Events and Errors until the fsnotify watcher is
// closed. It never waits on consumers.
func (w *Watcher) eventLoop() {
	defer w.wg.Done()
	for {
		select {
		case <-w.done:
			return
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return
			}
			w.safely(func() { w.handleEvent(ev) })
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return
			}
			w.safely(func() { w.handleError(err) })
		}
	}
}

// safely runs fn; on a panic it logs and asks every subscription to rescan.
func (w *Watcher) safely(fn func()) {
	defer func() {
		if r := recover(); r != nil {
			w.log.Error("watch: recovered panic, rescanning all folders", "err", fmt.Errorf("panic: %v", r))
			w.rescanAll()
		}
	}()
	fn()
}

// handleEvent routes one fsnotify event to the subscriptions of its folder.
func (w *Watcher) handleEvent(ev fsnotify.Event) {
	w.events.Add(1)
	w.mu.Lock()
	defer w.mu.Unlock()

	if ref, ok := w.dirs[ev.Name]; ok {
		// The watched directory itself: removed (IN_DELETE_SELF) or moved
		// (IN_MOVE_SELF). The kernel dropped the watch; poll the folder so
		// that a recreated directory is noticed.
		// An event of a watch replaced meanwhile (the folder was created
		// again and rewatched) comes under the same path: the directory
		// there is still the one watched, so the watch is not lost.
		if ev.Op.Has(fsnotify.Remove) || ev.Op.Has(fsnotify.Rename) {
			if id, ok := idOf(ev.Name); !ok || id != ref.f.wid[ref.i] {
				w.lostWatchLocked(ref)
			}
		}
		return
	}
	// Write and Chmod do not change a message's name or flags.
	if ev.Op&(fsnotify.Create|fsnotify.Remove|fsnotify.Rename) == 0 {
		return
	}
	ref, ok := w.dirs[filepath.Dir(ev.Name)]
	if !ok {
		return
	}
	ref.f.eventSeen = true
	name := filepath.Base(ev.Name)
	if d := ref.f.dirs[ref.i]; d != "" {
		name = d + "/" + name
	}
	for _, s := range ref.f.subs {
		s.add(name)
	}
}

// lostWatchLocked records that the kernel dropped the watch ref and tells the
// folder's subscriptions to rescan.
func (w *Watcher) lostWatchLocked(ref dirRef) {
	f := ref.f
	w.untrackLocked(f, ref.i)
	f.lost = true
	if !f.polled {
		// Not a degraded mode: the folder is gone (or moved) until recreated.
		f.polled = true
		w.log.Debug("watched directory removed or moved, polling folder", "folder", f.path)
	}
	for _, s := range f.subs {
		s.setRescan()
	}
}

// handleError handles an error from fsnotify: events may have been lost, so
// every subscription rescans.
func (w *Watcher) handleError(err error) {
	if errors.Is(err, fsnotify.ErrEventOverflow) {
		w.overflows.Add(1)
		w.mu.Lock()
		first := !w.warnedOverflow
		w.warnedOverflow = true
		w.mu.Unlock()
		if first {
			w.log.Warn("inotify event queue overflow, rescanning all folders (raise fs.inotify.max_queued_events)")
		} else {
			w.log.Debug("inotify event queue overflow, rescanning all folders")
		}
	} else {
		w.mu.Lock()
		first := !w.warnedError
		w.warnedError = true
		w.mu.Unlock()
		if first {
			w.log.Warn("inotify error, rescanning all folders", "err", err)
		} else {
			w.log.Debug("inotify error, rescanning all folders", "err", err)
		}
	}
	w.rescanAll()
}

// rescanAll sets Rescan on every subscription.
func (w *Watcher) rescanAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, f := range w.folders {
		for _, s := range f.subs {
			s.setRescan()
		}
	}
}
