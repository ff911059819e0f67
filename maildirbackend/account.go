package maildirbackend

import (
	"log/slog"
	"sync"
	"time"
)

// account is one Maildir root, shared by every session of its user in this
// process, so that two sessions of one user share the state of each open
// folder.
type account struct {
	b     *Backend // immutable
	root  string   // immutable
	names namer    // immutable
	log   *slog.Logger

	refs int // protected by Backend.mu

	mu      sync.Mutex
	folders map[string]*folder // open folders by absolute path

	subMu sync.Mutex // serialises subscriptions read-modify-write
}

// acquire returns the open state of mailbox name, loading it if needed.
// An open folder is kept in sync with the disk through the watcher, and it
// stays open for FolderLinger after its last user leaves, so that the next
// SELECT or STATUS finds it warm. The caller must call release.
func (a *account) acquire(name string) (*folder, error) {
	name, err := a.names.canonical(name)
	if err != nil {
		return nil, err
	}
	path, err := a.names.path(name)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	f := a.folders[path]
	if f == nil || f.isGone() {
		// A folder deleted under its sessions keeps serving them, empty;
		// a folder created again under the same name starts afresh.
		f = newFolder(a, name, path)
		a.folders[path] = f
	}
	f.refs++
	if f.linger != nil {
		f.linger.Stop()
		f.linger = nil
	}
	a.mu.Unlock()

	if err := f.open(); err != nil {
		a.release(f)
		return nil, err
	}
	return f, nil
}

// release drops a reference taken by acquire. The folder closes after
// FolderLinger without users, or at once if it failed to load.
func (a *account) release(f *folder) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f.refs--
	if f.refs > 0 {
		return
	}
	f.mu.Lock()
	ok := f.loaded && !f.gone
	f.mu.Unlock()
	linger := a.b.opts.FolderLinger
	if !ok || linger < 0 {
		a.closeFolderLocked(f)
		return
	}
	f.linger = time.AfterFunc(linger, func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		if f.refs == 0 && a.folders[f.path] == f {
			a.closeFolderLocked(f)
		}
	})
}

// closeFolderLocked forgets a folder without users. Called with a.mu held.
func (a *account) closeFolderLocked(f *folder) {
	if a.folders[f.path] == f {
		delete(a.folders, f.path)
	}
	go f.stopWatching() // waits for the sync goroutine, which may need a.mu
}

// closeAll closes every folder at once (the account's last session left
// and the backend is closing).
func (a *account) closeAll() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, f := range a.folders {
		if f.linger != nil {
			f.linger.Stop()
		}
		a.closeFolderLocked(f)
	}
}
