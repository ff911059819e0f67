package maildirbackend

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
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
// With watch set the folder is kept in sync with the disk through the
// watcher until the last watching user releases it. The caller must call
// release.
func (a *account) acquire(name string, watch bool) (*folder, error) {
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
	if f == nil {
		f = newFolder(a, name, path)
		a.folders[path] = f
	}
	f.refs++
	if watch {
		f.watchers++
	}
	a.mu.Unlock()

	if err := f.open(watch); err != nil {
		a.release(f, watch)
		return nil, err
	}
	return f, nil
}

// release drops a reference taken by acquire.
func (a *account) release(f *folder, watch bool) {
	a.mu.Lock()
	f.refs--
	if watch {
		f.watchers--
	}
	last := f.refs == 0
	stopWatch := f.watchers == 0
	if last {
		delete(a.folders, f.path)
	}
	a.mu.Unlock()
	if stopWatch {
		f.stopWatching()
	}
}

// lookupOpen returns the open folder at path, or nil.
func (a *account) lookupOpen(path string) *folder {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.folders[path]
}

// exists reports whether the folder of mailbox name exists on disk.
func (a *account) exists(name string) (bool, error) {
	path, err := a.names.path(name)
	if err != nil {
		return false, err
	}
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("stat folder: %w", err)
	}
	return fi.IsDir(), nil
}
