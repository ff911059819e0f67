package boltguard

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ErrDamaged means the file was truncated under the DB, faulted when read,
// or made bbolt panic: the DB runs no more transactions, and the caller
// closes it and replaces the file.
var ErrDamaged = errors.New("database file damaged or truncated while open")

// noSizeCheck turns the size check off (SetSizeCheck), for tests that
// need the fault itself.
var noSizeCheck atomic.Bool

// SetSizeCheck turns the check of the file's size before each transaction
// on or off, for tests: off, a truncation is found only by the fault of a
// read. It returns a function that restores the previous setting.
func SetSizeCheck(on bool) (restore func()) {
	old := !noSizeCheck.Swap(!on)
	return func() { noSizeCheck.Store(!old) }
}

// DB is an open bbolt file whose transactions survive the file being
// truncated under them. Its methods are safe for concurrent use and run
// one at a time: a fault that leaves bbolt's locks held must find no other
// goroutine inside bbolt waiting on them.
type DB struct {
	path string // immutable

	mu     sync.Mutex
	db     *bolt.DB
	file   *os.File // the file bbolt opened (Options.OpenFile)
	size   int64    // the file's size as last seen
	err    error    // the damage found: no more transactions
	held   bool     // a fault may have left bbolt's locks held: never call its Close
	closed bool
}

// Open opens path as bbolt.Open does, with the same options (nil means
// bbolt's defaults). It first takes the file's flock itself and reads the
// meta pages: a file whose meta pages bbolt would open into a state where
// a damaged page ends the process (no stored freelist, a freelist page
// that is not one) gives an error wrapping ErrInvalid, before bbolt maps
// it. A file that faults or makes bbolt panic while it is opened gives an
// error wrapping ErrDamaged. Another process holding the file gives
// bolt.ErrTimeout after opts.Timeout, as bbolt does.
func Open(path string, mode os.FileMode, opts *bolt.Options) (*DB, error) {
	var o bolt.Options
	if opts != nil {
		o = *opts
	}
	openFile := o.OpenFile
	if openFile == nil {
		openFile = os.OpenFile
	}
	var file *os.File
	o.OpenFile = func(name string, flag int, perm os.FileMode) (*os.File, error) {
		f, err := openFile(name, flag, perm)
		if err != nil {
			return nil, err
		}
		if err := lockAndCheck(f, !o.ReadOnly, o.Timeout); err != nil {
			f.Close() // and its flock
			return nil, err
		}
		file = f
		return f, nil
	}
	var db *bolt.DB
	var err error
	if perr, _ := protect(func() { db, err = bolt.Open(path, mode, &o) }); perr != nil {
		// Nothing touches this bbolt DB again; its file and flock go.
		if file != nil {
			file.Close()
		}
		return nil, fmt.Errorf("open %s: %w", path, perr)
	}
	if err != nil {
		return nil, err
	}
	d := &DB{path: path, db: db, file: file}
	if fi, err := file.Stat(); err == nil {
		d.size = fi.Size()
	}
	return d, nil
}

// lockAndCheck locks f as bbolt will and refuses it (ErrInvalid) when its
// meta pages are not safe to hand to bbolt (checkFile).
func lockAndCheck(f *os.File, exclusive bool, timeout time.Duration) error {
	if err := lockFile(f, exclusive, timeout); err != nil {
		return err
	}
	size, err := statSize(f)
	if err != nil {
		return err
	}
	if err := checkFile(f, size); err != nil {
		return fmt.Errorf("%s: %w", f.Name(), err)
	}
	return nil
}

// View runs fn in a read transaction, as bolt.DB.View does.
func (d *DB) View(fn func(*bolt.Tx) error) error { return d.run(false, fn) }

// Update runs fn in a write transaction and commits it when fn returns
// nil, as bolt.DB.Update does.
func (d *DB) Update(fn func(*bolt.Tx) error) error { return d.run(true, fn) }

func (d *DB) run(writable bool, fn func(*bolt.Tx) error) (err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkLocked(); err != nil {
		return err
	}
	var tx *bolt.Tx
	perr, held := protect(func() {
		if tx, err = d.db.Begin(writable); err != nil {
			return
		}
		if used := tx.Size(); used > d.size && !noSizeCheck.Load() {
			// The meta page names pages past the end of the file: it
			// was cut while closed, or between the stat and Begin.
			err = d.damagedLocked(fmt.Errorf("%w: %s holds %d bytes, its meta page uses %d", ErrDamaged, d.path, d.size, used))
			tx.Rollback()
			return
		}
		if err = fn(tx); err != nil {
			tx.Rollback()
			return
		}
		if writable {
			err = tx.Commit()
		} else {
			err = tx.Rollback()
		}
	})
	if perr == nil {
		return err
	}
	if tx == nil {
		held = true // the fault was in Begin
	} else {
		// bbolt's own rollback faulted or never ran. Tx.Rollback releases
		// the transaction's locks without reading the file.
		protect(func() { tx.Rollback() })
	}
	d.held = d.held || held
	return d.damagedLocked(fmt.Errorf("%s: %w", d.path, perr))
}

// checkLocked reports the damage found before, or a file that shrank
// since the last transaction (bbolt never shrinks a file it has open).
func (d *DB) checkLocked() error {
	if d.closed {
		return bolt.ErrDatabaseNotOpen
	}
	if d.err != nil {
		return d.err
	}
	if noSizeCheck.Load() {
		return nil
	}
	fi, err := d.file.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", d.path, err)
	}
	if fi.Size() < d.size {
		return d.damagedLocked(fmt.Errorf("%w: %s shrank from %d to %d bytes while open", ErrDamaged, d.path, d.size, fi.Size()))
	}
	d.size = fi.Size()
	return nil
}

func (d *DB) damagedLocked(err error) error {
	if d.err == nil {
		d.err = err
	}
	return err
}

// Damaged returns the damage found (wrapping ErrDamaged), or nil.
func (d *DB) Damaged() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

// Sync fsyncs the file (bolt.DB.Sync). It does nothing on a damaged file.
func (d *DB) Sync() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return bolt.ErrDatabaseNotOpen
	}
	if d.err != nil {
		return d.err
	}
	return d.db.Sync()
}

// SetNoSync sets bbolt's NoSync (fsync on each commit or not).
func (d *DB) SetNoSync(noSync bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.db.NoSync = noSync
}

// Close closes the file. After a fault that may have left bbolt's locks
// held, bbolt's Close would wait for them for ever: only the file is
// closed, and the mapping stays until the process ends. Later calls do
// nothing.
func (d *DB) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	if d.held {
		if err := d.file.Close(); err != nil {
			return fmt.Errorf("close %s: %w", d.path, err)
		}
		return nil
	}
	var err error
	if perr, _ := protect(func() { err = d.db.Close() }); perr != nil {
		return fmt.Errorf("close %s: %w", d.path, perr)
	}
	return err
}

// protect runs fn with faults turned into panics, and recovers a panic as
// an error wrapping ErrDamaged. held reports whether the panic came from
// where bbolt holds locks that no deferred call releases (beginning a
// transaction, or freepages).
func protect(fn func()) (perr error, held bool) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			held = panickedHolding()
			if f, ok := r.(interface{ Addr() uintptr }); ok {
				perr = fmt.Errorf("%w: fault reading the mapped file at %#x: %v", ErrDamaged, f.Addr(), r)
			} else {
				perr = fmt.Errorf("%w: %v", ErrDamaged, r)
			}
		}
	}()
	fn()
	return nil, false
}

// lockingFrames are the bbolt functions that take locks which a panic
// within them leaves held.
var lockingFrames = []string{
	"go.etcd.io/bbolt.(*DB).beginTx",
	"go.etcd.io/bbolt.(*DB).beginRWTx",
	"go.etcd.io/bbolt.(*DB).freepages",
}

// panickedHolding looks for lockingFrames on the stack of the panic being
// recovered (a deferred call runs above the frames that panicked).
func panickedHolding() bool {
	pc := make([]uintptr, 256)
	frames := runtime.CallersFrames(pc[:runtime.Callers(3, pc)])
	for {
		f, more := frames.Next()
		for _, name := range lockingFrames {
			if strings.HasPrefix(f.Function, name) {
				return true
			}
		}
		if !more {
			return false
		}
	}
}
