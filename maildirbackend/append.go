package maildirbackend

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/idle"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/imapmsg"
)

// Append stores a message the way Dovecot does: binary MIME parts in
// base64 (see [imapmsg.ConvertBinaryParts]), written in tmp/ with LF line
// endings, fsynced, given its INTERNALDATE as mtime, and renamed into
// new/ (no flags) or cur/<key>:2,<flags>. It answers with APPENDUID.
func (s *Session) Append(mailbox string, r imap.LiteralReader, options *imap.AppendOptions) (*imap.AppendData, error) {
	if r.Size() > int64(s.b.opts.AppendLimit) {
		return nil, errTooBig
	}
	if err := checkClientFlags(options.Flags); err != nil {
		return nil, err
	}
	f, err := s.acct.acquire(mailbox)
	if errors.Is(err, errNoSuchMailbox) {
		return nil, errTryCreate
	} else if err != nil {
		return nil, err
	}
	defer s.acct.release(f)

	raw, err := io.ReadAll(io.LimitReader(r, int64(s.b.opts.AppendLimit)+1))
	if err != nil {
		return nil, fmt.Errorf("read literal: %w", err)
	}
	if int64(len(raw)) > int64(s.b.opts.AppendLimit) {
		return nil, errTooBig
	}
	content := bytes.ReplaceAll(imapmsg.ConvertBinaryParts(raw), []byte("\r\n"), []byte("\n"))
	vsize := int64(len(content)) + int64(countBareLF(content))

	done, err := s.acct.quota().reserve(f.mailbox, usage{Bytes: int64(len(content)), Count: 1}, false)
	if err != nil {
		return nil, err
	}
	stored := false
	defer func() { done(stored) }()

	std, kwNames := splitFlags(options.Flags)
	f.mu.Lock()
	kwMask, added, err := f.clientKeywordMaskLocked(kwNames, true)
	mboxFlags := f.mailboxFlagsLocked()
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	nf := flagSet{std: std, kw: kwMask}
	mtime := options.Time
	if mtime.IsZero() {
		mtime = time.Now()
	}
	m, err := f.writeNew(s.b.keys, content, vsize, nf, mtime)
	if err != nil {
		return nil, err
	}
	uids, uidValidity, err := f.addFiles([]*message{m}, added, mboxFlags)
	if err != nil {
		// A NO means the message is not there, now or after a restart.
		f.undo([]placement{{m: m}})
		if errors.Is(err, errNoSuchMailbox) {
			err = errTryCreate // the folder went meanwhile
		}
		return nil, err
	}
	stored = true
	return &imap.AppendData{UIDValidity: uidValidity, UID: uids[0]}, nil
}

// countBareLF counts LF bytes not preceded by CR: what CRLF output adds.
func countBareLF(b []byte) int {
	n := bytes.Count(b, []byte("\n")) - bytes.Count(b, []byte("\r\n"))
	return n
}

// writeNew writes content as a new message file in tmp/, fsyncs it, sets its
// mtime and renames it into new/ or cur/. It returns the message, without UID.
func (f *folder) writeNew(keys *keyGen, content []byte, vsize int64, nf flagSet, mtime time.Time) (*message, error) {
	key := keys.next(int64(len(content)), vsize)
	tmp := filepath.Join(f.path, "tmp", key)
	file, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, mapFSError(fmt.Errorf("create message: %w", err))
	}
	_, err = file.Write(content)
	if err == nil {
		err = file.Sync()
	}
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chtimes(tmp, mtime, mtime)
	}
	if err != nil {
		os.Remove(tmp)
		return nil, mapFSError(fmt.Errorf("write message: %w", err))
	}
	m := &message{key: key, fsize: int64(len(content)), vsize: vsize, mtime: mtime.Unix(), inNew: nf.empty()}
	if !m.inNew {
		m.info, m.flags = nf.info(), nf
	}
	if err := os.Rename(tmp, filepath.Join(f.path, m.rel())); err != nil {
		os.Remove(tmp)
		return nil, mapFSError(fmt.Errorf("deliver message: %w", err))
	}
	return m, nil
}

// addFiles registers message files just placed in the folder and returns
// their UIDs in the order given, and the folder's UIDVALIDITY. The watcher
// may have registered some already; they keep the UID it gave.
func (f *folder) addFiles(ms []*message, kwAdded bool, mboxFlags []imap.Flag) ([]imap.UID, uint32, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.takeDeliveriesLocked(ms); err != nil {
		return nil, 0, err
	}
	var cands []*message
	for _, m := range ms {
		if f.byKey[m.key] == nil {
			cands = append(cands, m)
		}
	}
	var change idle.Change
	if len(cands) > 0 {
		// COPY and MOVE number the copies in the order of their sources
		// (RFC 4315's COPYUID pairs them), as Dovecot does, not in the
		// order of their file names.
		added, err := f.assignInOrderLocked(cands, false)
		if errors.Is(err, errUIDGap) {
			// Another process numbered files we have not seen yet: a
			// full sync takes them (it leaves the files being placed),
			// then ours follow in order.
			if err = f.syncLocked(); err != nil {
				return nil, 0, err
			}
			cands = slices.DeleteFunc(cands, func(m *message) bool { return f.byKey[m.key] != nil })
			added = nil
			if len(cands) > 0 {
				added, err = f.assignInOrderLocked(cands, true)
			}
		}
		if err != nil {
			return nil, 0, err
		}
		change.Added = added
	}
	if kwAdded {
		change.MailboxFlags = mboxFlags
	}
	f.applyLocked(change, nil)
	uids := make([]imap.UID, len(ms))
	for i, m := range ms {
		if known := f.byKey[m.key]; known != nil {
			uids[i] = known.uid
		}
	}
	return uids, f.uidValidity, nil
}

// assignInOrderLocked is assignAndAddLocked for addFiles: new UIDs in the
// order of cands.
func (f *folder) assignInOrderLocked(cands []*message, complete bool) ([]imap.UID, error) {
	f.inOrder = true
	defer func() { f.inOrder = false }()
	return f.assignAndAddLocked(cands, complete)
}

// takeDeliveriesLocked numbers the files other programs delivered into new/
// that the folder has not taken yet, ms (the caller's own files) excepted,
// so that a delivery finished before an APPEND, COPY or MOVE gets a lower
// UID than its messages (RFC 3501 2.3.1.1), whether or not the watcher has
// read its event yet. Dovecot's sync on the STATUS or SELECT a client sends
// first does the same.
func (f *folder) takeDeliveriesLocked(ms []*message) error {
	if !f.loaded || !f.currentLocked() {
		return nil
	}
	if err := f.adoptUIDListLocked(); err != nil {
		return err
	}
	names, err := readDirNames(filepath.Join(f.path, "new"))
	if err != nil {
		if missingDir(err) {
			return nil // removed meanwhile: assigning reports it
		}
		return mapFSError(err)
	}
	own := make(map[string]bool, len(ms))
	for _, m := range ms {
		own[m.key] = true
	}
	entries := make(map[string]entry)
	for _, name := range names {
		if !validMessageName(name) {
			continue
		}
		key, info := splitName(name)
		if f.byKey[key] == nil && !own[key] {
			entries[key] = entry{inNew: true, info: info}
		}
	}
	if len(entries) == 0 {
		return nil
	}
	return f.reconcileLocked(entries, false)
}

// setPlacing marks (on) or unmarks the key of a file COPY or MOVE is
// placing in the folder. Syncs leave marked files to addFiles, which
// numbers a COPY's files in the order of their sources, as Dovecot does; a
// sync numbers the files it finds in file-name order.
func (f *folder) setPlacing(key string, on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !on {
		delete(f.placing, key)
		return
	}
	if f.placing == nil {
		f.placing = make(map[string]bool)
	}
	f.placing[key] = true
}

// CancelAppend implements imapd.SessionMultiAppend: it removes the messages
// an APPEND of several messages (MULTIAPPEND, RFC 3502) stored before one
// of them failed, so that none of them stays.
func (s *Session) CancelAppend(mailbox string, uids []imap.UID) error {
	f, err := s.acct.acquire(mailbox)
	if err != nil {
		return err
	}
	defer s.acct.release(f)
	cancel := make(map[imap.UID]bool, len(uids))
	for _, uid := range uids {
		cancel[uid] = true
	}
	_, freed, err := f.expunge(nil, func(m *message) bool { return cancel[m.uid] })
	s.acct.quota().record(f.mailbox, freed.Negate())
	return err
}
