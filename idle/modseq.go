package idle

import (
	"fmt"

	"github.com/emersion/go-imap/v2"
)

// CONDSTORE and QRESYNC (RFC 7162). A change carries the modification
// sequence the backend gave it ([Change].ModSeq); a view whose session
// enabled CONDSTORE writes it in the FETCH responses of flag changes, and
// a view whose session enabled QRESYNC writes "* VANISHED uids" instead of
// "* n EXPUNGE", through the writer's optional methods below.

// ModSeqWriter is an [UpdateWriter] that can write the MODSEQ of a flag
// change: "* n FETCH (UID u FLAGS (...) MODSEQ (m))".
type ModSeqWriter interface {
	WriteMessageFlagsModSeq(seqNum uint32, uid imap.UID, flags []imap.Flag, modSeq uint64) error
}

// VanishedWriter is an [UpdateWriter] that can write "* VANISHED uids"
// (RFC 7162 section 3.2.10).
type VanishedWriter interface {
	WriteVanished(uids imap.UIDSet) error
}

// SetModSeqs records the session's RFC 7162 state: with condStore, flag
// changes are written with their MODSEQ (when the writer is a
// [ModSeqWriter]); with qresync, expunges are written as one VANISHED
// response (when the writer is a [VanishedWriter]). QRESYNC implies
// CONDSTORE. Safe to call at any time.
func (v *View) SetModSeqs(condStore, qresync bool) {
	m := v.mbox
	m.mu.Lock()
	defer m.mu.Unlock()
	v.condStore, v.qresync = condStore || qresync, qresync
}

// setPendingModSeqLocked records the modification sequence of a pending
// flag change (0: the change had none, and any earlier one is stale).
func (v *View) setPendingModSeqLocked(uid imap.UID, modSeq uint64) {
	if modSeq == 0 {
		delete(v.pendingModSeq, uid)
		return
	}
	if v.pendingModSeq == nil {
		v.pendingModSeq = make(map[imap.UID]uint64)
	}
	v.pendingModSeq[uid] = modSeq
}

// writeExpunges writes the expunges of a Poll: one VANISHED for a QRESYNC
// view (gone holds their UIDs then), else an EXPUNGE per sequence number.
func (v *View) writeExpunges(w UpdateWriter, seqs []uint32, gone []imap.UID) error {
	if len(seqs) == 0 {
		return nil
	}
	if vw, ok := w.(VanishedWriter); ok && gone != nil {
		var set imap.UIDSet
		for _, uid := range gone {
			set.AddNum(uid)
		}
		if err := vw.WriteVanished(set); err != nil {
			return fmt.Errorf("idle: writing VANISHED: %w", err)
		}
		return nil
	}
	for _, seq := range seqs {
		if err := w.WriteExpunge(seq); err != nil {
			return fmt.Errorf("idle: writing EXPUNGE: %w", err)
		}
	}
	return nil
}

// writeFlags writes one FETCH of a flag change, with its MODSEQ for a
// CONDSTORE view.
func (v *View) writeFlags(w UpdateWriter, f flagUpdate) error {
	var err error
	if mw, ok := w.(ModSeqWriter); ok && v.condStoreOn() && f.modSeq != 0 {
		err = mw.WriteMessageFlagsModSeq(f.seq, f.uid, f.flags, f.modSeq)
	} else {
		err = w.WriteMessageFlags(f.seq, f.uid, f.flags)
	}
	if err != nil {
		return fmt.Errorf("idle: writing FETCH FLAGS: %w", err)
	}
	return nil
}

func (v *View) condStoreOn() bool {
	m := v.mbox
	m.mu.Lock()
	defer m.mu.Unlock()
	return v.condStore
}
