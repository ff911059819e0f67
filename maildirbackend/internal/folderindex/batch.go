package folderindex

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Batch is the changes of one sync step, committed in one transaction.
type Batch struct {
	// HighestModSeq is the folder's HIGHESTMODSEQ after the step; it
	// never goes down (a lower value is ignored).
	HighestModSeq uint64
	// UIDNext is the folder's UIDNEXT after the step (0: unchanged).
	UIDNext uint32
	// Set holds the new records of messages that arrived or changed.
	Set []Record
	// Expunged lists the UIDs expunged in the step, at ExpungeModSeq.
	Expunged      []uint32
	ExpungeModSeq uint64
	// Gone lists more expunged UIDs, in ranges, that have no message
	// record to delete (UIDs another program gave out and removed while
	// the index was not written).
	Gone []Range
}

// Range is the UIDs from Lo to Hi.
type Range struct{ Lo, Hi uint32 }

// Record is the entry of one UID.
type Record struct {
	UID uint32
	Entry
}

// Empty reports whether the batch changes nothing.
func (b *Batch) Empty() bool {
	return len(b.Set) == 0 && len(b.Expunged) == 0 && len(b.Gone) == 0 && b.UIDNext == 0 && b.HighestModSeq == 0
}

// Commit writes a batch in one transaction. The file is fsynced a moment
// later (syncDelay), not per commit.
func (x *Index) Commit(b *Batch) error {
	if b.Empty() {
		return nil
	}
	highest := max(x.highest, b.HighestModSeq, b.ExpungeModSeq)
	for _, r := range b.Set {
		highest = max(highest, r.ModSeq)
	}
	err := x.db.Update(func(tx *bolt.Tx) error {
		meta, msgs, exp := tx.Bucket(bucketMeta), tx.Bucket(bucketMsgs), tx.Bucket(bucketExpunged)
		for _, r := range b.Set {
			if err := msgs.Put(uidKey(r.UID), encodeEntry(r.Entry)); err != nil {
				return fmt.Errorf("put message: %w", err)
			}
		}
		if len(b.Expunged) > 0 {
			for _, uid := range b.Expunged {
				if err := msgs.Delete(uidKey(uid)); err != nil {
					return fmt.Errorf("delete message: %w", err)
				}
			}
			if err := addExpunged(exp, b.Expunged, b.ExpungeModSeq); err != nil {
				return err
			}
		}
		for _, r := range b.Gone {
			if err := mergeRange(exp, r.Lo, r.Hi, b.ExpungeModSeq); err != nil {
				return err
			}
		}
		if b.UIDNext != 0 {
			if err := putU64(meta, keyUIDNext, uint64(b.UIDNext)); err != nil {
				return err
			}
		}
		return putU64(meta, keyHighest, highest)
	})
	if err != nil {
		return fmt.Errorf("commit index: %w", err)
	}
	x.highest = highest
	if b.UIDNext != 0 {
		x.uidNext = b.UIDNext
	}
	if x.syncEach {
		if err := x.db.Sync(); err != nil {
			return fmt.Errorf("fsync index: %w", err)
		}
		return nil
	}
	x.scheduleSync()
	return nil
}

// A range record of the expunged bucket: key lo (4 bytes), value hi (4
// bytes) and the modification sequence of the range's latest expunge.
func rangeValue(hi uint32, modSeq uint64) []byte {
	v := make([]byte, 12)
	binary.BigEndian.PutUint32(v, hi)
	binary.BigEndian.PutUint64(v[4:], modSeq)
	return v
}

func decodeRange(k, v []byte) (lo, hi uint32, modSeq uint64, ok bool) {
	if len(k) != 4 || len(v) != 12 {
		return 0, 0, 0, false
	}
	return binary.BigEndian.Uint32(k), binary.BigEndian.Uint32(v), binary.BigEndian.Uint64(v[4:]), true
}

// addExpunged records uids as expunged at modSeq, in runs of consecutive
// UIDs, each merged with a range of the same modification sequence that
// touches it, so that VANISHED answers are exact. The bucket grows with
// the expunges of distinct steps (16 bytes of data each, on disk only);
// a deleted index starts it afresh.
func addExpunged(exp *bolt.Bucket, uids []uint32, modSeq uint64) error {
	uids = slices.Clone(uids)
	slices.Sort(uids)
	uids = slices.Compact(uids)
	for i := 0; i < len(uids); {
		lo, hi := uids[i], uids[i]
		i++
		for i < len(uids) && uids[i] == hi+1 {
			hi = uids[i]
			i++
		}
		if err := mergeRange(exp, lo, hi, modSeq); err != nil {
			return err
		}
	}
	return nil
}

// mergeRange adds [lo, hi] and joins it with the ranges it overlaps (a
// UID is expunged once, so only a damaged file has them: the later
// modification sequence wins) or touches with the same modification
// sequence.
func mergeRange(exp *bolt.Bucket, lo, hi uint32, modSeq uint64) error {
	c := exp.Cursor()
	var drop [][]byte
	joins := func(rlo, rhi uint32, rm uint64) bool {
		overlap := rlo <= hi && rhi >= lo
		touch := uint64(rhi)+1 == uint64(lo) || uint64(hi)+1 == uint64(rlo)
		return overlap || touch && rm == modSeq
	}
	// The range that starts before lo and may reach it.
	k, v := c.Seek(uidKey(lo))
	if k == nil || !bytes.Equal(k, uidKey(lo)) {
		if pk, pv := prev(c, k); pk != nil {
			if plo, phi, pm, ok := decodeRange(pk, pv); ok && joins(plo, phi, pm) {
				lo, hi, modSeq = plo, max(hi, phi), max(modSeq, pm)
				drop = append(drop, slices.Clone(pk))
			}
		}
		k, v = c.Seek(uidKey(lo))
	}
	// Ranges that start within [lo, hi+1].
	for ; k != nil; k, v = c.Next() {
		klo, khi, km, ok := decodeRange(k, v)
		if !ok {
			drop = append(drop, slices.Clone(k))
			continue
		}
		if uint64(klo) > uint64(hi)+1 {
			break
		}
		if !joins(klo, khi, km) {
			continue
		}
		hi, modSeq = max(hi, khi), max(modSeq, km)
		drop = append(drop, slices.Clone(k))
	}
	for _, d := range drop {
		if err := exp.Delete(d); err != nil {
			return fmt.Errorf("delete expunged range: %w", err)
		}
	}
	if err := exp.Put(uidKey(lo), rangeValue(hi, modSeq)); err != nil {
		return fmt.Errorf("put expunged range: %w", err)
	}
	return nil
}

// prev returns the record before the cursor's position k (the last record
// when k is nil: the cursor ran off the end).
func prev(c *bolt.Cursor, k []byte) ([]byte, []byte) {
	if k == nil {
		return c.Last()
	}
	return c.Prev()
}

// Vanished calls fn, in ascending order, for each range of UIDs expunged
// at a modification sequence above since. It knows nothing of expunges
// before Base: the caller answers for those.
func (x *Index) Vanished(since uint64, fn func(lo, hi uint32)) error {
	err := x.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketExpunged).ForEach(func(k, v []byte) error {
			if lo, hi, m, ok := decodeRange(k, v); ok && m > since {
				fn(lo, hi)
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("read expunged: %w", err)
	}
	return nil
}
