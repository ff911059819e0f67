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
)

// Copy copies messages to another mailbox: a hard link under the same key
// where possible (as Dovecot does), a byte copy with the same mtime where
// not. It answers with COPYUID.
func (s *Session) Copy(numSet imap.NumSet, dest string) (*imap.CopyData, error) {
	sel, err := s.selected()
	if err != nil {
		return nil, err
	}
	uids, err := sel.resolveChecked(numSet)
	if err != nil {
		return nil, err
	}
	data, _, err := s.copyTo(sel, uids, dest)
	return data, err
}

// Move moves messages to another mailbox (RFC 6851): a copy, then the
// source files are removed and their EXPUNGEs written.
func (s *Session) Move(w *imapserver.MoveWriter, numSet imap.NumSet, dest string) error {
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
	data, copied, err := s.copyTo(sel, uids, dest)
	if err != nil || data == nil {
		return err // nil data: nothing left to move
	}
	if err := w.WriteCopyData(data); err != nil {
		return err
	}
	seqs, err := sel.f.expunge(sel.view, func(m *message) bool { return copied[m.uid] })
	for _, seq := range seqs {
		if werr := w.WriteExpunge(seq); werr != nil {
			return werr
		}
	}
	return err
}

// copyTo places a copy of each message in the destination folder and returns
// COPYUID data and the source UIDs actually copied; nil data when none was.
func (s *Session) copyTo(sel *selection, uids []imap.UID, dest string) (*imap.CopyData, map[imap.UID]bool, error) {
	d, err := s.acct.acquire(dest)
	if errors.Is(err, errNoSuchMailbox) {
		return nil, nil, errTryCreate
	} else if err != nil {
		return nil, nil, err
	}
	defer s.acct.release(d)

	var (
		placed  []*message
		srcUIDs []imap.UID
		kwAdded bool
	)
	for _, uid := range uids {
		sn, ok := sel.f.snap(uid)
		if !ok {
			continue
		}
		m, added, err := d.placeCopy(s.b.keys, sel.f, &sn)
		if errors.Is(err, fs.ErrNotExist) {
			continue // expunged meanwhile
		} else if err != nil {
			return nil, nil, err
		}
		kwAdded = kwAdded || added
		placed = append(placed, m)
		srcUIDs = append(srcUIDs, uid)
	}
	d.mu.Lock()
	mboxFlags := d.mailboxFlagsLocked()
	d.mu.Unlock()
	destUIDs, uidValidity, err := d.addFiles(placed, kwAdded, mboxFlags)
	if err != nil {
		return nil, nil, err
	}
	if len(srcUIDs) == 0 {
		// Every message was expunged meanwhile: no COPYUID (an empty set
		// cannot be written), and the EXPUNGEs follow in the poll.
		return nil, nil, nil
	}
	data := &imap.CopyData{UIDValidity: uidValidity}
	copied := make(map[imap.UID]bool, len(srcUIDs))
	for i, uid := range srcUIDs {
		data.SourceUIDs.AddNum(uid)
		data.DestUIDs.AddNum(destUIDs[i])
		copied[uid] = true
	}
	return data, copied, nil
}

// placeCopy links (or copies) one source message into folder d with its
// flags translated to d's keyword letters.
func (d *folder) placeCopy(keys *keyGen, src *folder, sn *snapshot) (*message, bool, error) {
	std, kwNames := splitFlags(sn.flags)
	d.mu.Lock()
	defer d.mu.Unlock()
	kwMask, added, err := d.keywordMaskLocked(kwNames, true)
	if err != nil {
		return nil, false, err
	}
	nf := flagSet{std: std, kw: kwMask}
	key := sn.key
	if d.byKey[key] != nil {
		key = keys.next(sn.fsize, sn.vsize)
	}
	for attempt := 0; attempt < 3; attempt++ {
		m := &message{key: key, fsize: sn.fsize, vsize: sn.vsize, mtime: sn.mtime, inNew: nf.empty(), parsed: sn.parsed}
		if !m.inNew {
			m.info, m.flags = nf.info(), nf
		}
		target := filepath.Join(d.path, m.rel())
		err := os.Link(sn.path(), target)
		switch {
		case err == nil:
			return m, added, nil
		case errors.Is(err, fs.ErrExist):
			key = keys.next(sn.fsize, sn.vsize)
			continue
		case errors.Is(err, fs.ErrNotExist):
			// The source moved (flag change by another program): find it.
			file, oerr := src.openMessage(sn)
			if oerr != nil {
				return nil, false, oerr
			}
			file.Close()
			continue
		}
		// EXDEV, EPERM, EMLINK...: copy the bytes, keep INTERNALDATE.
		if err := copyFile(sn.path(), d.path, m, keys); err != nil {
			return nil, false, err
		}
		return m, added, nil
	}
	return nil, false, fmt.Errorf("copy message: no free name for key")
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
