package maildirbackend

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
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

	// Control files of the whole Maildir (subscriptions,
	// dovecot-uidvalidity) are in ctlRoot; a folder's in names.control.

	refs int // protected by Backend.mu

	mu      sync.Mutex
	folders map[string]*folder // open folders by absolute path

	subMu sync.Mutex // serialises subscriptions read-modify-write

	quotaOnce  sync.Once
	quotaState *accountQuota // see quota()
}

// acquire returns the open state of mailbox name, loading it if needed.
// An open folder is kept in sync with the disk through the watcher, and it
// stays open for FolderLinger after its last user leaves, so that the next
// SELECT or STATUS finds it warm. The open state serves only the directory
// it loaded: a folder removed or replaced on disk since is retired, and a
// new state is loaded for the directory now at the path (identity.go). The
// caller must call release.
func (a *account) acquire(name string) (*folder, error) {
	name, err := a.names.canonical(name)
	if err != nil {
		return nil, err
	}
	path, err := a.names.path(name)
	if err != nil {
		return nil, err
	}
	isInbox := name == inboxName
	id, err := statFolderDir(path, isInbox)
	exists := err == nil
	if err != nil && !missingDir(err) {
		return nil, mapFSError(fmt.Errorf("stat folder: %w", err))
	}
	if !exists && !isInbox {
		a.retire(path, false)
		return nil, errNoSuchMailbox
	}
	f := a.pin(name, path, id, exists)
	if err := f.open(); err != nil {
		a.release(f)
		if errors.Is(err, fs.ErrNotExist) && !isInbox {
			err = errNoSuchMailbox // removed or renamed while we read it
		}
		return nil, err
	}
	return f, nil
}

// pin returns the open state of the folder at path with a reference
// taken: the state that serves the directory id, or a new one. The check
// takes the folder's mutex, never under the account's (a folder waiting
// for a foreign uidlist lock must not stall the account).
func (a *account) pin(name, path string, id dirID, exists bool) *folder {
	for {
		a.mu.Lock()
		f := a.folders[path]
		fresh := f == nil
		if fresh {
			f = newFolder(a, name, path)
			a.folders[path] = f
		}
		f.refs++
		if f.linger != nil {
			f.linger.Stop()
			f.linger = nil
		}
		a.mu.Unlock()
		if fresh || f.serves(id, exists) {
			return f
		}
		// Another directory is at the path now: retire this state and
		// look again.
		a.mu.Lock()
		f.refs--
		if a.folders[path] == f {
			a.retireLocked(f)
		}
		a.mu.Unlock()
	}
}

// serves reports whether f is the state of the directory id (exists false:
// there is none yet, only for INBOX, whose root open creates).
func (f *folder) serves(id dirID, exists bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gone {
		return false
	}
	return !f.loaded || (exists && f.dir == id)
}

// retire forgets the open state of the folder at path, and with children
// those of the folders below it (".A.*", which RENAME moves along): their
// directories were removed, renamed or replaced. Their sessions see every
// message expunged.
func (a *account) retire(path string, children bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for p, f := range a.folders {
		if p == path || (children && strings.HasPrefix(p, path+string(Delim))) {
			a.retireLocked(f)
		}
	}
}

// retireLocked marks f gone and drops it from the open folders; a folder
// without sessions closes now. Called with a.mu held.
func (a *account) retireLocked(f *folder) {
	if a.folders[f.path] == f {
		delete(a.folders, f.path)
	}
	unused := f.refs == 0
	if unused && f.linger != nil {
		f.linger.Stop()
		f.linger = nil
	}
	// The folder's mutex may be held by a long wait (a foreign uidlist
	// lock): not under the account's.
	go func() {
		f.mu.Lock()
		f.goneLocked()
		f.mu.Unlock()
		if unused {
			f.stopWatching()
		}
	}()
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
	// Never wait for a folder's mutex under the account's: a folder
	// waiting for a foreign uidlist lock would stall every folder of the
	// account. A busy folder lingers; the timer looks again.
	ok := true
	if f.mu.TryLock() {
		ok = f.loaded && !f.gone
		f.mu.Unlock()
	}
	linger := a.b.opts.FolderLinger
	if !ok || linger < 0 {
		a.closeFolderLocked(f)
		return
	}
	f.linger = time.AfterFunc(linger, func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		if f.refs == 0 { // current or retired meanwhile: closes either way
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

// closeAll closes every folder at once (the backend is closing) and
// waits until they are stopped, so that their full-text indexes are
// written before Close returns and the process exits.
func (a *account) closeAll() {
	a.mu.Lock()
	folders := make([]*folder, 0, len(a.folders))
	for path, f := range a.folders {
		if f.linger != nil {
			f.linger.Stop()
		}
		delete(a.folders, path)
		folders = append(folders, f)
	}
	a.mu.Unlock()
	// Without a.mu: stopWatching waits for the sync goroutine, which may
	// need it.
	var wg sync.WaitGroup
	for _, f := range folders {
		wg.Go(f.stopWatching)
	}
	wg.Wait()
}

// ctlRoot returns the directory of the Maildir's own control files
// (subscriptions, dovecot-uidvalidity): the root, or the CONTROL= root.
func (a *account) ctlRoot() string {
	if a.names.ctl != "" {
		return a.names.ctl
	}
	return a.root
}

// moveControl follows a folder renamed from the directory from to to with
// its control directory, when the control files live apart (CONTROL=), so
// that it keeps its UIDs. A control directory already at the new place
// (left by a folder deleted by another program) is replaced. Failures are
// logged: the folder then gets new UIDs, as after a lost dovecot-uidlist.
func (a *account) moveControl(from, to string) {
	cfrom, cto := a.names.control(from), a.names.control(to)
	if cfrom == from {
		return
	}
	if err := os.RemoveAll(cto); err != nil {
		a.log.Warn("control directory not moved with its folder", "folder", to, "err", err)
		return
	}
	if err := os.MkdirAll(filepath.Dir(cto), 0o700); err != nil {
		a.log.Warn("control directory not moved with its folder", "folder", to, "err", err)
		return
	}
	if err := os.Rename(cfrom, cto); err != nil && !errors.Is(err, fs.ErrNotExist) {
		a.log.Warn("control directory not moved with its folder", "folder", to, "err", err)
	}
}

// removeControl removes the control directory of a deleted folder, when
// the control files live apart (CONTROL=).
func (a *account) removeControl(path string) {
	if c := a.names.control(path); c != path {
		if err := os.RemoveAll(c); err != nil {
			a.log.Warn("control directory of a deleted folder not removed", "folder", path, "err", err)
		}
	}
}
