package maildirbackend

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/maildir-imapd/maildir-imapd/idle"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/dovecot"
)

// Store changes flags and answers with FETCH FLAGS unless .SILENT.
func (s *Session) Store(w *imapserver.FetchWriter, numSet imap.NumSet, flags *imap.StoreFlags, options *imap.StoreOptions) error {
	return s.store(goFetchWriter{w}, numSet, flags, options)
}

func (s *Session) store(w fetchWriter, numSet imap.NumSet, flags *imap.StoreFlags, options *imap.StoreOptions) error {
	_, err := s.storeCond(w, numSet, flags, nil)
	return err
}

// storeCond is STORE with RFC 7162's UNCHANGEDSINCE (nil: none): it
// returns the numbers, of numSet's kind, of the messages it left alone
// because their MODSEQ was above it. A CONDSTORE client's FETCH responses
// carry MODSEQ.
func (s *Session) storeCond(w fetchWriter, numSet imap.NumSet, flags *imap.StoreFlags, unchangedSince *uint64) (imap.NumSet, error) {
	sel, err := s.selected()
	if err != nil {
		return nil, err
	}
	if err := checkClientFlags(flags.Flags); err != nil {
		return nil, err
	}
	if sel.readOnly {
		return nil, errReadOnly
	}
	uids, err := sel.resolveChecked(numSet)
	if err != nil {
		return nil, err
	}
	out, err := sel.f.storeIf(sel, uids, flags, unchangedSince)
	if err != nil {
		return nil, err
	}
	modified := sel.numsOf(out.modified, numSet)
	if flags.Silent || out.flags == nil {
		return modified, nil // nil: new keywords, the FETCHes follow FLAGS in the poll
	}
	for _, uid := range uids {
		seq := sel.view.SeqNum(uid)
		fl, ok := out.flags[uid]
		if seq == 0 || !ok {
			continue
		}
		rw := w.CreateMessage(seq)
		rw.WriteUID(uid)
		rw.WriteFlags(sel.view.ShowFlags(uid, fl))
		if s.condStore {
			writeModSeq(rw, out.modSeqs[uid])
		}
		if err := rw.Close(); err != nil {
			return nil, err
		}
	}
	return modified, nil
}

// splitFlags separates system flags (as bits) from keywords. \Recent and
// unknown system flags cannot be stored and are dropped (STORE and APPEND
// refuse them first: checkClientFlags).
func splitFlags(flags []imap.Flag) (std uint8, keywords []string) {
	for _, fl := range flags {
		if bit := stdFlag(fl); bit != 0 {
			std |= bit
		} else if !strings.HasPrefix(string(fl), `\`) && fl != "" {
			keywords = append(keywords, string(fl))
		}
	}
	return std, keywords
}

// store applies a flag change to messages by renaming their files, and
// returns the resulting flags of every message still present, as sel sees
// them (\Recent included). Other views are told; sel's view (from) is not (it answers with its own FETCH), unless the change
// created keywords: then from is told too and the result is nil.
func (f *folder) store(sel *selection, uids []imap.UID, sf *imap.StoreFlags) (map[imap.UID][]imap.Flag, error) {
	out, err := f.storeIf(sel, uids, sf, nil)
	if err != nil {
		return nil, err
	}
	return out.flags, nil
}

// storeOutcome is what a STORE did: the flags of each message it answers
// for (nil: new keywords, the poll answers), their MODSEQs, and the UIDs
// UNCHANGEDSINCE kept from changing.
type storeOutcome struct {
	flags    map[imap.UID][]imap.Flag
	modSeqs  map[imap.UID]uint64
	modified []imap.UID
}

// storeIf is store with UNCHANGEDSINCE (nil: none).
func (f *folder) storeIf(sel *selection, uids []imap.UID, sf *imap.StoreFlags, unchangedSince *uint64) (*storeOutcome, error) {
	from := sel.view
	std, kwNames := splitFlags(sf.Flags)
	f.mu.Lock()
	defer f.mu.Unlock()

	var change idle.Change
	kwMask, added, err := f.clientKeywordMaskLocked(kwNames, sf.Op != imap.StoreFlagsDel)
	if err != nil {
		return nil, err
	}
	if added {
		// RFC 3501 7.2.6: FLAGS must announce a keyword before a FETCH
		// shows it, and go-imap's STORE cannot write FLAGS. So the
		// storing session gets its FETCHes through the poll that follows,
		// after the FLAGS, like every other session.
		change.MailboxFlags = f.mailboxFlagsLocked()
		from = nil
	}
	res := make(map[imap.UID][]imap.Flag, len(uids))
	out := &storeOutcome{}
	for _, uid := range uids {
		m := f.byUIDLocked(uid)
		if m == nil {
			continue
		}
		if unchangedSince != nil && m.modseq > *unchangedSince {
			out.modified = append(out.modified, uid)
			continue
		}
		nf := m.flags
		switch sf.Op {
		case imap.StoreFlagsSet:
			nf.std, nf.kw = std, kwMask
		case imap.StoreFlagsAdd:
			nf.std |= std
			nf.kw |= kwMask
		case imap.StoreFlagsDel:
			nf.std &^= std
			nf.kw &^= kwMask
		}
		if nf != m.flags {
			if err := f.renameFlagsLocked(m, nf); errors.Is(err, fs.ErrNotExist) {
				continue // expunged meanwhile
			} else if err != nil {
				return nil, err
			}
			if change.Flags == nil {
				change.Flags = make(map[imap.UID][]imap.Flag)
			}
			change.Flags[uid] = f.imapFlagsLocked(m)
		}
		res[uid] = f.imapFlagsLocked(m)
		if sel.recent[uid] {
			res[uid] = withRecent(res[uid])
		}
	}
	f.applyLocked(change, from)
	if added {
		return out, nil
	}
	out.flags = res
	out.modSeqs = make(map[imap.UID]uint64, len(res))
	for uid := range res {
		if m := f.byUIDLocked(uid); m != nil {
			out.modSeqs[uid] = m.modseq
		}
	}
	return out, nil
}

// renameFlagsLocked gives a message new flags: a rename to cur/<key>:2,<flags>.
// When the file moved meanwhile it syncs and retries once.
func (f *folder) renameFlagsLocked(m *message, nf flagSet) error {
	for attempt := 0; ; attempt++ {
		oldPath := filepath.Join(f.path, m.rel())
		newName := m.key + nf.info()
		err := os.Rename(oldPath, filepath.Join(f.path, "cur", newName))
		if err == nil {
			m.inNew, m.info, m.flags = false, nf.info(), nf
			return nil
		}
		if !errors.Is(err, fs.ErrNotExist) || attempt > 0 {
			return mapFSError(fmt.Errorf("rename message: %w", err))
		}
		uid := m.uid
		if err := f.syncLocked(); err != nil {
			return err
		}
		if m = f.byUIDLocked(uid); m == nil {
			return fs.ErrNotExist
		}
		// Apply the requested change to the flags found on disk.
		nf.other, nf.extra = m.flags.other, m.flags.extra
	}
}

// keywordMaskLocked maps keyword names to the folder's letters. With add,
// names without a letter get one in dovecot-keywords (under the uidlist lock,
// as Dovecot requires); otherwise they are ignored.
func (f *folder) keywordMaskLocked(names []string, add bool) (mask uint32, added bool, err error) {
	var missing []string
	for _, name := range names {
		if l, ok := f.keywords.Letter(name); ok {
			mask |= 1 << (l - 'a')
		} else if add {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return mask, false, nil
	}
	lock, err := dovecot.LockUIDList(f.ctl, f.lockWaitLocked())
	if errors.Is(err, dovecot.ErrLockTimeout) {
		return 0, false, errBusy
	} else if err != nil {
		return 0, false, mapFSError(fmt.Errorf("lock uidlist: %w", err))
	}
	defer lock.Unlock()
	kw, err := dovecot.ReadKeywords(f.ctl)
	if err != nil {
		return 0, false, fmt.Errorf("read keywords: %w", err)
	}
	changed := false
	for _, name := range missing {
		l, ok, ch := kw.Add(name)
		if !ok {
			return 0, false, errTooManyKeywords
		}
		changed = changed || ch
		mask |= 1 << (l - 'a')
	}
	if changed {
		if err := dovecot.WriteKeywords(f.ctl, kw); err != nil {
			return 0, false, mapFSError(fmt.Errorf("write keywords: %w", err))
		}
	}
	f.keywords = kw
	f.kwStamp = stampOf(filepath.Join(f.ctl, keywordsName))
	return mask, true, nil
}
