package maildirbackend

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// tmpMaxAge is how old a file in tmp/ must be before it is removed: a
// delivery that was interrupted (Maildir's rule, and Dovecot's).
const tmpMaxAge = 36 * time.Hour

// tmpCleanInterval is how often an open folder's tmp/ is cleaned, as
// Dovecot does at most every 8 hours.
const tmpCleanInterval = 8 * time.Hour

// cleanTmp removes the files of dir/tmp whose change time (ctime) and
// modification time are both older than tmpMaxAge at now.
//
// This is go-maildir's Dir.Clean with one difference that matters for
// safety: Dir.Clean looks at mtime only, and both Dovecot and this server
// give a message its INTERNALDATE as mtime while the file is still in tmp/,
// before the rename into new/ or cur/. An APPEND of an old message (a
// migration with imapsync, say) would then be removed in flight. The ctime
// cannot be set by a program, so it tells how long the file has really been
// there; Dovecot's tmp cleanup uses it for the same reason.
//
// Only regular files and symbolic links are removed; directories stay.
func cleanTmp(dir string, now time.Time) (removed int, err error) {
	tmp := filepath.Join(dir, "tmp")
	d, err := os.Open(tmp)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0, nil
		}
		return 0, fmt.Errorf("clean tmp: %w", err)
	}
	defer d.Close()
	entries, err := d.ReadDir(-1)
	if err != nil {
		return 0, fmt.Errorf("clean tmp: %w", err)
	}
	oldest := now.Add(-tmpMaxAge)
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		p := filepath.Join(tmp, e.Name())
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			continue // gone meanwhile
		}
		if time.Unix(st.Ctim.Unix()).After(oldest) || time.Unix(st.Mtim.Unix()).After(oldest) {
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, fmt.Errorf("clean tmp: %w", err)
		}
		removed++
	}
	return removed, nil
}

// cleanTmpIfDue cleans the folder's tmp/ in the background when the last
// cleaning is more than tmpCleanInterval ago. It never blocks the caller.
func (f *folder) cleanTmpIfDue() {
	now := time.Now()
	f.mu.Lock()
	due := !f.gone && now.Sub(f.tmpCleaned) >= tmpCleanInterval
	if due {
		f.tmpCleaned = now
	}
	f.mu.Unlock()
	if !due {
		return
	}
	go func() {
		n, err := cleanTmp(f.path, now)
		if err != nil {
			f.log.Warn("cleaning tmp/", "err", err)
		} else if n > 0 {
			f.log.Info("removed interrupted deliveries from tmp/", "count", n)
		}
	}()
}
