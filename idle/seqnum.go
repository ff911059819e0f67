package idle

import (
	"github.com/emersion/go-imap/v2"
)

// UIDs returns the client's view of the mailbox: index i holds the UID of
// sequence number i+1. The slice is shared and must not be modified; it stays
// valid (unchanged) after later Polls, which replace rather than modify it.
// It returns nil after Close.
func (v *View) UIDs() []imap.UID {
	m := v.mbox
	m.mu.Lock()
	defer m.mu.Unlock()
	return v.uids[:len(v.uids):len(v.uids)]
}

// Len returns the number of messages the client sees.
func (v *View) Len() int {
	m := v.mbox
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(v.uids)
}

// SeqNum returns the sequence number of uid in the client's view, or 0 if the
// client does not see that UID. It replaces SessionTracker.EncodeSeqNum.
func (v *View) SeqNum(uid imap.UID) uint32 {
	return seqNumOf(v.UIDs(), uid)
}

// UID returns the UID at sequence number seq in the client's view, or 0 if
// seq is out of range. It replaces SessionTracker.DecodeSeqNum.
func (v *View) UID(seq uint32) imap.UID {
	uids := v.UIDs()
	if seq == 0 || uint64(seq) > uint64(len(uids)) {
		return 0
	}
	return uids[seq-1]
}
