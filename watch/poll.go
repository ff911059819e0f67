package watch

import (
	"fmt"
	"path/filepath"
	"time"
)

// racyWindow is how recent a directory's mtime or ctime may be before its
// signature is not trusted to change on the next modification: file times
// come from a coarse clock, so two changes within one tick can leave the
// same mtime. A polled folder whose last signature was racy is rescanned
// once more. Dovecot's maildir sync keeps a similar window.
const racyWindow = 2 * time.Second

// dirSig is the stat(2) signature of a directory. Adding, removing or
// renaming an entry changes its mtime and ctime, and possibly its size.
type dirSig struct {
	exists       bool
	dev, ino     uint64
	size         int64
	mtime, ctime int64 // nanoseconds since the epoch
	racy         bool  // not part of the signature; see racyWindow
}

// dirID identifies a directory by device and inode: what an inotify watch
// follows, whatever path leads to it now.
type dirID struct{ dev, ino uint64 }

// idOf returns the identity of the directory at path, or ok false.
func idOf(path string) (id dirID, ok bool) {
	sig, ok := statSig(path)
	return dirID{sig.dev, sig.ino}, ok
}

// same reports whether a and b are the same signature.
func (a dirSig) same(b dirSig) bool {
	a.racy, b.racy = false, false
	return a == b
}

// statDir returns the signature of the directory path as seen at now; a
// missing or unreadable directory has the zero signature.
func statDir(path string, now time.Time) dirSig {
	sig, ok := statSig(path)
	if !ok {
		return dirSig{}
	}
	n := now.UnixNano()
	sig.racy = n-sig.mtime < int64(racyWindow) || n-sig.ctime < int64(racyWindow)
	return sig
}

// tickLoop runs the polling of folders without watches and the safety check
// of folders with watches, for all folders, from one ticker.
func (w *Watcher) tickLoop() {
	defer w.wg.Done()
	period := w.pollInterval
	if w.safetyInterval > 0 && w.safetyInterval < period {
		period = w.safetyInterval
	}
	t := time.NewTicker(period)
	defer t.Stop()
	lastPoll, lastSafety := time.Now(), time.Now()
	for {
		select {
		case <-w.done:
			return
		case now := <-t.C:
			// Half a period of slack absorbs ticker jitter.
			poll := now.Sub(lastPoll) >= w.pollInterval-period/2
			safety := w.safetyInterval > 0 && now.Sub(lastSafety) >= w.safetyInterval-period/2
			if poll {
				lastPoll = now
			}
			if safety {
				lastSafety = now
			}
			if poll || safety {
				w.safely(func() { w.check(poll, safety) })
			}
		}
	}
}

// checkJob is one folder to stat in a check.
type checkJob struct {
	f    *folderState
	seen bool // an event was delivered since the previous check
	sig  [2]dirSig
}

// check stats new/ and cur/ of the polled folders (if poll) and of the
// watched folders (if safety), and sets Rescan where the signature changed.
// A polled folder rescans on any change or when its last signature was racy;
// a watched folder only when no event was delivered since the previous check,
// since an event already told its subscribers where to look.
func (w *Watcher) check(poll, safety bool) {
	var jobs []checkJob
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	for _, f := range w.folders {
		if (f.polls() && poll) || (!f.polls() && safety) {
			jobs = append(jobs, checkJob{f: f, seen: f.eventSeen})
			f.eventSeen = false
		}
	}
	w.mu.Unlock()
	if len(jobs) == 0 {
		return
	}

	// stat(2) without the lock: there may be thousands of folders.
	now := time.Now()
	for i := range jobs {
		for j, d := range jobs[i].f.dirs {
			jobs[i].sig[j] = statDir(filepath.Join(jobs[i].f.path, d), now)
		}
	}

	for _, f := range w.compare(jobs) {
		w.rewatch(f)
	}
}

// compare records the new signatures of jobs, sets Rescan where needed, and
// returns the folders whose watches must be replaced or restored.
func (w *Watcher) compare(jobs []checkJob) []*folderState {
	var rewatch []*folderState
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, job := range jobs {
		f := job.f
		if w.folders[f.key] != f {
			continue // unsubscribed meanwhile
		}
		changed, replaced, back := false, false, f.lost
		for j := range f.dirs {
			old, cur := f.sig[j], job.sig[j]
			if !old.same(cur) || (f.polls() && old.racy) {
				changed = true
			}
			// A watch follows its inode: a directory replaced at the same
			// path (folder renamed away and recreated) is no longer watched.
			if f.watched[j] && old.exists && cur.exists && (old.dev != cur.dev || old.ino != cur.ino) {
				replaced = true
			}
			back = back && cur.exists
		}
		f.sig = job.sig
		if replaced || back {
			rewatch = append(rewatch, f)
		}
		if !changed || (!f.polls() && job.seen && !replaced) {
			continue
		}
		if !f.polls() {
			w.log.Debug("watch: safety check found an unreported change", "folder", f.path)
		}
		for _, s := range f.subs {
			s.setRescan()
		}
	}
	return rewatch
}

// rewatch replaces the watches of f that the kernel dropped or that follow a
// directory no longer at f's path, then sets Rescan: changes may have been
// missed meanwhile. A folder that gets both watches back stops being polled.
func (w *Watcher) rewatch(f *folderState) {
	if w.fsw == nil {
		return
	}
	w.regMu.Lock()
	defer w.regMu.Unlock()

	w.mu.Lock()
	if w.closed || w.folders[f.key] != f {
		w.mu.Unlock()
		return
	}
	need := 0
	for i := range f.dirs {
		if !f.watched[i] {
			need++
		}
	}
	if w.maxWatches > 0 && w.watches+need > w.maxWatches {
		f.lost = false // polled for good, like any folder past the limit
		w.mu.Unlock()
		return
	}
	// Forget the current watches: they may follow a moved directory.
	var drop []string
	for i := range f.dirs {
		if f.watched[i] {
			drop = append(drop, w.untrackLocked(f, i))
		}
	}
	w.mu.Unlock()

	// regMu (held) keeps Subscribe and Close out while fsnotify is called.
	for _, p := range drop {
		w.removeWatch(p)
	}
	err := w.addWatches(f)

	w.mu.Lock()
	defer w.mu.Unlock()
	for i := range f.dirs {
		if f.watched[i] {
			w.trackLocked(f, i)
		}
	}
	f.lost = false
	f.polled = err != nil
	if err != nil {
		w.noteFallbackLocked(f.path, fmt.Sprintf("inotify add watch: %v", err), err)
	} else {
		w.log.Debug("watching folder again", "folder", f.path)
	}
	for _, s := range f.subs {
		s.setRescan()
	}
}

// String formats a signature for logs and test failures.
func (a dirSig) String() string {
	if !a.exists {
		return "missing"
	}
	return fmt.Sprintf("dev=%d ino=%d size=%d mtime=%d ctime=%d racy=%t", a.dev, a.ino, a.size, a.mtime, a.ctime, a.racy)
}
