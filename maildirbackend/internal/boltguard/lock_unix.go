//go:build unix

package boltguard

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
)

// lockRetry is how often a lock held by another process is tried again
// (bbolt's flockRetryTimeout).
const lockRetry = 50 * time.Millisecond

// lockFile takes the flock that bbolt's Open takes next, on the same open
// file (so bbolt's own flock then succeeds at once): the meta pages are
// read only when no other process writes them. It waits as bbolt does
// (timeout 0: for ever) and returns bolt.ErrTimeout when it gives up.
func lockFile(f *os.File, exclusive bool, timeout time.Duration) error {
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	start := time.Now()
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("flock %s: %w", f.Name(), err)
		}
		if timeout != 0 && time.Since(start) > timeout-lockRetry {
			return bolt.ErrTimeout
		}
		time.Sleep(lockRetry)
	}
}
