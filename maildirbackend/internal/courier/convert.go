package courier

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/dovecot"
)

// file is one message file of a folder being converted.
type file struct {
	dir  string // "new" or "cur"
	name string // the directory entry
	key  string // name up to the first ':'
	info string // from the first ':' on, or ""
	uid  uint32
}

// Convert imports the Courier-IMAP state of the folder directory folderDir
// (the Maildir root for INBOX) into Dovecot's control files, and reports
// whether it did. It does nothing unless folderDir has a courierimapuiddb
// and no dovecot-uidlist. Under dovecot-uidlist.lock it:
//
//  1. keeps Courier's UIDVALIDITY and the UID of every key in the uiddb;
//  2. gives the files without a uiddb line UIDs from Courier's next UID
//     upward, in Courier's order ([CompareNames]), as Courier would have;
//  3. adds Courier's keywords ([ReadKeywords]) to dovecot-keywords and puts
//     their letters into the file names (cur/<key>:2,<flags and letters in
//     ASCII order>; a file in new/ with keywords moves to cur/). Keywords
//     that are not valid IMAP atoms, or beyond the 26 letters, are dropped;
//  4. writes dovecot-uidlist (version 3, N = the next UID) last.
//
// A crash before step 4 leaves no uidlist, so the next call converts again;
// the renames of step 3 are recomputed from Courier's files and are
// idempotent. Courier's own files are only read. A corrupt uiddb gives an
// error wrapping [ErrCorrupt] and converts nothing: the caller should log
// it and carry on, assigning new UIDs as Courier itself would have.
func Convert(folderDir string) (converted bool, err error) {
	uidlistPath := filepath.Join(folderDir, dovecot.UIDListName)
	uiddbPath := filepath.Join(folderDir, UIDDBName)
	if done, err := exists(uidlistPath); err != nil || done {
		return false, err
	}
	if has, err := exists(uiddbPath); err != nil || !has {
		return false, err
	}
	lock, err := dovecot.LockUIDList(folderDir, 0)
	if err != nil {
		return false, fmt.Errorf("courier: convert %s: %w", folderDir, err)
	}
	defer lock.Unlock()
	// Someone else may have converted (or Dovecot started) meanwhile.
	if done, err := exists(uidlistPath); err != nil || done {
		return false, err
	}
	db, err := ReadUIDDB(uiddbPath)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	files, err := listFiles(folderDir)
	if err != nil {
		return false, err
	}
	list := assignUIDs(db, files)
	if err := applyKeywords(folderDir, files); err != nil {
		return false, err
	}
	if err := lock.Check(); err != nil {
		return false, fmt.Errorf("courier: convert %s: %w", folderDir, err)
	}
	if err := dovecot.WriteUIDList(folderDir, list); err != nil {
		return false, fmt.Errorf("courier: convert %s: %w", folderDir, err)
	}
	return true, nil
}

// exists reports whether path exists.
func exists(path string) (bool, error) {
	_, err := os.Lstat(path)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, fmt.Errorf("courier: %w", err)
}

// listFiles returns the message files of new/ and cur/ (a missing
// directory counts as empty), one per key; a key in both is taken from
// cur/. Dot files and names with CR, LF or '/' are not messages.
func listFiles(folderDir string) (map[string]*file, error) {
	files := make(map[string]*file)
	for _, dir := range [...]string{"new", "cur"} {
		ents, err := os.ReadDir(filepath.Join(folderDir, dir))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("courier: list %s: %w", dir, err)
		}
		for _, e := range ents {
			name := e.Name()
			if name == "" || name[0] == '.' || strings.ContainsAny(name, "\r\n/") || e.IsDir() {
				continue
			}
			key, info := name, ""
			if i := strings.IndexByte(name, ':'); i >= 0 {
				key, info = name[:i], name[i:]
			}
			files[key] = &file{dir: dir, name: name, key: key, info: info}
		}
	}
	return files, nil
}

// assignUIDs gives every file its uiddb UID, and the others UIDs from the
// uiddb's next UID upward in Courier's order, and returns the uidlist to
// write. A UID claimed by two keys goes to the first; the other key counts
// as new.
func assignUIDs(db *UIDDB, files map[string]*file) *dovecot.UIDList {
	used := make(map[uint32]bool, len(db.Records))
	for _, r := range db.Records {
		if f := files[r.Key]; f != nil && f.uid == 0 && !used[r.UID] {
			f.uid = r.UID
			used[r.UID] = true
		}
	}
	var fresh []*file
	for _, f := range files {
		if f.uid == 0 {
			fresh = append(fresh, f)
		}
	}
	slices.SortFunc(fresh, func(a, b *file) int { return CompareNames(a.key, b.key) })
	next := db.Next()
	for _, f := range fresh {
		for used[next] {
			next++
		}
		f.uid = next
		used[next] = true
		next++
	}
	list := &dovecot.UIDList{UIDValidity: db.UIDValidity, NextUID: db.Next()}
	for _, f := range files {
		list.Records = append(list.Records, dovecot.Record{UID: f.uid, Key: f.key})
	}
	slices.SortFunc(list.Records, func(a, b dovecot.Record) int { return cmp.Compare(a.UID, b.UID) })
	return list
}

// applyKeywords records Courier's keywords in dovecot-keywords and renames
// every file whose flag letters differ from its standard flags plus the
// letters of its Courier keywords.
func applyKeywords(folderDir string, files map[string]*file) error {
	courierKW, err := ReadKeywords(folderDir)
	if err != nil {
		return err
	}
	table, err := dovecot.ReadKeywords(folderDir)
	if err != nil {
		return fmt.Errorf("courier: convert %s: %w", folderDir, err)
	}
	ordered := make([]*file, 0, len(files))
	for _, f := range files {
		ordered = append(ordered, f)
	}
	slices.SortFunc(ordered, func(a, b *file) int { return cmp.Compare(a.uid, b.uid) })
	letters := make(map[*file][]byte)
	for _, f := range ordered {
		for _, name := range courierKW[f.key] {
			if l, ok, _ := table.Add(name); ok {
				letters[f] = append(letters[f], l)
			}
		}
	}
	if table.Dirty() {
		if err := dovecot.WriteKeywords(folderDir, table); err != nil {
			return fmt.Errorf("courier: convert %s: %w", folderDir, err)
		}
	}
	renamed := false
	for _, f := range ordered {
		name, ok := targetName(f, letters[f])
		if !ok {
			continue
		}
		src := filepath.Join(folderDir, f.dir, f.name)
		dst := filepath.Join(folderDir, "cur", name)
		if err := os.Rename(src, dst); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // gone meanwhile: nothing to keep
			}
			return fmt.Errorf("courier: convert %s: %w", folderDir, err)
		}
		f.dir, f.name, renamed = "cur", name, true
	}
	if renamed {
		dovecot.SyncDir(filepath.Join(folderDir, "new"))
		dovecot.SyncDir(filepath.Join(folderDir, "cur"))
	}
	return nil
}

// targetName returns the cur/ name f must have to carry keyword letters kw
// (and no other lowercase letters), and false when f needs no rename. A
// file whose info is not ":2,<flags>" keeps its name.
func targetName(f *file, kw []byte) (string, bool) {
	flags, extra := "", ""
	switch {
	case f.info == "":
	case strings.HasPrefix(f.info, ":2,"):
		flags = f.info[3:]
		if i := strings.IndexByte(flags, ','); i >= 0 {
			flags, extra = flags[:i], flags[i:]
		}
	default:
		return "", false
	}
	var want []byte
	for i := 0; i < len(flags); i++ {
		if c := flags[i]; (c < 'a' || c > 'z') && !slices.Contains(want, c) {
			want = append(want, c)
		}
	}
	for _, c := range kw {
		if !slices.Contains(want, c) {
			want = append(want, c)
		}
	}
	slices.Sort(want)
	if len(kw) == 0 && !strings.ContainsFunc(flags, func(r rune) bool { return r >= 'a' && r <= 'z' }) {
		return "", false // no keywords to add and no stale letters to drop
	}
	name := f.key + ":2," + string(want) + extra
	if f.dir == "cur" && name == f.name {
		return "", false
	}
	return name, true
}
