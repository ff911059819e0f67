package maildirbackend

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
