package maildirbackend

import (
	"bytes"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
)

const (
	cachePruneStep  = 5000        // keys looked at per step
	cachePruneEvery = time.Minute // between the steps of one folder
)

// pruneStep looks at the next cachePruneStep keys after the cursor (from
// the first key again after the last) and deletes those gone reports, in
// one transaction. It returns how many it deleted.
func (c *diskCache) pruneStep(gone func(keys []string) []string) int {
	c.pruneMu.Lock()
	defer c.pruneMu.Unlock()
	var keys []string
	next := []byte(nil)
	c.view(func(b *bolt.Bucket) {
		cur := b.Cursor()
		k, _ := cur.Seek(c.pruneCursor)
		if c.pruneCursor != nil && k != nil && bytes.Equal(k, c.pruneCursor) {
			k, _ = cur.Next()
		}
		for ; k != nil && len(keys) < cachePruneStep; k, _ = cur.Next() {
			keys = append(keys, string(k))
		}
		if k != nil && len(keys) > 0 {
			next = []byte(keys[len(keys)-1])
		}
	})
	c.pruneCursor = next
	del := gone(keys)
	if len(del) == 0 || !c.ensureOpen() {
		return 0
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.db == nil {
		return 0
	}
	err := c.guard(func() error {
		return c.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketMsgs)
			for _, k := range del {
				if err := b.Delete([]byte(k)); err != nil {
					return err
				}
			}
			return nil
		})
	})
	if err != nil {
		c.log.Warn("cache entries not pruned", "err", err)
		return 0
	}
	return len(del)
}

// maybePrune starts a prune step of the folder's cache file in the
// background, at most once per cachePruneEvery.
func (f *folder) maybePrune(c *diskCache) {
	now := time.Now()
	f.cacheMu.Lock()
	due := c != nil && !f.pruning && now.Sub(f.prunedAt) >= cachePruneEvery
	if due {
		f.pruning, f.prunedAt = true, now
	}
	f.cacheMu.Unlock()
	if !due {
		return
	}
	go func() {
		defer func() {
			if r := recover(); r != nil {
				f.log.Error("cache prune panicked", "err", r, "stack", string(debug.Stack()))
			}
			f.cacheMu.Lock()
			f.pruning = false
			f.cacheMu.Unlock()
		}()
		if n := c.pruneStep(f.goneKeys); n > 0 {
			f.log.Debug("cache entries of gone messages pruned", "count", n)
		}
	}()
}

// goneKeys returns those of keys that no message of the folder has. A
// folder not loaded, or retired, knows of none: it reports none.
func (f *folder) goneKeys(keys []string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.loaded || f.gone {
		return nil
	}
	var gone []string
	for _, k := range keys {
		if f.byKey[k] == nil && !f.placing[k] {
			gone = append(gone, k)
		}
	}
	return gone
}
