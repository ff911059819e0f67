package watch

// Network file systems: inotify reports only the changes made through this
// machine's mount (a local MTA writing to NFS), not those of other hosts.
// A folder on one (fstype_*.go) keeps its inotify watches for the local
// changes and is also polled every PollInterval from the start, as folders
// without watches are, instead of waiting for the safety check.

// polls reports whether f is checked at every poll: it has no (or lost)
// watches, or it is on a network file system. Called with w.mu held.
func (f *folderState) polls() bool {
	return f.polled || f.remote != ""
}

// noteRemoteLocked logs, once per folder and process, that f is on a
// network file system and is polled. Called with w.mu held.
func (w *Watcher) noteRemoteLocked(f *folderState) {
	if w.loggedRemote[f.path] {
		return
	}
	w.loggedRemote[f.path] = true
	w.log.Info("folder on a network file system: polling it as well as watching",
		"folder", f.path, "fs", f.remote, "interval", w.pollInterval)
}
