package maildirbackend

// FTSIndexed reports whether every open folder of b has indexed all its
// messages and its indexer is at rest (for tests in maildirbackend_test).
func FTSIndexed(b *Backend) bool {
	b.mu.Lock()
	var folders []*folder
	for _, a := range b.accounts {
		a.mu.Lock()
		for _, f := range a.folders {
			folders = append(folders, f)
		}
		a.mu.Unlock()
	}
	b.mu.Unlock()
	for _, f := range folders {
		f.fts.mu.Lock()
		running := f.fts.running
		f.fts.mu.Unlock()
		idx := f.ftsIndex()
		if running || idx == nil || len(f.ftsMissing(idx)) > 0 {
			return false
		}
	}
	return true
}

// FTSFlush writes every open folder's in-memory documents to a segment.
func FTSFlush(b *Backend) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, a := range b.accounts {
		a.mu.Lock()
		for _, f := range a.folders {
			if idx := f.ftsIndex(); idx != nil {
				if err := idx.Flush(); err != nil {
					a.mu.Unlock()
					return err
				}
			}
		}
		a.mu.Unlock()
	}
	return nil
}

// FTSMissing returns how many messages of b's open folders their indexes
// lack (-1 when a folder has no index).
func FTSMissing(b *Backend) int {
	b.mu.Lock()
	var folders []*folder
	for _, a := range b.accounts {
		a.mu.Lock()
		for _, f := range a.folders {
			folders = append(folders, f)
		}
		a.mu.Unlock()
	}
	b.mu.Unlock()
	n := 0
	for _, f := range folders {
		idx := f.ftsIndex()
		if idx == nil {
			return -1
		}
		n += len(f.ftsMissing(idx))
	}
	return n
}
