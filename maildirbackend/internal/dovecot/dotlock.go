package dovecot

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/safefile"
)

// ErrLockTimeout is returned (wrapped) when a dotlock could not be taken
// within the timeout.
var ErrLockTimeout = errors.New("dovecot: timed out waiting for dotlock")

// ErrLockOverridden is returned (wrapped) by [Lock.Unlock] and [Lock.Check]
// when the lock file no longer is ours: another process found it stale and
// replaced or removed it. Work done under the lock must then be discarded.
var ErrLockOverridden = errors.New("dovecot: dotlock overridden")

// UIDListStaleTimeout is how long neither dovecot-uidlist.lock nor
// dovecot-uidlist may change before [LockUIDList] treats the lock as stale
// (Dovecot: MAILDIR_UIDLIST_LOCK_STALE_TIMEOUT). Tests may lower it before
// taking locks; it is read without synchronisation.
var UIDListStaleTimeout = 120 * time.Second

// Dotlock defaults, from Dovecot (maildir-storage.h, file-dotlock.c).
const (
	// DefaultLockTimeout is the wait for a uidlist lock: stale + 2 s.
	DefaultLockTimeout = 122 * time.Second
	// DefaultTouchInterval is how often a held lock's mtime is refreshed
	// (MAILDIR_LOCK_TOUCH_SECS).
	DefaultTouchInterval = 10 * time.Second
	// pidCheckAge is how old a lock must be before a dead owner pid makes
	// it stale (the owner may not have written its content yet).
	pidCheckAge = 2 * time.Second
)

// DotlockOptions configure [Dotlock]. The zero value (and nil) means: wait
// up to [DefaultLockTimeout], stale after [UIDListStaleTimeout] without
// change, touch every [DefaultTouchInterval], watch no other file.
type DotlockOptions struct {
	// Timeout is the longest wait; 0: DefaultLockTimeout.
	Timeout time.Duration
	// Stale is how long the lock (and Watch) must stay unchanged before it
	// is broken; 0: UIDListStaleTimeout.
	Stale time.Duration
	// Watch is a file whose changes show the holder is alive (for the
	// uidlist lock: dovecot-uidlist); may be empty.
	Watch string
	// TouchInterval is how often the held lock's mtime is refreshed;
	// 0: DefaultTouchInterval; < 0: never.
	TouchInterval time.Duration
	// Logger receives stale-lock overrides; nil: slog.Default().
	Logger *slog.Logger

	// replace creates the lock file empty and keeps it open for writing: its
	// content becomes the new version of the locked file (Dovecot's
	// file_dotlock_open + file_dotlock_replace). No toucher runs.
	replace bool
}

// Lock is a held dotlock. Its methods are safe for concurrent use. The
// holder must call Unlock when done; later calls are no-ops returning nil.
type Lock struct {
	path    string
	content []byte
	file    *os.File  // replace mode only
	id      fileState // dev and ino of our lock file; immutable after create
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
}

// LockUIDList takes dir/dovecot-uidlist.lock, waiting up to timeout (0:
// [DefaultLockTimeout]). The lock counts as alive while it or
// dir/dovecot-uidlist changes within [UIDListStaleTimeout]. The holder must
// call [Lock.Unlock].
func LockUIDList(dir string, timeout time.Duration) (*Lock, error) {
	return Dotlock(filepath.Join(dir, UIDListName+".lock"), &DotlockOptions{
		Timeout: timeout,
		Stale:   UIDListStaleTimeout,
		Watch:   filepath.Join(dir, UIDListName),
	})
}

// Dotlock takes the lock file path (e.g. ".../dovecot-uidlist.lock") with
// Dovecot's dotlock protocol: create it O_EXCL with content "<pid>:<host>".
// An existing lock is broken when it is stale: older than 2 s, written on
// this host by a process that no longer exists, or unchanged (together with
// opts.Watch) for opts.Stale. Otherwise Dotlock polls, backing off from 1 ms
// to 50 ms, until opts.Timeout and then fails with [ErrLockTimeout]. While
// held, a goroutine refreshes the lock's mtime; [Lock.Unlock] stops it.
func Dotlock(path string, opts *DotlockOptions) (*Lock, error) {
	var o DotlockOptions
	if opts != nil {
		o = *opts
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultLockTimeout
	}
	if o.Stale <= 0 {
		o.Stale = UIDListStaleTimeout
	}
	if o.TouchInterval == 0 {
		o.TouchInterval = DefaultTouchInterval
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	host, err := os.Hostname()
	if err != nil {
		host = "localhost"
	}
	l := &Lock{path: path}
	if !o.replace {
		l.content = []byte(strconv.Itoa(os.Getpid()) + ":" + host)
	}
	deadline := time.Now().Add(o.Timeout)
	w := staleWatch{opts: &o, host: host}
	delay := time.Millisecond
	for {
		ok, err := l.create()
		if err != nil {
			return nil, err
		}
		if ok {
			break
		}
		if judged, ok := w.stale(path); ok {
			// Narrow the race with another overrider: remove only the very
			// file that was judged stale.
			if fi, err := os.Stat(path); err == nil {
				if s := stateOf(fi); s.dev == judged.dev && s.ino == judged.ino {
					o.Logger.Warn("dovecot: overriding stale dotlock "+filepath.Base(path), "folder", filepath.Dir(path))
					if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
						return nil, fmt.Errorf("dovecot: remove stale %s: %w", path, err)
					}
				}
			}
			w = staleWatch{opts: &o, host: host}
			// Dovecot (file-dotlock.c): sleep 100-200 ms so that a second
			// overrider racing with us sees our new lock.
			time.Sleep(100*time.Millisecond + rand.N(100*time.Millisecond))
			continue
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%w: %s", ErrLockTimeout, path)
		}
		time.Sleep(delay)
		delay = min(delay*2, 50*time.Millisecond)
	}
	if o.TouchInterval > 0 && !o.replace {
		l.stop = make(chan struct{})
		l.done = make(chan struct{})
		go l.toucher(o.TouchInterval, o.Logger)
	}
	return l, nil
}

// create tries to create the lock file; ok=false if it exists.
func (l *Lock) create() (ok bool, err error) {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("dovecot: create %s: %w", l.path, err)
	}
	if len(l.content) > 0 {
		if _, err := f.Write(l.content); err != nil {
			_ = f.Close()
			_ = os.Remove(l.path)
			return false, fmt.Errorf("dovecot: write %s: %w", l.path, err)
		}
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		_ = os.Remove(l.path)
		return false, fmt.Errorf("dovecot: stat %s: %w", l.path, err)
	}
	l.id = stateOf(fi)
	if l.content != nil {
		if err := f.Close(); err != nil {
			_ = os.Remove(l.path)
			return false, fmt.Errorf("dovecot: close %s: %w", l.path, err)
		}
	} else {
		l.file = f
	}
	return true, nil
}

// staleWatch tracks one waiter's view of a foreign lock.
type staleWatch struct {
	opts       *DotlockOptions
	host       string
	seen       bool
	lock, wat  fileState
	lastChange time.Time
}

// stale reports whether the lock at path may be broken, and the state of
// the file it judged.
func (w *staleWatch) stale(path string) (fileState, bool) {
	now := time.Now()
	fi, err := os.Stat(path)
	if err != nil {
		return fileState{}, false // gone (retry create at once) or unreadable
	}
	lock := stateOf(fi)
	var wat fileState
	if w.opts.Watch != "" {
		if wfi, err := os.Stat(w.opts.Watch); err == nil {
			wat = stateOf(wfi)
		}
	}
	// (a) Dovecot (file-dotlock.c): a lock older than 2 s from this host
	// whose pid is gone is stale at once.
	if now.Sub(lock.mtime) > pidCheckAge {
		if pid, host, ok := readLockOwner(path); ok && host == w.host && processGone(pid) {
			return lock, true
		}
	}
	// (b) Neither the lock nor the watched file changed for Stale. The
	// first observation credits the newest on-disk timestamp, so a lock
	// abandoned long ago is broken without waiting the full period.
	if !w.seen || lock != w.lock || wat != w.wat {
		last := latest(lock.mtime, lock.ctime, wat.mtime, wat.ctime)
		if w.seen || last.After(now) {
			last = now
		}
		w.seen, w.lock, w.wat, w.lastChange = true, lock, wat, last
	}
	return lock, now.Sub(w.lastChange) > w.opts.Stale
}

func latest(ts ...time.Time) time.Time {
	var m time.Time
	for _, t := range ts {
		if t.After(m) {
			m = t
		}
	}
	return m
}

// readLockOwner parses "<pid>:<host>" from the lock file.
func readLockOwner(path string) (pid int, host string, ok bool) {
	b, err := safefile.ReadFile(path, 1024)
	if err != nil {
		return 0, "", false
	}
	p, h, found := bytes.Cut(b, []byte{':'})
	if !found {
		return 0, "", false
	}
	pid, err = strconv.Atoi(string(p))
	if err != nil || pid <= 0 {
		return 0, "", false
	}
	return pid, string(bytes.TrimRight(h, "\n")), true
}

// toucher refreshes the lock's mtime every interval until Unlock. It stops
// touching once the lock has been overridden.
func (l *Lock) toucher(interval time.Duration, log *slog.Logger) {
	defer close(l.done)
	defer func() {
		if r := recover(); r != nil {
			log.Error("dovecot: dotlock toucher panicked", "folder", filepath.Dir(l.path), "err", fmt.Sprint(r))
		}
	}()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			if err := l.Check(); err != nil {
				log.Warn("dovecot: dotlock lost", "folder", filepath.Dir(l.path), "err", err)
				return
			}
			if err := l.touch(); err != nil {
				log.Warn("dovecot: touching dotlock", "folder", filepath.Dir(l.path), "err", err)
			}
		}
	}
}

// touch sets the lock's mtime to now (Dovecot: file_dotlock_touch).
func (l *Lock) touch() error {
	now := time.Now()
	return os.Chtimes(l.path, now, now)
}

// Path returns the lock file's path.
func (l *Lock) Path() string { return l.path }

// Check verifies that the lock file is still the one we created (same
// device and inode, as Dovecot's file-dotlock.c checks) with our
// content; otherwise it returns an error wrapping [ErrLockOverridden].
// Dovecot checks this before renaming a new uidlist into place.
func (l *Lock) Check() error {
	fi, err := os.Stat(l.path)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrLockOverridden, l.path, err)
	}
	if s := stateOf(fi); s.dev != l.id.dev || s.ino != l.id.ino {
		return fmt.Errorf("%w: %s was replaced", ErrLockOverridden, l.path)
	}
	if l.content == nil {
		return nil
	}
	b, err := os.ReadFile(l.path)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrLockOverridden, l.path, err)
	}
	if !bytes.Equal(b, l.content) {
		return fmt.Errorf("%w: %s holds %q", ErrLockOverridden, l.path, b)
	}
	return nil
}

// Unlock stops the toucher and removes the lock file if it is still ours
// (else it returns an error wrapping [ErrLockOverridden] and leaves the file
// alone). Calls after the first return nil.
func (l *Lock) Unlock() error {
	var err error
	l.once.Do(func() { err = l.release() })
	return err
}

// replaceTarget (replace mode only) writes data into the lock file, lets
// mtime (may be nil) adjust its timestamps, fsyncs it and renames it over
// dst, which releases the lock. On failure the lock file is removed if it is
// still ours. The Lock must not be used afterwards.
func (l *Lock) replaceTarget(dst string, data []byte, mtime func(*os.File) error) error {
	err := fmt.Errorf("dovecot: %s already released", l.path)
	l.once.Do(func() {
		if l.file == nil {
			err = fmt.Errorf("dovecot: %s is not a replace lock", l.path)
			return
		}
		if err = l.Check(); err != nil {
			_ = l.file.Close()
			return
		}
		err = finishAtomic(l.file, dst, data, mtime)
	})
	return err
}

func (l *Lock) release() error {
	if l.stop != nil {
		close(l.stop)
		<-l.done
	}
	if l.file != nil {
		_ = l.file.Close()
	}
	if err := l.Check(); err != nil {
		return err
	}
	if err := os.Remove(l.path); err != nil {
		return fmt.Errorf("dovecot: unlock %s: %w", l.path, err)
	}
	return nil
}
