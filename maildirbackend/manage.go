package maildirbackend

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/safefile"

	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/dovecot"
)

// Errors of mailbox management the client sees.
var (
	errRenameIntoSelf = &imap.Error{
		Type: imap.StatusResponseTypeNo,
		Code: imap.ResponseCodeCannot,
		Text: "Cannot rename a mailbox into its own hierarchy",
	}
	errUseAttr = &imap.Error{
		Type: imap.StatusResponseTypeNo,
		Code: imap.ResponseCode("USEATTR"),
		Text: "Unsupported special-use attribute for this mailbox",
	}
)

// trashedName is where Dovecot moves a folder before removing it, so that a
// crash never leaves a half-deleted folder visible (a name Maildir++ cannot
// use as a folder).
const trashedName = "..DOVECOT-TRASHED"

// specialUseName is our file in the root that keeps the SPECIAL-USE
// attributes clients set with CREATE-SPECIAL-USE: lines "<attr> <mailbox>",
// the mailbox in UTF-8 without the namespace prefix.
const specialUseName = "maildir-imapd-specialuse"

// Create creates a Maildir++ folder: the folder directory (the commit
// point), cur/, new/, tmp/ and an empty maildirfolder file. Parents are not
// created: Maildir++ has no real nesting. A trailing delimiter is ignored
// (RFC 3501 section 6.3.3).
func (s *Session) Create(name string, options *imap.CreateOptions) error {
	name, err := s.acct.names.canonical(strings.TrimSuffix(name, string(Delim)))
	if err != nil {
		return err
	}
	if name == inboxName {
		return errMailboxExists
	}
	path, err := s.acct.names.path(name)
	if err != nil {
		return err
	}
	var attrs []imap.MailboxAttr
	if options != nil && len(options.SpecialUse) > 0 {
		if attrs, err = s.checkSpecialUse(name, options.SpecialUse); err != nil {
			return err
		}
	}
	if err := s.checkUnlisted(name); err != nil {
		return err
	}
	if err := createFolder(path); err != nil {
		return err
	}
	if len(attrs) > 0 {
		err := s.editSpecialUse(func(es []specialUse) []specialUse {
			rel := s.relName(name)
			for _, a := range attrs {
				es = append(es, specialUse{attr: a, rel: rel})
			}
			return es
		})
		if err != nil {
			return fmt.Errorf("store special-use: %w", err)
		}
	}
	s.acct.log.Info("mailbox created", "user", s.user, "mailbox", name)
	return nil
}

// checkUnlisted returns errMailboxExists when a folder of the root already
// has mailbox name under another spelling on disk (UTF-8 next to modified
// UTF-7, as Courier and Dovecot write them).
func (s *Session) checkUnlisted(name string) error {
	dirs, err := s.folders()
	if err != nil {
		return err
	}
	if dirs[name] != "" {
		return errMailboxExists
	}
	return nil
}

// folderPath returns the directory of an existing folder: where names.path
// puts it, or else under another spelling on disk. Missing folders give
// errNoSuchMailbox.
func (s *Session) folderPath(name string) (string, error) {
	path, err := s.acct.names.path(name)
	if err != nil {
		return "", err
	}
	if fi, err := os.Lstat(path); err == nil && fi.IsDir() {
		return path, nil
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", mapFSError(fmt.Errorf("stat folder: %w", err))
	}
	dirs, err := s.folders()
	if err != nil {
		return "", err
	}
	if dir := dirs[name]; dir != "" {
		return dir, nil
	}
	return "", errNoSuchMailbox
}

// createFolder makes a folder directory and its contents. A folder that
// already exists gives errMailboxExists; on failure nothing is left behind.
func createFolder(path string) error {
	if err := os.Mkdir(path, 0o700); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return errMailboxExists
		}
		return mapFSError(fmt.Errorf("create folder: %w", err))
	}
	err := func() error {
		for _, sub := range [...]string{"cur", "new", "tmp"} {
			if err := os.Mkdir(filepath.Join(path, sub), 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
		}
		f, err := os.OpenFile(filepath.Join(path, "maildirfolder"), os.O_WRONLY|os.O_CREATE, 0o600)
		if err != nil {
			return err
		}
		return f.Close()
	}()
	if err != nil {
		_ = os.RemoveAll(path)
		return mapFSError(fmt.Errorf("create folder: %w", err))
	}
	return nil
}

// checkSpecialUse validates CREATE-SPECIAL-USE attributes (RFC 6154
// section 3): each must be a known use that the configuration does not
// give to this mailbox under another attribute. It returns the attributes
// to store (those the configuration does not already give).
func (s *Session) checkSpecialUse(name string, attrs []imap.MailboxAttr) ([]imap.MailboxAttr, error) {
	conf, configured := s.b.opts.SpecialUse[name]
	var store []imap.MailboxAttr
	for _, a := range attrs {
		known, ok := knownSpecialUse(a)
		if !ok {
			return nil, errUseAttr
		}
		if configured {
			if !strings.EqualFold(string(conf), string(known)) {
				return nil, errUseAttr
			}
			continue
		}
		if !containsAttr(store, known) {
			store = append(store, known)
		}
	}
	return store, nil
}

// knownSpecialUse returns the canonical spelling of a SPECIAL-USE attribute.
func knownSpecialUse(a imap.MailboxAttr) (imap.MailboxAttr, bool) {
	for _, k := range [...]imap.MailboxAttr{
		imap.MailboxAttrAll, imap.MailboxAttrArchive, imap.MailboxAttrDrafts,
		imap.MailboxAttrFlagged, imap.MailboxAttrJunk, imap.MailboxAttrSent,
		imap.MailboxAttrTrash, imap.MailboxAttrImportant,
	} {
		if strings.EqualFold(string(a), string(k)) {
			return k, true
		}
	}
	return "", false
}

// Delete removes a folder the way Dovecot does: it is renamed to
// ..DOVECOT-TRASHED, then removed, so that it vanishes at once. Child
// folders are separate directories and stay; subscriptions are kept.
// Sessions of this process that have it open see every message expunged.
func (s *Session) Delete(name string) error {
	name, err := s.acct.names.canonical(name)
	if err != nil {
		return err
	}
	if name == inboxName {
		return errInboxDelete
	}
	path, err := s.folderPath(name)
	if err != nil {
		return err
	}
	trash := filepath.Join(s.acct.root, trashedName)
	for try := 0; ; try++ {
		if err := os.RemoveAll(trash); err != nil {
			return mapFSError(fmt.Errorf("remove old trashed folder: %w", err))
		}
		err := os.Rename(path, trash)
		if err == nil {
			break
		}
		if errors.Is(err, fs.ErrNotExist) {
			return errNoSuchMailbox // deleted meanwhile
		}
		// Another delete refilled the trash between RemoveAll and Rename.
		if try >= 4 || !isDirNotEmpty(err) {
			return mapFSError(fmt.Errorf("trash folder: %w", err))
		}
	}
	s.acct.retire(path, false)
	s.acct.removeControl(path)
	s.acct.quotaDeleted(name, trash)
	if err := os.RemoveAll(trash); err != nil {
		// The folder is already gone from the tree; the next delete
		// removes the rest.
		s.acct.log.Warn("removing trashed folder", "mailbox", name, "err", err)
	}
	s.moveSpecialUse(name, "", nil)
	s.acct.log.Info("mailbox deleted", "user", s.user, "mailbox", name)
	return nil
}

func isDirNotEmpty(err error) bool {
	var le *os.LinkError
	if !errors.As(err, &le) {
		return false
	}
	return errors.Is(le.Err, fs.ErrExist) || errors.Is(le.Err, syscall.ENOTEMPTY)
}

// editSubscriptions reads, changes and writes the subscriptions under the
// account's lock; edit reports whether it changed anything.
func (s *Session) editSubscriptions(edit func([]string) ([]string, bool)) error {
	s.acct.subMu.Lock()
	defer s.acct.subMu.Unlock()
	subs, err := s.readSubscriptions()
	if err != nil {
		return err
	}
	subs, changed := edit(subs)
	if !changed {
		return nil
	}
	return s.writeSubscriptions(subs)
}

// Subscribe adds a mailbox to the subscriptions. Like Dovecot, it accepts
// mailboxes that do not exist (RFC 3501 section 6.3.6 allows it).
func (s *Session) Subscribe(name string) error {
	name, err := s.subscriptionName(name)
	if err != nil {
		return err
	}
	return s.editSubscriptions(func(subs []string) ([]string, bool) {
		if slices.Contains(subs, name) {
			return subs, false
		}
		return append(subs, name), true
	})
}

// Unsubscribe removes a mailbox from the subscriptions; a name that is not
// subscribed is not an error.
func (s *Session) Unsubscribe(name string) error {
	name, err := s.subscriptionName(name)
	if err != nil {
		return err
	}
	return s.editSubscriptions(func(subs []string) ([]string, bool) {
		kept := slices.DeleteFunc(slices.Clone(subs), func(n string) bool { return n == name })
		return kept, len(kept) != len(subs)
	})
}

// subscriptionName canonicalises and validates a name to subscribe.
func (s *Session) subscriptionName(name string) (string, error) {
	name, err := s.acct.names.canonical(strings.TrimSuffix(name, string(Delim)))
	if err != nil {
		return "", err
	}
	if _, err := s.acct.names.folderDir(name); err != nil {
		return "", err
	}
	return name, nil
}

// writeSubscriptions replaces the subscriptions file. The caller holds
// account.subMu.
func (s *Session) writeSubscriptions(names []string) error {
	rels := make([]string, len(names))
	for i, n := range names {
		rels[i] = s.relName(n)
	}
	if err := dovecot.WriteSubscriptions(s.acct.ctlRoot(), rels); err != nil {
		if errors.Is(err, dovecot.ErrLockTimeout) {
			return errBusy
		}
		return mapFSError(fmt.Errorf("write subscriptions: %w", err))
	}
	return nil
}

// renameInbox moves every message of INBOX into the new folder newName
// (RFC 3501 section 6.3.5) under the same file names, keeping their UIDs and
// keywords: the folder gets copies of INBOX's dovecot-uidlist and
// dovecot-keywords. INBOX keeps its UIDVALIDITY and next UID with only the
// records of messages still there, so that no UID is ever reused. Messages
// are renamed one by one, each living in INBOX or in the new folder at any
// moment: nothing is lost if this stops half-way.
func (s *Session) renameInbox(newName, newPath string) error {
	root := s.acct.root
	ctlRoot, ctlNew := s.acct.names.control(root), s.acct.names.control(newPath)
	if err := s.checkUnlisted(newName); err != nil {
		return err
	}
	if err := createFolder(newPath); err != nil {
		return err
	}
	if err := os.MkdirAll(ctlNew, 0o700); err != nil {
		return mapFSError(fmt.Errorf("create control directory: %w", err))
	}
	unlockIn, err := lockUIDList(ctlRoot)
	if err != nil {
		return err
	}
	defer unlockIn(s)
	unlockNew, err := lockUIDList(ctlNew)
	if err != nil {
		return err
	}
	defer unlockNew(s)

	list, err := dovecot.ReadUIDList(filepath.Join(ctlRoot, uidlistName))
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			s.acct.log.Warn("RENAME INBOX: unreadable dovecot-uidlist, messages get new UIDs", "err", err)
		}
		list = nil
	}
	if err := copyFileAtomic(filepath.Join(ctlRoot, keywordsName), filepath.Join(ctlNew, keywordsName)); err != nil {
		return mapFSError(fmt.Errorf("copy keywords: %w", err))
	}
	if list != nil {
		cp := *list
		cp.GUID = ""
		if err := dovecot.WriteUIDList(ctlNew, &cp); err != nil {
			return mapFSError(fmt.Errorf("copy uidlist: %w", err))
		}
	}
	moveErr := moveMessages(root, newPath)
	if list != nil {
		left, err := readEntries(root)
		if err != nil {
			return mapFSError(err)
		}
		rest := &dovecot.UIDList{Version: 3, UIDValidity: list.UIDValidity, NextUID: list.Next(), GUID: list.GUID, Extra: list.Extra}
		for _, r := range list.Records {
			if _, ok := left[r.Key]; ok {
				rest.Records = append(rest.Records, r)
			}
		}
		if err := dovecot.WriteUIDList(ctlRoot, rest); err != nil {
			return mapFSError(fmt.Errorf("rewrite INBOX uidlist: %w", err))
		}
	}
	if moveErr != nil {
		return mapFSError(moveErr)
	}
	s.acct.log.Info("INBOX renamed", "user", s.user, "to", newName)
	return nil
}

// keywordsName is Dovecot's per-folder keyword file.
const keywordsName = "dovecot-keywords"

// lockUIDList takes dir's dovecot-uidlist.lock and returns its release.
func lockUIDList(dir string) (func(*Session), error) {
	lock, err := dovecot.LockUIDList(dir, lockTimeout)
	if errors.Is(err, dovecot.ErrLockTimeout) {
		return nil, errBusy
	} else if err != nil {
		return nil, mapFSError(fmt.Errorf("lock uidlist: %w", err))
	}
	return func(s *Session) {
		if err := lock.Unlock(); err != nil {
			s.acct.log.Warn("uidlist lock", "err", err)
		}
	}, nil
}

// moveMessages renames every message file of from's new/ and cur/ into the
// same subdirectory of to. Files renamed by others meanwhile (new/ to cur/,
// flag changes) are picked up by another pass.
func moveMessages(from, to string) error {
	for pass := 0; pass < 4; pass++ {
		missed := false
		for _, sub := range [...]string{"new", "cur"} {
			names, err := readDirNames(filepath.Join(from, sub))
			if err != nil {
				return err
			}
			for _, n := range names {
				if !validMessageName(n) {
					continue
				}
				err := os.Rename(filepath.Join(from, sub, n), filepath.Join(to, sub, n))
				if errors.Is(err, fs.ErrNotExist) {
					missed = true
				} else if err != nil {
					return fmt.Errorf("move message: %w", err)
				}
			}
		}
		if !missed {
			return nil
		}
	}
	return nil
}

// copyFileAtomic copies src to dst through a temporary file and a rename.
// A missing src copies nothing.
func copyFileAtomic(src, dst string) error {
	b, err := safefile.ReadFile(src, 16<<20)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	return writeFileAtomic(dst, b)
}

// writeFileAtomic replaces dst with data through a temporary file in the
// same directory, fsynced and renamed.
func writeFileAtomic(dst string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(dst), filepath.Base(dst)+".tmp-*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), dst)
	}
	if err != nil {
		_ = os.Remove(f.Name())
	}
	return err
}
