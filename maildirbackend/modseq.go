package maildirbackend

import (
	"cmp"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"

	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/idle"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/folderindex"
)

// Modification sequences (RFC 7162). Every change a folder applies (a
// delivery or APPEND, COPY or MOVE arriving, STORE, an expunge, and every
// change a sync finds on disk) takes the next modification sequence, given
// to the messages it touched, written to the folder's index in the same
// step (one transaction per step) and carried to the views on the
// idle.Change. The index (internal/folderindex) sits beside
// dovecot-uidlist; the Maildir stays the source of truth: at load, a
// message whose flags differ from the index's record, or that has none,
// gets a new modification sequence, and a UID of the index that is gone is
// recorded as expunged. Without an index (a read-only control directory,
// another process holding it) the sequences live in memory and start at
// the time in microseconds, so they too only grow.

// indexOff keeps folders from opening an index (benchmarks compare).
var indexOff atomic.Bool

// openIndexLocked opens the folder's index after a load and reconciles it
// with the messages found on disk.
func (f *folder) openIndexLocked() {
	f.highestModSeq = folderindex.FreshBase()
	f.modSeqBase = f.highestModSeq
	if f.readOnly || f.uidValidity == 0 || indexOff.Load() {
		f.setAllModSeqsLocked()
		return
	}
	x, err := folderindex.Open(filepath.Join(f.ctl, folderindex.FileName), f.uidValidity, f.log)
	if err != nil {
		f.log.Warn("no folder index: modification sequences in memory", "err", err)
		f.setAllModSeqsLocked()
		return
	}
	f.idx = x
	f.highestModSeq, f.modSeqBase = x.HighestModSeq(), x.Base()
	f.reconcileIndexLocked()
}

// setAllModSeqsLocked gives every message the current HIGHESTMODSEQ.
func (f *folder) setAllModSeqsLocked() {
	for _, m := range f.msgs {
		m.modseq = f.highestModSeq
	}
}

// reconcileIndexLocked takes the index's modification sequences for the
// messages whose flags are as recorded, and records the rest (changed or
// arrived while nobody watched, and the UIDs that went away) at one new
// modification sequence.
func (f *folder) reconcileIndexLocked() {
	next := f.highestModSeq + 1
	b := &folderindex.Batch{UIDNext: uint32(f.uidNext), ExpungeModSeq: next}
	i := 0
	err := f.idx.Each(func(uid uint32, e folderindex.Entry) {
		for i < len(f.msgs) && uint32(f.msgs[i].uid) < uid {
			f.changedAtLoadLocked(f.msgs[i], next, b)
			i++
		}
		if i < len(f.msgs) && uint32(f.msgs[i].uid) == uid {
			m := f.msgs[i]
			i++
			if e.Flags == indexFlags(m) && e.ModSeq <= f.highestModSeq {
				m.modseq = e.ModSeq
			} else {
				f.changedAtLoadLocked(m, next, b)
			}
			return
		}
		b.Expunged = append(b.Expunged, uid)
	})
	for ; i < len(f.msgs); i++ {
		f.changedAtLoadLocked(f.msgs[i], next, b)
	}
	// UIDs given out while the index was not written (another program
	// numbered them) and gone by now: expunged too.
	if old := imap.UID(f.idx.UIDNext()); old != 0 && old < f.uidNext {
		for _, r := range f.clipLive(old, f.uidNext-1) {
			b.Gone = append(b.Gone, folderindex.Range{Lo: uint32(r.Start), Hi: uint32(r.Stop)})
		}
	}
	if err == nil && (len(b.Set) > 0 || len(b.Expunged) > 0 || len(b.Gone) > 0) {
		f.highestModSeq = next
		b.HighestModSeq = next
	}
	if err == nil {
		err = f.idx.Commit(b)
	}
	if err != nil {
		f.dropIndexLocked(err)
		f.setAllModSeqsLocked()
	}
}

// changedAtLoadLocked gives m the load's new modification sequence.
func (f *folder) changedAtLoadLocked(m *message, next uint64, b *folderindex.Batch) {
	m.modseq = next
	b.Set = append(b.Set, folderindex.Record{UID: uint32(m.uid), Entry: folderindex.Entry{ModSeq: next, Flags: indexFlags(m)}})
}

// indexFlags is the flag set the index records for m.
func indexFlags(m *message) folderindex.Flags {
	return folderindex.Flags{Std: m.flags.std, Kw: m.flags.kw}
}

// recordChangeLocked gives a change the next modification sequence: the
// messages it added or whose flags it changed take it, and the index
// records them and the expunged UIDs in one transaction.
func (f *folder) recordChangeLocked(change *idle.Change) {
	if len(change.Added) == 0 && len(change.Flags) == 0 && len(change.Expunged) == 0 {
		return
	}
	f.highestModSeq++
	ms := f.highestModSeq
	change.ModSeq = ms
	b := &folderindex.Batch{HighestModSeq: ms, UIDNext: uint32(f.uidNext), ExpungeModSeq: ms}
	for _, uid := range change.Added {
		f.touchLocked(uid, ms, b)
	}
	for uid := range change.Flags {
		f.touchLocked(uid, ms, b)
	}
	for _, uid := range change.Expunged {
		b.Expunged = append(b.Expunged, uint32(uid))
	}
	if f.idx == nil {
		return
	}
	if f.gone {
		// A retired state (the folder moved or was replaced) writes
		// nothing more: the index file may be the new state's now.
		f.closeIndexLocked()
		return
	}
	if err := f.idx.Commit(b); err != nil {
		f.dropIndexLocked(err)
	}
}

// touchLocked gives the message uid modification sequence ms.
func (f *folder) touchLocked(uid imap.UID, ms uint64, b *folderindex.Batch) {
	m := f.byUIDLocked(uid)
	if m == nil {
		return
	}
	m.modseq = ms
	b.Set = append(b.Set, folderindex.Record{UID: uint32(uid), Entry: folderindex.Entry{ModSeq: ms, Flags: indexFlags(m)}})
}

// dropIndexLocked gives up an index that failed a write, or was found
// damaged (another program truncated it in place): it could now miss an
// expunge, so it is removed (the next load starts a fresh one, above
// every sequence given) and this state goes on in memory, answering for
// expunges as if it had never had an index.
func (f *folder) dropIndexLocked(err error) {
	if f.idx == nil {
		return
	}
	f.log.Warn("folder index failed: removing it, modification sequences in memory", "err", err)
	path := f.idx.Path()
	f.closeIndexLocked()
	if rerr := os.Remove(path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		f.log.Warn("cannot remove the folder index", "err", rerr)
	}
	f.modSeqBase = f.highestModSeq + 1
}

// closeIndexLocked closes the index file (the folder closes or retires).
func (f *folder) closeIndexLocked() {
	if f.idx == nil {
		return
	}
	if err := f.idx.Close(); err != nil {
		f.log.Warn("closing the folder index", "err", err)
	}
	f.idx = nil
}

// vanishedLocked returns the UIDs expunged at a modification sequence
// above since, clipped to within when it is not nil. What the index cannot
// tell (a since older than the index, no index) is answered with every UID
// below UIDNEXT that no message has: never one too few. A UID of a live
// message is never in the answer.
func (f *folder) vanishedLocked(since uint64, within *imap.UIDSet) imap.UIDSet {
	var out imap.UIDSet
	if since >= f.highestModSeq {
		return out
	}
	add := func(lo, hi imap.UID) {
		if lo > hi {
			return
		}
		for _, r := range f.clipLive(lo, hi) {
			out.AddRange(r.Start, r.Stop)
		}
	}
	if f.idx == nil || since < f.modSeqBase {
		add(1, f.uidNext-1)
	} else if err := f.idx.Vanished(since, func(lo, hi uint32) { add(imap.UID(lo), imap.UID(hi)) }); err != nil {
		f.log.Warn("reading expunged UIDs from the index", "err", err)
		if errors.Is(err, folderindex.ErrDamaged) {
			f.dropIndexLocked(err)
		}
		out = nil
		add(1, f.uidNext-1)
	}
	if within != nil {
		out = intersectUIDSet(out, *within)
	}
	return out
}

// clipLive splits [lo, hi] around the UIDs of live messages.
func (f *folder) clipLive(lo, hi imap.UID) []imap.UIDRange {
	var out []imap.UIDRange
	for _, m := range f.msgs[f.firstAtLeastLocked(lo):] {
		if m.uid > hi {
			break
		}
		if m.uid > lo {
			out = append(out, imap.UIDRange{Start: lo, Stop: m.uid - 1})
		}
		lo = m.uid + 1
	}
	if lo <= hi {
		out = append(out, imap.UIDRange{Start: lo, Stop: hi})
	}
	return out
}

// firstAtLeastLocked is the index in f.msgs of the first UID >= uid.
func (f *folder) firstAtLeastLocked(uid imap.UID) int {
	lo, hi := 0, len(f.msgs)
	for lo < hi {
		mid := (lo + hi) / 2
		if f.msgs[mid].uid < uid {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// intersectUIDSet returns the UIDs of a (ascending, disjoint ranges, as
// vanishedLocked builds it) that are in b, a client's set in any order,
// where "*" stands for the highest UID. Linear in the two sets' ranges
// after sorting b's, whatever a client sends.
func intersectUIDSet(a, b imap.UIDSet) imap.UIDSet {
	rs := make([]imap.UIDRange, 0, len(b))
	for _, r := range b {
		lo, hi := r.Start, r.Stop
		if lo == 0 {
			lo = ^imap.UID(0)
		}
		if hi == 0 {
			hi = ^imap.UID(0)
		}
		if lo > hi {
			lo, hi = hi, lo
		}
		rs = append(rs, imap.UIDRange{Start: lo, Stop: hi})
	}
	slices.SortFunc(rs, func(x, y imap.UIDRange) int { return cmp.Compare(x.Start, y.Start) })
	var out imap.UIDSet
	i, j := 0, 0
	for i < len(a) && j < len(rs) {
		lo, hi := max(a[i].Start, rs[j].Start), min(a[i].Stop, rs[j].Stop)
		if lo <= hi {
			out.AddRange(lo, hi)
		}
		if a[i].Stop < rs[j].Stop {
			i++
		} else {
			j++
		}
	}
	return out
}

// highestModSeqNow returns the folder's HIGHESTMODSEQ.
func (f *folder) highestModSeqNow() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.highestModSeq
}
