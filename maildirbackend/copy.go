package maildirbackend

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"golang.org/x/sys/unix"

	"github.com/maildir-imapd/maildir-imapd/idle"
)

// Copy copies messages to another mailbox: a hard link under the same key
// where possible (as Dovecot does), a byte copy with the same mtime where
// not. It answers with COPYUID. A COPY that fails leaves nothing in the
// destination.
func (s *Session) Copy(numSet imap.NumSet, dest string) (*imap.CopyData, error) {
	sel, err := s.selected()
	if err != nil {
		return nil, err
	}
	uids, err := sel.resolveChecked(numSet)
	if err != nil {
		return nil, err
	}
	data, _, err := s.copyTo(sel, uids, dest, false)
	return data, err
}

// Move moves messages to another mailbox (RFC 6851). Each file is renamed
// into the destination, so that of two sessions moving the same message
// only one succeeds and the message arrives exactly once; the source
// messages are then forgotten and their EXPUNGEs written. A MOVE that fails
// puts every file back.
func (s *Session) Move(w *imapserver.MoveWriter, numSet imap.NumSet, dest string) error {
	return s.move(w, numSet, dest)
}

func (s *Session) move(w moveWriter, numSet imap.NumSet, dest string) error {
	sel, err := s.selected()
	if err != nil {
		return err
	}
	if sel.readOnly {
		return errReadOnly
	}
	uids, err := sel.resolveChecked(numSet)
	if err != nil {
		return err
	}
	data, done, err := s.copyTo(sel, uids, dest, true)
	if err != nil || data == nil {
		return err // nil data: nothing left to move
	}
	if err := w.WriteCopyData(data); err != nil {
		return err
	}
	seqs, gone, err := sel.f.forgetMoved(sel.view, done)
	if werr := writeExpunged(w, seqs, gone); werr != nil {
		return werr
	}
	return err
}

// placement is one message COPY or MOVE put into the destination.
type placement struct {
	m       *message // in the destination, UID 0 until registered
	srcUID  imap.UID
	srcPath string // the source file; with renamed, where the file came from
	renamed bool   // MOVE renamed the source file (else: a link or a copy)
}

// copyTo places each message in the destination folder and returns COPYUID
// data and the placements; nil data when no message was left to place. On
// failure every file it placed is removed (COPY) or renamed back (MOVE).
func (s *Session) copyTo(sel *selection, uids []imap.UID, dest string, move bool) (*imap.CopyData, []placement, error) {
	d, err := s.acct.acquire(dest)
	if errors.Is(err, errNoSuchMailbox) {
		return nil, nil, errTryCreate
	} else if err != nil {
		return nil, nil, err
	}
	defer s.acct.release(d)

	admitted, err := s.admitTransfer(sel, uids, d.mailbox, move)
	if err != nil {
		return nil, nil, err
	}
	stored := false
	defer func() { admitted(stored) }()

	var (
		done    []placement
		kwAdded bool
	)
	defer func() {
		for _, p := range done {
			d.setPlacing(p.m.key, false)
		}
	}()
	for _, uid := range uids {
		sn, ok := sel.f.snap(uid)
		if !ok {
			continue
		}
		p, added, err := d.place(s.b.keys, sel.f, &sn, move)
		if errors.Is(err, fs.ErrNotExist) {
			continue // expunged or moved away meanwhile
		} else if err != nil {
			d.undo(done)
			if errors.Is(err, errNoSuchMailbox) {
				err = errTryCreate
			}
			return nil, nil, err
		}
		kwAdded = kwAdded || added
		done = append(done, p)
	}
	if len(done) == 0 {
		// Every message was expunged meanwhile: no COPYUID (an empty set
		// cannot be written), and the EXPUNGEs follow in the poll.
		return nil, nil, nil
	}
	d.mu.Lock()
	mboxFlags := d.mailboxFlagsLocked()
	d.mu.Unlock()
	ms := make([]*message, len(done))
	for i, p := range done {
		ms[i] = p.m
	}
	destUIDs, uidValidity, err := d.addFiles(ms, kwAdded, mboxFlags)
	if err != nil {
		d.undo(done)
		if errors.Is(err, errNoSuchMailbox) {
			err = errTryCreate // the destination went meanwhile
		}
		return nil, nil, err
	}
	stored = true
	data := &imap.CopyData{UIDValidity: uidValidity}
	for i, p := range done {
		data.SourceUIDs.AddNum(p.srcUID)
		data.DestUIDs.AddNum(destUIDs[i])
	}
	return data, done, nil
}

// undo takes back the files a failed COPY or MOVE placed: a moved file goes
// back where it came from, a link or copy is removed. A file that the
// destination's sync registered meanwhile is expunged there by its next
// sync.
func (d *folder) undo(done []placement) {
	for i := len(done) - 1; i >= 0; i-- {
		p := done[i]
		target := filepath.Join(d.path, p.m.rel())
		var err error
		if p.renamed {
			err = renameNoReplace(target, p.srcPath)
		} else {
			err = os.Remove(target)
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			d.log.Error("taking back a message of a failed COPY/MOVE", "key", p.m.key, "err", err)
		}
	}
}

// place puts one source message into folder d with its flags translated to
// d's keyword letters: renamed (move), else hard-linked, else copied. It
// returns fs.ErrNotExist when the source message is gone, and
// errTryCreate when d's directory is.
func (d *folder) place(keys *keyGen, src *folder, sn *snapshot, move bool) (placement, bool, error) {
	std, kwNames := splitFlags(sn.flags)
	d.mu.Lock()
	if err := d.checkCurrentLocked(); err != nil {
		d.mu.Unlock()
		return placement{}, false, errTryCreate
	}
	kwMask, added, err := d.keywordMaskLocked(kwNames, true)
	key := sn.key
	if d.byKey[key] != nil {
		key = keys.next(sn.fsize, sn.vsize)
	}
	d.mu.Unlock()
	if err != nil {
		return placement{}, false, err
	}
	nf := flagSet{std: std, kw: kwMask}
	for attempt := 0; attempt < 4; attempt++ {
		m := &message{key: key, fsize: sn.fsize, vsize: sn.vsize, mtime: sn.mtime, inNew: nf.empty()}
		if !m.inNew {
			m.info, m.flags = nf.info(), nf
		}
		from, target := sn.path(), filepath.Join(d.path, m.rel())
		d.setPlacing(key, true)
		if move {
			err = renameNoReplace(from, target)
		} else {
			err = os.Link(from, target)
		}
		switch {
		case err == nil:
			return placement{m: m, srcUID: sn.uid, srcPath: from, renamed: move}, added, nil
		case errors.Is(err, fs.ErrExist):
			d.setPlacing(key, false)
			key = keys.next(sn.fsize, sn.vsize)
			continue
		case errors.Is(err, fs.ErrNotExist):
			// The destination went, or the source was renamed (a flag
			// change by another program: find it), or it went (expunged,
			// or moved by another session: openMessage says so).
			d.setPlacing(key, false)
			d.mu.Lock()
			gone := d.checkCurrentLocked() != nil
			d.mu.Unlock()
			if gone {
				return placement{}, false, errTryCreate
			}
			file, oerr := src.openMessage(sn)
			if oerr != nil {
				return placement{}, false, oerr
			}
			file.Close()
			continue
		}
		// EXDEV, EPERM, EMLINK...: copy the bytes, keep INTERNALDATE; a
		// MOVE removes the source once the copy is registered.
		if err := copyFile(from, d.path, m, keys); err != nil {
			d.setPlacing(key, false)
			return placement{}, false, err
		}
		return placement{m: m, srcUID: sn.uid, srcPath: from}, added, nil
	}
	return placement{}, false, errBusy
}

// renameNoReplace renames from to to unless to exists (fs.ErrExist): a
// plain rename would silently replace another message.
func renameNoReplace(from, to string) error {
	err := unix.Renameat2(unix.AT_FDCWD, from, unix.AT_FDCWD, to, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		// A file system without RENAME_NOREPLACE: link, then unlink.
		if err = os.Link(from, to); err == nil {
			if err := os.Remove(from); err != nil {
				os.Remove(to)
				return err
			}
		}
		return err
	}
	if err != nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
	}
	return nil
}

// forgetMoved drops the moved messages from the source state, unlinking the
// files of those that were copied rather than renamed, and returns the
// sequence numbers they had in view from, highest first.
func (f *folder) forgetMoved(from *idle.View, done []placement) ([]uint32, imap.UIDSet, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	gone := make(map[imap.UID]bool, len(done))
	var firstErr error
	for _, p := range done {
		if !p.renamed {
			if err := os.Remove(p.srcPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
				if firstErr == nil {
					firstErr = mapFSError(fmt.Errorf("remove moved message: %w", err))
				}
				continue
			}
		}
		if f.byUIDLocked(p.srcUID) != nil {
			gone[p.srcUID] = true
		}
	}
	seqs, uids := f.forgetLocked(from, gone)
	return seqs, uids, firstErr
}

// copyFile copies a message file via tmp/ and keeps its mtime.
func copyFile(srcPath, destDir string, m *message, keys *keyGen) error {
	src, err := openMessageFile(srcPath)
	if err != nil {
		return err
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return fmt.Errorf("stat message: %w", err)
	}
	tmp := filepath.Join(destDir, "tmp", keys.next(-1, -1))
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return mapFSError(fmt.Errorf("create copy: %w", err))
	}
	_, err = io.Copy(out, src)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	mtime := fi.ModTime()
	if err == nil {
		err = os.Chtimes(tmp, time.Now(), mtime)
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(destDir, m.rel()))
	}
	if err != nil {
		os.Remove(tmp)
		return mapFSError(fmt.Errorf("copy message: %w", err))
	}
	m.mtime = mtime.Unix()
	return nil
}
