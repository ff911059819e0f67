package maildirbackend

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/imapmsg"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/fts"
)

// ftsDirName is the folder's full-text index, a directory in its control
// directory.
const ftsDirName = "maildir-imapd.fts"

// Indexer pacing: the documents held in memory before a segment is
// written, and how long a smaller batch waits for more.
const (
	ftsFlushDocs  = 4000
	ftsFlushDelay = 30 * time.Second
)

// ftsState is a folder's full-text index and its indexer: one goroutine,
// only while there is something to index, that reconciles the index with
// the folder's keys (every message not indexed is read and added), so
// deliveries, APPEND, COPY, MOVE, changes made while the server was down
// and documents lost with a broken segment all take the same path.
// Expunged messages' documents are left for a merge to drop.
type ftsState struct {
	mu           sync.Mutex
	idx          *fts.Index // nil until opened
	failed       bool       // the index cannot be opened: scans only
	lockedLogged bool       // "in use by another process" was logged
	running      bool       // the indexer goroutine runs
	again        bool       // a kick came while it ran
	stopped      bool
	stop         chan struct{} // closed by ftsStop; made by ftsKick
	complete     bool          // a round found the index complete since the folder opened
	lastFlush    time.Time
	timer        *time.Timer // a delayed flush; may be nil
	wg           sync.WaitGroup
}

// ftsIndex returns the folder's index, opening it the first time; nil
// when full-text indexing is off or the index cannot be opened. An index
// locked by another process (two daemons on one Maildir, or this
// folder's previous instance still closing) is tried again at the next
// call, and the indexer is started once it opens.
func (f *folder) ftsIndex() *fts.Index {
	if f.acct.b.opts.NoFullTextIndex {
		return nil
	}
	idx, opened := f.ftsOpen()
	if opened {
		f.ftsKick()
	}
	return idx
}

func (f *folder) ftsOpen() (idx *fts.Index, opened bool) {
	st := &f.fts
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.idx != nil || st.failed || st.stopped {
		return st.idx, false
	}
	idx, err := fts.Open(filepath.Join(f.ctl, ftsDirName))
	if errors.Is(err, fts.ErrLocked) {
		if !st.lockedLogged {
			st.lockedLogged = true
			f.log.Info("full-text index in use by another process; SEARCH BODY and TEXT scan until it is free")
		}
		return nil, false
	}
	if err != nil {
		st.failed = true
		f.log.Warn("no full-text index for this folder; SEARCH BODY and TEXT scan", "err", err)
		return nil, false
	}
	st.idx = idx
	st.lastFlush = time.Now()
	return idx, true
}

// ftsKick starts the indexer unless it runs (then it looks again when it
// is done). It never blocks on the folder's mutex, so it may be called
// with it held.
func (f *folder) ftsKick() {
	if f.acct.b.opts.NoFullTextIndex {
		return
	}
	st := &f.fts
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.stopped || st.failed {
		return
	}
	if st.running {
		st.again = true
		return
	}
	st.running = true
	if st.stop == nil {
		st.stop = make(chan struct{})
	}
	st.wg.Add(1)
	go f.ftsRun(st.stop)
}

// ftsStop stops the indexer and writes what it holds in memory. Called
// when the folder closes.
func (f *folder) ftsStop() {
	st := &f.fts
	st.mu.Lock()
	st.stopped = true
	if st.stop != nil {
		close(st.stop)
		st.stop = nil
	}
	if st.timer != nil {
		st.timer.Stop()
	}
	st.mu.Unlock()
	st.wg.Wait()
	st.mu.Lock()
	idx := st.idx
	st.mu.Unlock()
	if idx != nil {
		// A folder removed or replaced meanwhile has nowhere to keep it.
		if err := idx.Flush(); err != nil && !errors.Is(err, fs.ErrNotExist) {
			f.log.Warn("writing the full-text index", "err", err)
		}
		idx.Close() // lets the next process (or folder) write it
	}
}

func (f *folder) ftsStopped() bool {
	f.fts.mu.Lock()
	defer f.fts.mu.Unlock()
	return f.fts.stopped
}

// ftsRun is the indexer goroutine: rounds of reconcile until a round
// finds nothing new and no kick came meanwhile. It adds documents only
// while it holds the process's indexing slot, paced to yield to IMAP work
// (ftsslot.go); stop ends it.
func (f *folder) ftsRun(stop <-chan struct{}) {
	st := &f.fts
	defer st.wg.Done()
	defer func() {
		if v := recover(); v != nil {
			f.log.Error("panic in the full-text indexer", "err", v, "stack", string(debug.Stack()))
			st.mu.Lock()
			st.running = false
			st.mu.Unlock()
		}
	}()
	for {
		if idx := f.ftsIndex(); idx != nil && !f.ftsStopped() {
			if err := f.ftsRound(idx, stop); err != nil {
				f.log.Warn("full-text indexing", "err", err)
			}
		}
		st.mu.Lock()
		if !st.again || st.stopped {
			st.running = false
			st.mu.Unlock()
			return
		}
		st.again = false
		st.mu.Unlock()
	}
}

// ftsRound indexes every message of the folder the index lacks, in turns
// of ftsSlotDocs documents while holding the indexing slot, writing a
// segment every ftsFlushDocs documents; once the folder is indexed it
// writes what remains when ftsFlushDelay has passed since the last write
// (else arms a timer for it).
func (f *folder) ftsRound(idx *fts.Index, stop <-chan struct{}) error {
	idx.Lost()
	missing := f.ftsMissing(idx)
	for start := 0; start < len(missing); start += ftsSlotDocs {
		if err := f.ftsTurn(idx, missing[start:min(start+ftsSlotDocs, len(missing))], stop); err != nil {
			return err
		}
		if f.ftsStopped() {
			return nil
		}
	}
	f.ftsLogCurrent(len(missing))
	if idx.Pending() == 0 {
		return nil
	}
	st := &f.fts
	st.mu.Lock()
	due := time.Since(st.lastFlush) >= ftsFlushDelay
	if !due && st.timer == nil {
		st.timer = time.AfterFunc(ftsFlushDelay, func() {
			st.mu.Lock()
			st.timer = nil
			st.mu.Unlock()
			f.ftsKick()
		})
	}
	st.mu.Unlock()
	if due {
		return f.ftsFlush(idx)
	}
	return nil
}

// ftsLogCurrent logs that a round left the index holding every message:
// at info level the first time since the folder opened ("full-text index
// complete": tests and benchmarks wait for it), else at debug level.
func (f *folder) ftsLogCurrent(indexed int) {
	st := &f.fts
	st.mu.Lock()
	first := !st.complete
	st.complete = true
	st.mu.Unlock()
	if first {
		f.log.Info("full-text index complete", "indexed", indexed)
		return
	}
	f.log.Debug("full-text index current", "indexed", indexed)
}

// ftsTurn adds the documents of keys while holding the indexing slot.
func (f *folder) ftsTurn(idx *fts.Index, keys []string, stop <-chan struct{}) error {
	slot := f.acct.b.ftsSlot
	if !slot.acquire(stop) {
		return nil
	}
	defer slot.release()
	pace := ftsPace{slot: slot}
	for _, key := range keys {
		if f.ftsStopped() {
			return nil
		}
		if err := f.ftsAdd(idx, key); err != nil {
			return err
		}
		pace.done(stop)
		if idx.Pending() >= ftsFlushDocs {
			if err := f.ftsFlush(idx); err != nil {
				return err
			}
		}
	}
	return nil
}

// ftsMissing returns the keys of the folder's messages that the index
// lacks, in UID order.
func (f *folder) ftsMissing(idx *fts.Index) []string {
	f.mu.Lock()
	keys := make([]string, len(f.msgs))
	for i, m := range f.msgs {
		keys[i] = m.key
	}
	f.mu.Unlock()
	return idx.Missing(keys)
}

// ftsAdd reads one message and adds its trigrams and words to the index. A message
// gone meanwhile is skipped (a rename is found by the next round).
func (f *folder) ftsAdd(idx *fts.Index, key string) error {
	f.mu.Lock()
	m := f.byKey[key]
	var sn snapshot
	if m != nil {
		sn = f.snapLocked(m)
	}
	f.mu.Unlock()
	if m == nil {
		return nil
	}
	file, err := openMessageFile(sn.path())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open message: %w", err)
	}
	defer file.Close()
	var p *imapmsg.Parsed
	if sn.content != nil {
		p = sn.content.parsed
	}
	if p == nil {
		if p, err = imapmsg.Parse(file); err != nil {
			return fmt.Errorf("parse message: %w", err)
		}
	}
	d, err := ftsDoc(p, file)
	if err != nil {
		return fmt.Errorf("index message: %w", err)
	}
	idx.AddDoc(key, d)
	return nil
}

// ftsFlush writes the documents in memory to a segment and merges
// segments when there are too many or too many dead documents.
func (f *folder) ftsFlush(idx *fts.Index) error {
	if err := idx.Flush(); err != nil {
		return err
	}
	f.fts.mu.Lock()
	f.fts.lastFlush = time.Now()
	f.fts.mu.Unlock()
	f.mu.Lock()
	live := make(map[string]bool, len(f.msgs))
	for _, m := range f.msgs {
		live[m.key] = true
	}
	f.mu.Unlock()
	return idx.Compact(func(key string) bool { return live[key] })
}
