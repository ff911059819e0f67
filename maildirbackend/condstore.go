package maildirbackend

import (
	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/imapd"
)

// CONDSTORE and QRESYNC (RFC 7162) for the engine's sessions; the folder's
// side is modseq.go. The go-imap front-end offers neither (its server has
// no CONDSTORE), but its sessions share the folders and their sequences.

var _ imapd.SessionCondStore = (*EngineSession)(nil)

// EnableModSeqs implements imapd.SessionCondStore: from now on FETCH
// responses with FLAGS carry MODSEQ, and with qresync expunges are
// VANISHED, for the selected mailbox's pushes too.
func (s *EngineSession) EnableModSeqs(qresync bool) {
	s.condStore = true
	s.qresync = s.qresync || qresync
	s.selMu.Lock()
	sel := s.sel
	s.selMu.Unlock()
	if sel != nil {
		sel.view.SetModSeqs(true, s.qresync)
	}
}

// Vanished implements imapd.SessionCondStore.
func (s *EngineSession) Vanished(since uint64, uids imap.UIDSet) (imap.UIDSet, error) {
	sel, err := s.selected()
	if err != nil {
		return nil, err
	}
	// "*" in the client's set means the highest UID it could know.
	sel.f.mu.Lock()
	defer sel.f.mu.Unlock()
	return sel.f.vanishedLocked(since, &uids), nil
}

// StoreConditional implements imapd.SessionCondStore.
func (s *EngineSession) StoreConditional(w *imapd.FetchWriter, numSet imap.NumSet, flags *imap.StoreFlags, unchangedSince *uint64) (imap.NumSet, error) {
	return s.storeCond(engineFetchWriter{w}, numSet, flags, unchangedSince)
}

// seenFetchOptions is the options of a FETCH that set \Seen: for a
// CONDSTORE client its responses carry UID and MODSEQ (RFC 7162 3.1).
func (s *Session) seenFetchOptions(o *imap.FetchOptions) *imap.FetchOptions {
	if !s.condStore || (o.UID && o.ModSeq) {
		return o
	}
	c := *o
	c.UID, c.ModSeq = true, true
	return &c
}

// modSeqItemWriter is a FETCH response writer that writes MODSEQ (the
// engine's; go-imap's has none).
type modSeqItemWriter interface {
	WriteModSeq(modSeq uint64)
}

func writeModSeq(rw fetchResponseWriter, modSeq uint64) {
	if mw, ok := rw.(modSeqItemWriter); ok {
		mw.WriteModSeq(modSeq)
	}
}

// vanishedWriter is an EXPUNGE or MOVE writer of the engine, which writes
// VANISHED to a QRESYNC client.
type vanishedWriter interface {
	QResync() bool
	WriteVanished(uids imap.UIDSet) error
}

// writeExpunged writes the expunges of EXPUNGE, UID EXPUNGE or MOVE: one
// VANISHED for a QRESYNC client, else an EXPUNGE per sequence number.
func writeExpunged(w expungeWriter, seqs []uint32, uids imap.UIDSet) error {
	if vw, ok := w.(vanishedWriter); ok && vw.QResync() {
		if len(uids) == 0 {
			return nil
		}
		return vw.WriteVanished(uids)
	}
	for _, seq := range seqs {
		if err := w.WriteExpunge(seq); err != nil {
			return err
		}
	}
	return nil
}

// modSeqOf is the candidate's MODSEQ, read once.
func (c *candidate) modSeqOf() uint64 {
	if c.modSeq == 0 {
		c.f.mu.Lock()
		if m := c.f.byUIDLocked(c.uid); m != nil {
			c.modSeq = m.modseq
		}
		c.f.mu.Unlock()
	}
	return c.modSeq
}

// maxModSeq returns the highest MODSEQ of the messages uids (0 for none).
func (f *folder) maxModSeq(uids []imap.UID) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var highest uint64
	for _, uid := range uids {
		if m := f.byUIDLocked(uid); m != nil {
			highest = max(highest, m.modseq)
		}
	}
	return highest
}

// usesModSeq reports whether a search program has a MODSEQ key anywhere.
func usesModSeq(c *imap.SearchCriteria) bool {
	if c.ModSeq != nil {
		return true
	}
	for i := range c.Not {
		if usesModSeq(&c.Not[i]) {
			return true
		}
	}
	for _, pair := range c.Or {
		if usesModSeq(&pair[0]) || usesModSeq(&pair[1]) {
			return true
		}
	}
	return false
}

// numsOf returns ascending UIDs as a set of like's kind: sequence numbers
// of the session's view for a SeqSet, else UIDs. Nil when uids is empty.
func (sel *selection) numsOf(uids []imap.UID, like imap.NumSet) imap.NumSet {
	if len(uids) == 0 {
		return nil
	}
	if _, bySeq := like.(imap.SeqSet); bySeq {
		var set imap.SeqSet
		for _, uid := range uids {
			if seq := sel.view.SeqNum(uid); seq != 0 {
				set.AddNum(seq)
			}
		}
		return compactSeqSet(set)
	}
	return uidSetOf(uids)
}

// HighestModSeq implements imapd.SessionCondStore.
func (s *EngineSession) HighestModSeq() uint64 {
	sel, err := s.selected()
	if err != nil {
		return 0
	}
	return sel.f.highestModSeqNow()
}
