package maildirbackend

import "github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/boltguard"

// SetContentBudget sets the bytes of message content a folder keeps in
// memory, for tests; it returns a function that restores the default.
func SetContentBudget(n int64) (restore func()) {
	old := contentBudget
	contentBudget = n
	return func() { contentBudget = old }
}

// SetCacheOff turns the cache file and the cached header fields off (on
// with false): the answers of the server before the cache existed.
func SetCacheOff(off bool) { cacheOff = off }

// SetMapSizeCheck turns the size check of the cache and index files before
// each transaction on or off; off, a truncation is found by the fault of a
// read. It returns a function that restores the setting.
func SetMapSizeCheck(on bool) (restore func()) { return boltguard.SetSizeCheck(on) }
