package maildirbackend

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/boltguard"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/safefile"
)

// cacheFileName is the per-folder cache of what messages' contents answer
// (cacheentry.go), a bbolt database in the folder's control directory. It
// can be deleted at any time: it is rebuilt as messages are read again.
const cacheFileName = "maildir-imapd.cache"

// cacheFormat names the layout of the buckets and of the entries; a file of
// another format is emptied.
const cacheFormat = "maildir-imapd cache 1"

var (
	bucketMeta = []byte("meta")
	bucketMsgs = []byte("msgs") // message key -> entry
	keyFormat  = []byte("format")
	// keyOpen holds the boot ID of the machine while a process has the
	// file open. Writes are not synced (see diskCache), so a file left
	// open by a machine that has since rebooted may be torn: it is
	// replaced. One left open on this boot was left by a killed process:
	// its writes are in the page cache, and bbolt's commit order keeps the
	// file consistent.
	keyOpen = []byte("open")
)

const (
	cacheLockWait   = 100 * time.Millisecond // for another process's lock on the file
	cacheRetry      = 30 * time.Second       // before trying a locked file again
	cacheFlushBatch = 256                    // entries per write transaction
	cacheFlushDelay = time.Second            // before a smaller batch is written
	// cacheMaxReplace bounds the damaged files one open cache replaces:
	// a user who keeps truncating theirs gets a folder without one.
	cacheMaxReplace = 8
)

// cacheTable shares one open cache file among the folder states of a
// process that use it (a folder closed and opened again before the old
// state let go of it): bbolt locks the file per open. The key is the
// file's path and the folder directory's identity, so that a folder
// deleted and created again, whose old file went with its directory, gets
// a file of its own.
type cacheTable struct {
	mu      sync.Mutex
	open    map[cacheKey]*diskCache
	closed  bool
	closing int        // closes started by release and not yet done
	done    *sync.Cond // signalled when closing drops (on mu)
}

type cacheKey struct {
	path string
	dir  dirID
}

// acquire returns the cache of the control directory dir of the folder
// directory id; the caller releases it. It does not open the file: that
// happens at first use.
func (t *cacheTable) acquire(dir string, id dirID, log *slog.Logger) *diskCache {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	if t.open == nil {
		t.open = make(map[cacheKey]*diskCache)
	}
	key := cacheKey{filepath.Join(dir, cacheFileName), id}
	c := t.open[key]
	if c == nil {
		c = &diskCache{path: key.path, dir: id, log: log}
		t.open[key] = c
	}
	c.refs++
	return c
}

// release drops a reference taken by acquire; the last one closes the
// file, after writing what is pending.
func (t *cacheTable) release(c *diskCache) {
	t.mu.Lock()
	c.refs--
	last := c.refs == 0
	if key := (cacheKey{c.path, c.dir}); last && t.open[key] == c {
		delete(t.open, key)
	}
	if !last {
		t.mu.Unlock()
		return
	}
	t.closing++
	t.mu.Unlock()
	c.close()
	t.mu.Lock()
	t.closing--
	if t.done != nil {
		t.done.Broadcast()
	}
	t.mu.Unlock()
}

// closeAll closes every cache file (the backend is closing); later
// acquires return nil.
func (t *cacheTable) closeAll() {
	t.mu.Lock()
	t.closed = true
	caches := make([]*diskCache, 0, len(t.open))
	for _, c := range t.open {
		caches = append(caches, c)
	}
	clear(t.open)
	t.mu.Unlock()
	for _, c := range caches {
		c.close()
	}
	// The folders' own closes, so that none outlives the backend.
	t.mu.Lock()
	if t.done == nil {
		t.done = sync.NewCond(&t.mu)
	}
	for t.closing > 0 {
		t.done.Wait()
	}
	t.mu.Unlock()
}

// diskCache is one open cache file. Entries are written in batches, one
// transaction per cacheFlushBatch entries or cacheFlushDelay, without
// fsync: a lost entry costs one parse, and bbolt's copy-on-write commit
// leaves the file at the old or the new state when the process is killed.
// Every method is safe for concurrent use and never fails: a file that
// cannot be used is logged and the folder runs without it.
type diskCache struct {
	path string
	dir  dirID // the folder directory's identity
	log  *slog.Logger
	refs int // protected by cacheTable.mu

	mu           sync.RWMutex  // R: a transaction runs; W: open, close
	db           *boltguard.DB // nil: not open
	off          bool          // never again: closed, or the directory is read-only
	retryAt      time.Time     // another process holds the file: not before
	lockedBefore bool          // that was logged
	broken       atomic.Bool   // a transaction found damage: replace the file
	replaced     int           // damaged files replaced (cacheMaxReplace)

	pmu     sync.Mutex
	pending map[string][]byte
	timer   *time.Timer
	flushMu sync.Mutex // one write transaction at a time

	pruneMu     sync.Mutex
	pruneCursor []byte // where the next prune step starts; nil: the first key
}

// view runs fn in a read transaction on the messages bucket, opening the
// file first if needed. It reports false when there is no usable file.
func (c *diskCache) view(fn func(b *bolt.Bucket)) bool {
	if c == nil {
		return false
	}
	c.mu.RLock()
	if c.db == nil || c.broken.Load() {
		c.mu.RUnlock()
		if !c.ensureOpen() {
			return false
		}
		c.mu.RLock()
	}
	defer c.mu.RUnlock()
	if c.db == nil {
		return false
	}
	err := c.guard(func() error {
		return c.db.View(func(tx *bolt.Tx) error {
			if b := tx.Bucket(bucketMsgs); b != nil {
				fn(b)
			}
			return nil
		})
	})
	return err == nil
}

// get returns the entry of a message key: a pending one, or the file's.
func (c *diskCache) get(key string) (*cacheEntry, bool) {
	var e *cacheEntry
	c.getMany([]string{key}, needComplete|needFields, func(_ int, got *cacheEntry) { e = got })
	return e, e != nil
}

// getMany calls fn with the index and entry of each of keys that has one
// (pending, or in the file), reading the file in one transaction, and
// decoding what need asks (decodeEntryFor).
func (c *diskCache) getMany(keys []string, need needs, fn func(i int, e *cacheEntry)) {
	if c == nil || len(keys) == 0 {
		return
	}
	found := make([]*cacheEntry, len(keys))
	c.pmu.Lock()
	for i, k := range keys {
		if v, ok := c.pending[k]; ok {
			found[i], _ = decodeEntryFor(v, need)
		}
	}
	c.pmu.Unlock()
	c.view(func(b *bolt.Bucket) {
		var kb []byte
		for i, k := range keys {
			if found[i] != nil {
				continue
			}
			kb = append(kb[:0], k...)
			if v := b.Get(kb); v != nil {
				var err error
				if found[i], err = decodeEntryFor(v, need); err != nil {
					c.log.Debug("cache entry damaged: parsing again", "key", k, "err", err)
				}
			}
		}
	})
	for i, e := range found {
		if e != nil {
			fn(i, e)
		}
	}
}

// put queues an entry; a full batch is written at once, in the caller's
// goroutine, and a smaller one after cacheFlushDelay.
func (c *diskCache) put(key string, v []byte) {
	if c == nil {
		return
	}
	c.pmu.Lock()
	if c.pending == nil {
		c.pending = make(map[string][]byte)
	}
	c.pending[key] = v
	full := len(c.pending) >= cacheFlushBatch
	if !full && c.timer == nil {
		c.timer = time.AfterFunc(cacheFlushDelay, c.flush)
	}
	c.pmu.Unlock()
	if full {
		c.flush()
	}
}

// flush writes the pending entries in one transaction.
func (c *diskCache) flush() {
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	c.pmu.Lock()
	batch := c.pending
	c.pending = nil
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	c.pmu.Unlock()
	if len(batch) == 0 || !c.ensureOpen() {
		return
	}
	keys := make([]string, 0, len(batch))
	for k := range batch {
		keys = append(keys, k)
	}
	slices.Sort(keys) // B+tree inserts in key order touch fewer pages
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.db == nil {
		return
	}
	err := c.guard(func() error {
		return c.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketMsgs)
			if b == nil {
				return errors.New("messages bucket missing")
			}
			for _, k := range keys {
				if err := b.Put([]byte(k), batch[k]); err != nil {
					return err
				}
			}
			return nil
		})
	})
	if err != nil {
		c.log.Warn("cache entries not written", "err", err, "count", len(keys))
	}
}

// guard runs a transaction and marks the file for replacement when it is
// damaged: boltguard turns bbolt's panics on damaged pages, and faults
// reading pages that another program truncated away while the file is
// open, into errors wrapping boltguard.ErrDamaged.
func (c *diskCache) guard(fn func() error) error {
	err := fn()
	if errors.Is(err, boltguard.ErrDamaged) && !c.broken.Swap(true) {
		c.log.Warn("cache file damaged: replacing it", "err", err)
	}
	return err
}

// ensureOpen opens (or replaces a damaged) file when it is due, and reports
// whether one is open.
func (c *diskCache) ensureOpen() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken.Load() && c.db != nil {
		c.db.Close()
		c.db = nil
		c.remove()
		c.broken.Store(false)
		if c.replaced++; c.replaced >= cacheMaxReplace {
			c.log.Warn("cache file damaged again and again: running without it", "count", c.replaced)
			c.off = true
		}
	}
	if c.db != nil {
		return true
	}
	if c.off || time.Now().Before(c.retryAt) {
		return false
	}
	c.openLocked()
	return c.db != nil
}

// openLocked opens the file, replacing one that is damaged, foreign, of
// another format or left torn by a crash of the machine.
func (c *diskCache) openLocked() {
	for attempt := 0; attempt < 2; attempt++ {
		db, err := boltguard.Open(c.path, 0o600, &bolt.Options{
			Timeout: cacheLockWait, NoSync: true, FreelistType: bolt.FreelistMapType, OpenFile: safefile.OpenFile,
		})
		c.broken.Store(false)
		switch {
		case err == nil:
			if err = c.initFile(db); err == nil {
				c.db = db
				return
			}
			db.Close()
		case errors.Is(err, bolt.ErrTimeout):
			level := slog.LevelInfo
			if c.lockedBefore {
				level = slog.LevelDebug // logged once per folder
			}
			c.lockedBefore = true
			c.log.Log(context.Background(), level, "cache file in use by another process: running without it for now", "err", err)
			c.retryAt = time.Now().Add(cacheRetry)
			return
		case errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS):
			c.log.Info("cache file cannot be written: running without it", "err", err)
			c.off = true
			return
		}
		c.log.Warn("cache file damaged or foreign: replacing it", "err", err)
		if !c.remove() {
			break
		}
	}
	c.off = true
}

// remove deletes the file (not what a symbolic link there points to).
func (c *diskCache) remove() bool {
	if err := os.Remove(c.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.log.Warn("cache file not removed: running without it", "err", err)
		return false
	}
	return true
}

var errTorn = errors.New("left open by a machine that has rebooted since: may be torn")

// initFile checks the format and the open mark, creating the buckets of a
// new file, and marks the file open.
func (c *diskCache) initFile(db *boltguard.DB) error {
	boot := bootID()
	return db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta != nil {
			if o := meta.Get(keyOpen); o != nil && boot != "" && string(o) != boot {
				return errTorn
			}
			if string(meta.Get(keyFormat)) != cacheFormat {
				c.log.Info("cache file of another format: emptied", "format", string(meta.Get(keyFormat)))
				if err := tx.DeleteBucket(bucketMsgs); err != nil && !errors.Is(err, bolt.ErrBucketNotFound) {
					return err
				}
			}
		}
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		if _, err := tx.CreateBucketIfNotExists(bucketMsgs); err != nil {
			return err
		}
		if err := meta.Put(keyFormat, []byte(cacheFormat)); err != nil {
			return err
		}
		return meta.Put(keyOpen, []byte(boot))
	})
}

// close writes what is pending, syncs, clears the open mark and closes
// the file. Later calls do nothing.
func (c *diskCache) close() {
	c.flush()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off = true
	if c.db == nil {
		return
	}
	err := c.guard(func() error {
		if err := c.db.Sync(); err != nil {
			return err
		}
		if err := c.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Delete(keyOpen) }); err != nil {
			return err
		}
		return c.db.Sync()
	})
	if err != nil {
		c.log.Warn("cache file not closed cleanly", "err", err)
	}
	c.db.Close()
	c.db = nil
}

// bootID identifies the running boot of the machine ("" where unknown).
var bootID = sync.OnceValue(func() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
})
