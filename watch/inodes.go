package watch

import (
	"errors"
	"fmt"
	"path/filepath"
)

// errAliased: the directory is watched under another path that still
// leads to it (a bind mount): inotify would report its events under that
// path only, so the folder is polled.
var errAliased = errors.New("directory already watched under another path")

// evictStale makes room for a watch on the directory at p when another
// folder's watch still follows it from a path that no longer leads there:
// the folder was renamed (by RENAME, or by another program) and is now
// subscribed at its new path. inotify watches inodes and would hand back
// that watch, which fsnotify keys by the old path: events would be
// reported under the old path, and removing the old folder's watches
// (its retired folder closes a moment later) would remove the only watch
// both share, so the new path would never hear of a change. The old
// folder loses the watch (it is polled until its path has a directory
// again, like a removed folder) and the kernel's watch is removed, so that
// the Add that follows makes one keyed by p. Called with regMu held and
// w.mu not.
func (w *Watcher) evictStale(p string) error {
	id, ok := idOf(p)
	if !ok {
		return nil // Add reports the error
	}
	w.mu.Lock()
	ref, held := w.inodes[id]
	if !held {
		w.mu.Unlock()
		return nil
	}
	old := filepath.Join(ref.f.path, ref.f.dirs[ref.i])
	if old == p {
		w.mu.Unlock()
		return nil
	}
	if now, ok := idOf(old); ok && now == id {
		w.mu.Unlock()
		return fmt.Errorf("watch %s: %w (%s)", p, errAliased, old)
	}
	w.lostWatchLocked(ref)
	w.mu.Unlock()
	w.log.Debug("watch: directory moved to another watched path", "from", old, "to", p)
	w.removeWatch(old)
	return nil
}

// trackLocked records that dirs[i] of f holds the inotify watch f.wid[i].
func (w *Watcher) trackLocked(f *folderState, i int) {
	ref := dirRef{f: f, i: i}
	w.dirs[filepath.Join(f.path, f.dirs[i])] = ref
	w.inodes[f.wid[i]] = ref
	w.watches++
}

// untrackLocked forgets the inotify watch of dirs[i] of f and returns the
// watched path.
func (w *Watcher) untrackLocked(f *folderState, i int) string {
	p := filepath.Join(f.path, f.dirs[i])
	ref := dirRef{f: f, i: i}
	if w.dirs[p] == ref {
		delete(w.dirs, p)
	}
	if w.inodes[f.wid[i]] == ref {
		delete(w.inodes, f.wid[i])
	}
	if f.watched[i] {
		f.watched[i] = false
		w.watches--
	}
	return p
}
