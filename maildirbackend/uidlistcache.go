package maildirbackend

import (
	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/dovecot"
)

// uidlistCache is dovecot-uidlist as this folder last read or wrote it
// under dovecot-uidlist.lock, with the file's stamp at that moment: while
// the file still has that stamp (same inode, size and modification time;
// every writer appends or renames a new file over it, under the lock),
// its content is the cached list, and a delivery's UID assignment need not
// read and parse the whole file again. Without it, one new message in a
// folder of 100,000 read 100,000 lines while holding the folder's mutex
// (BenchmarkSync_newMessage). Dovecot keeps its uidlist in memory the
// same way (src/lib-storage/index/maildir/maildir-uidlist.c: it re-reads
// only when the file's inode, size or mtime changed).
//
// It costs memory in proportion to the folder: about 120 bytes per
// record for the records and the key map, less the key strings, which it
// shares with the folder's messages.
type uidlistCache struct {
	list  *dovecot.UIDList
	stamp fileStamp
	pos   map[string]int // record key to its index in list.Records
}

func newUIDListCache(list *dovecot.UIDList, st fileStamp) *uidlistCache {
	pos := make(map[string]int, len(list.Records))
	for i, r := range list.Records {
		pos[r.Key] = i
	}
	return &uidlistCache{list: list, stamp: st, pos: pos}
}

// sameStamp reports whether a and b are one version of a file.
func sameStamp(a, b fileStamp) bool {
	return a.ino != 0 && a.ino == b.ino && a.size == b.size && a.mtime.Equal(b.mtime)
}

// readUIDListLocked returns the folder's dovecot-uidlist at path: the
// cached one when the file has not changed since this folder read or
// wrote it, else the file read anew (and cached). The caller holds the
// uidlist lock, and must call dropUIDListLocked before it changes the
// list it got or the file.
func (f *folder) readUIDListLocked(path string) (*dovecot.UIDList, error) {
	// Stamped before the read: a change after the stamp makes the next
	// stamp differ, so it is read then.
	st := stampOf(path)
	if c := f.uidlist; c != nil && sameStamp(st, c.stamp) {
		return c.list, nil
	}
	f.uidlist = nil
	list, err := dovecot.ReadUIDList(path)
	if err != nil {
		return nil, err
	}
	if st.ino != 0 {
		// The cache shares the known messages' key strings: a record
		// then costs its UID, fields and place in the map.
		for i, r := range list.Records {
			if m := f.byKey[r.Key]; m != nil {
				list.Records[i].Key = m.key
			}
		}
		f.uidlist = newUIDListCache(list, st)
	}
	return list, nil
}

// dropUIDListLocked forgets the cached list: it is about to change.
func (f *folder) dropUIDListLocked() { f.uidlist = nil }

// appendedUIDListLocked records that recs were appended to the file at
// path, whose cached content was list, under the uidlist lock.
func (f *folder) appendedUIDListLocked(path string, list *dovecot.UIDList, recs []dovecot.Record) {
	c := newUIDListCacheFrom(f.uidlist, list)
	if c == nil {
		return
	}
	for _, r := range recs {
		c.pos[r.Key] = len(list.Records)
		list.Records = append(list.Records, r)
	}
	list.Lines += len(recs)
	c.stamp = stampOf(path)
	f.uidlist = c
}

// newUIDListCacheFrom returns c when it caches list, else nil.
func newUIDListCacheFrom(c *uidlistCache, list *dovecot.UIDList) *uidlistCache {
	if c == nil || c.list != list {
		return nil
	}
	return c
}

// uidGapLocked reports whether list numbers a file above last that is
// neither known nor among want (see errUIDGap). Records are in ascending
// UID order, so only those above last are looked at.
func (f *folder) uidGapLocked(list *dovecot.UIDList, last imap.UID, want map[string]*message) bool {
	for i := len(list.Records) - 1; i >= 0 && imap.UID(list.Records[i].UID) > last; i-- {
		r := list.Records[i]
		if f.byKey[r.Key] == nil && want[r.Key] == nil {
			return true
		}
	}
	return false
}

// takeRecordUIDsLocked gives each candidate the UID list has for its key
// when that is above last, and reports whether a candidate's key has a
// record at or below last (an expunged message that reappeared).
func (f *folder) takeRecordUIDsLocked(list *dovecot.UIDList, last imap.UID, cands []*message) (reappeared bool) {
	pos := f.recordPosLocked(list)
	for _, m := range cands {
		i, ok := pos[m.key]
		if !ok {
			continue
		}
		r := list.Records[i]
		if imap.UID(r.UID) > last && m.uid == 0 {
			m.uid = imap.UID(r.UID)
			applyRecordSizes(m, r)
		} else if m.uid == 0 {
			reappeared = true // Dovecot: "Expunged message reappeared, giving a new UID"
		}
	}
	return reappeared
}

// recordPosLocked returns the index in list.Records of each record's key:
// the cache's when it holds list, else made for the call.
func (f *folder) recordPosLocked(list *dovecot.UIDList) map[string]int {
	if c := newUIDListCacheFrom(f.uidlist, list); c != nil {
		return c.pos
	}
	return newUIDListCache(list, fileStamp{}).pos
}

// needsCompactionLocked reports whether the uidlist should be rewritten
// rather than appended to, after adding fresh new records (Dovecot's rule,
// [dovecot.NeedsCompaction]). The live records (those of known messages
// and candidates) are counted only when their upper bound, the known
// messages plus the candidates, is low enough for the rule to hold:
// otherwise a delivery would look at every record.
func (f *folder) needsCompactionLocked(list *dovecot.UIDList, want map[string]*message, fresh int) bool {
	bound := min(len(list.Records), len(f.byKey)+len(want))
	if !dovecot.NeedsCompaction(bound, list.Lines, fresh) {
		return false
	}
	live := 0
	for _, r := range list.Records {
		if f.byKey[r.Key] != nil || want[r.Key] != nil {
			live++
		}
	}
	return dovecot.NeedsCompaction(live, list.Lines, fresh)
}
