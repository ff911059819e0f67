//go:build !unix

package boltguard

import (
	"os"
	"time"
)

// lockFile does nothing where flock is missing: bbolt locks the file
// itself, and the meta pages are read unlocked.
func lockFile(f *os.File, exclusive bool, timeout time.Duration) error { return nil }
