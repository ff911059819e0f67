package imapd

import (
	"errors"
	"sync/atomic"

	"github.com/emersion/go-imap/v2"
)

// errNoExpunge is returned by UpdateWriter.WriteExpunge when expunges must
// wait (after FETCH, STORE or SEARCH by sequence number).
var errNoExpunge = errors.New("imapd: EXPUNGE not allowed after this command")

// UpdateWriter writes the untagged updates of the selected mailbox. Each
// method writes one whole response; the updates of IDLE are flushed at
// once, those of a command with its tagged reply.
type UpdateWriter struct {
	c            *Conn
	allowExpunge bool
	idle         atomic.Bool // IDLE has begun: each update is flushed at once
	newFrom      uint32      // the first sequence number an EXISTS of this writer announced; 0: none
}

func (w *UpdateWriter) end() error {
	if w.idle.Load() {
		return w.c.enc.flushLocked()
	}
	return w.c.enc.err
}

// WriteExpunge writes "* n EXPUNGE".
func (w *UpdateWriter) WriteExpunge(seqNum uint32) error {
	if !w.allowExpunge {
		return errNoExpunge
	}
	w.c.expunged()
	e := &w.c.enc
	e.lock()
	defer e.unlock()
	e.raw("* ").num(seqNum).raw(" EXPUNGE").crlf()
	return w.end()
}

// WriteNumMessages writes "* n EXISTS".
func (w *UpdateWriter) WriteNumMessages(n uint32) error {
	if old := w.c.exists.Swap(n); n > old && w.newFrom == 0 {
		w.newFrom = old + 1
	}
	e := &w.c.enc
	e.lock()
	defer e.unlock()
	e.raw("* ").num(n).raw(" EXISTS").crlf()
	return w.end()
}

// WriteNumRecent writes "* n RECENT", for IMAP4rev1 clients only.
func (w *UpdateWriter) WriteNumRecent(n uint32) error {
	e := &w.c.enc
	e.lock()
	defer e.unlock()
	if e.rev2 {
		return nil
	}
	e.raw("* ").num(n).raw(" RECENT").crlf()
	return w.end()
}

// WriteMailboxFlags writes "* FLAGS (...)".
func (w *UpdateWriter) WriteMailboxFlags(flags []imap.Flag) error {
	e := &w.c.enc
	e.lock()
	defer e.unlock()
	e.raw("* FLAGS ").flags(flags).crlf()
	return w.end()
}

// WriteMessageFlags writes "* n FETCH (UID u FLAGS (...))"; the UID is left
// out when uid is 0.
func (w *UpdateWriter) WriteMessageFlags(seqNum uint32, uid imap.UID, flags []imap.Flag) error {
	return w.writeFlagsFetch(seqNum, uid, flags, 0)
}

// writeFlagsFetch writes "* n FETCH ([UID u ]FLAGS (...)[ MODSEQ (m)])":
// the UID when uid is not 0, the MODSEQ when modSeq is not 0.
func (w *UpdateWriter) writeFlagsFetch(seqNum uint32, uid imap.UID, flags []imap.Flag, modSeq uint64) error {
	e := &w.c.enc
	e.lock()
	defer e.unlock()
	e.raw("* ").num(seqNum).raw(" FETCH (")
	if uid != 0 {
		e.raw("UID ").num(uint32(uid)).sp()
	}
	e.raw("FLAGS ").flags(flags)
	if modSeq != 0 {
		e.raw(" MODSEQ (").num64(int64(modSeq)).byte(')')
	}
	e.raw(")").crlf()
	return w.end()
}

// WriteText writes "* OK text" (such as IDLE's keepalive, "Still here").
func (w *UpdateWriter) WriteText(text string) error {
	e := &w.c.enc
	e.lock()
	defer e.unlock()
	e.statusLine("", &imap.StatusResponse{Type: imap.StatusResponseTypeOK, Text: text})
	return w.end()
}

// ExpungeWriter writes the EXPUNGE responses of an EXPUNGE command.
type ExpungeWriter struct {
	c      *Conn
	silent bool // CLOSE: nothing is sent
}

// WriteExpunge writes "* n EXPUNGE".
func (w *ExpungeWriter) WriteExpunge(seqNum uint32) error {
	w.c.expunged()
	if w.silent {
		return nil
	}
	e := &w.c.enc
	e.lock()
	defer e.unlock()
	e.raw("* ").num(seqNum).raw(" EXPUNGE").crlf()
	return e.err
}

// MoveWriter writes the responses of a MOVE: the COPYUID, then the
// expunges.
type MoveWriter struct{ c *Conn }

// WriteCopyData writes "* OK [COPYUID ...]".
func (w *MoveWriter) WriteCopyData(data *imap.CopyData) error {
	e := &w.c.enc
	e.lock()
	defer e.unlock()
	e.raw("* OK [COPYUID ").num(data.UIDValidity).sp().numSet(data.SourceUIDs).sp().numSet(data.DestUIDs).raw("] Moved UIDs.").crlf()
	return e.err
}

// WriteExpunge writes "* n EXPUNGE".
func (w *MoveWriter) WriteExpunge(seqNum uint32) error {
	w.c.expunged()
	e := &w.c.enc
	e.lock()
	defer e.unlock()
	e.raw("* ").num(seqNum).raw(" EXPUNGE").crlf()
	return e.err
}
