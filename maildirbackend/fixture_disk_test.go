package maildirbackend_test

import (
	"crypto/sha256"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
)

// TestDovecotFixture_unpacked checks that maildirtest.Fixture rebuilt the
// tree Dovecot wrote from the archive: every directory (empty new/ and
// tmp/ included, which git drops), every message at its path with its size
// and mtime (INTERNALDATE; git drops mtimes), the COPY hard link, and
// Dovecot's control files as expected.json recorded them.
func TestDovecotFixture_unpacked(t *testing.T) {
	root, exp := maildirtest.Fixture(t, dovecotArchive)
	for _, d := range exp.Directories {
		if fi, err := os.Stat(filepath.Join(root, filepath.FromSlash(d))); err != nil || !fi.IsDir() {
			t.Errorf("directory %s: %v", d, err)
		}
	}
	for _, name := range exp.RootFiles {
		if _, err := os.Stat(filepath.Join(root, name)); err != nil {
			t.Errorf("root file: %v", err)
		}
	}
	if got := string(fxReadFile(t, filepath.Join(root, "dovecot-uidvalidity"))); got != exp.UIDValidityFile {
		t.Errorf("dovecot-uidvalidity = %q, want %q", got, exp.UIDValidityFile)
	}
	if got := strings.Split(string(fxReadFile(t, filepath.Join(root, "subscriptions"))), "\n"); !slices.Equal(got, exp.SubscriptionsFileLines) {
		t.Errorf("subscriptions = %q, want %q", got, exp.SubscriptionsFileLines)
	}
	for _, f := range exp.Folders {
		dir := fxFolderDir(root, &f)
		for _, name := range f.DiskFiles {
			if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
				t.Errorf("%s: %v", f.Name, err)
			}
		}
		if got, _, _ := strings.Cut(string(fxReadFile(t, filepath.Join(dir, "dovecot-uidlist"))), "\n"); got != f.UIDListHeader {
			t.Errorf("%s dovecot-uidlist header %q, want %q", f.Name, got, f.UIDListHeader)
		}
		if len(f.KeywordsFile) > 0 {
			if got := strings.Split(string(fxReadFile(t, filepath.Join(dir, "dovecot-keywords"))), "\n"); !slices.Equal(got, f.KeywordsFile) {
				t.Errorf("%s dovecot-keywords = %q, want %q", f.Name, got, f.KeywordsFile)
			}
		}
		for _, m := range f.MessageList {
			fi, err := os.Stat(filepath.Join(root, filepath.FromSlash(m.Disk.Path)))
			if err != nil {
				t.Errorf("%s UID %d: %v", f.Name, m.UID, err)
				continue
			}
			if fi.Size() != m.Disk.FileSize || fi.ModTime().Unix() != m.Disk.MTime {
				t.Errorf("%s UID %d: size %d mtime %d, want %d %d", f.Name, m.UID, fi.Size(), fi.ModTime().Unix(), m.Disk.FileSize, m.Disk.MTime)
			}
			if n := fxNlink(fi); n != m.Disk.NLink {
				t.Errorf("%s UID %d: %d links, want %d", f.Name, m.UID, n, m.Disk.NLink)
			}
		}
	}
}

// fxNlink returns a file's hard link count, or 1 where the platform does
// not say.
func fxNlink(fi os.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Nlink)
	}
	return 1
}

// TestDovecotFixture_readOnlyKeepsDisk reads every folder the way a client
// does (LIST, STATUS, EXAMINE, FETCH everything) and then wants the tree
// as Dovecot left it: every file byte for byte with its mtime, no new file
// (no lock left behind, nothing added to Dovecot's index), and each
// dovecot-uidlist with the same UIDVALIDITY and GUID and every live record
// under its UID (we may append, never renumber).
func TestDovecotFixture_readOnlyKeepsDisk(t *testing.T) {
	root, exp := maildirtest.Fixture(t, dovecotArchive)
	before := fxSnapshot(t, root)
	uidlists := make(map[string]fxUIDList)
	for _, f := range exp.Folders {
		uidlists[f.DiskDir] = fxReadUIDList(t, fxFolderDir(root, &f))
	}

	s := newDovecotServer(t, root)
	c := s.Dial(t, nil)
	if _, err := c.List("", "*", &imap.ListOptions{ReturnSubscribed: true, ReturnChildren: true}).Collect(); err != nil {
		t.Fatalf("LIST: %v", err)
	}
	for _, f := range exp.Folders {
		if _, err := c.Status(f.Name, &imap.StatusOptions{NumMessages: true, UIDNext: true, NumUnseen: true, Size: true}).Wait(); err != nil {
			t.Fatalf("STATUS %s: %v", f.Name, err)
		}
		if _, err := c.Select(f.Name, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
			t.Fatalf("EXAMINE %s: %v", f.Name, err)
		}
		_, err := c.Fetch(imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}, &imap.FetchOptions{
			UID: true, Flags: true, RFC822Size: true, InternalDate: true, Envelope: true,
			BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
			BodySection:   []*imap.FetchItemBodySection{{Peek: true}},
		}).Collect()
		if err != nil {
			t.Fatalf("FETCH %s: %v", f.Name, err)
		}
	}
	if err := c.Logout().Wait(); err != nil {
		t.Fatalf("LOGOUT: %v", err)
	}

	after := fxSnapshot(t, root)
	for p, b := range before {
		a, ok := after[p]
		switch {
		case !ok:
			t.Errorf("%s is gone", p)
		case b.dir || filepath.Base(p) == "dovecot-uidlist":
			// Directory mtimes follow tmp/ use; uidlists are checked below.
		case a != b:
			t.Errorf("%s changed: %+v, was %+v", p, a, b)
		}
	}
	for p := range after {
		// Our own indexes, derived from the messages as Dovecot's
		// dovecot.index* that an EXAMINE and FETCH write: the full-text
		// index, the folder index and the cache file. Not Maildir content.
		base := filepath.Base(p)
		if _, ok := before[p]; !ok && !strings.Contains(p, "maildir-imapd.fts") && base != "maildir-imapd.cache" && base != "maildir-imapd.index" {
			t.Errorf("new file %s after a read-only session", p)
		}
	}
	for _, f := range exp.Folders {
		fxCheckUIDListKept(t, f.Name, fxFolderDir(root, &f), uidlists[f.DiskDir], fxReadUIDList(t, fxFolderDir(root, &f)))
	}
}

// TestDovecotFixture_storeAndDeliver changes the tree read-write: STORE
// \Flagged on INBOX UID 14 (a file Dovecot left in new/ with a UID) must
// rename it into cur/ with ":2,F" and keep its mtime; a brand new server
// instance must still call it UID 14; and a delivery into new/ must get
// UID 16, Dovecot's UIDNEXT.
func TestDovecotFixture_storeAndDeliver(t *testing.T) {
	root, exp := maildirtest.Fixture(t, dovecotArchive)
	inbox := exp.Folder("INBOX")
	var m14 *maildirtest.ExpectedMessage
	for i := range inbox.MessageList {
		if inbox.MessageList[i].UID == 14 {
			m14 = &inbox.MessageList[i]
		}
	}
	if m14 == nil || m14.Disk.Dir != "new" || inbox.UIDNext != 16 {
		t.Fatal("fixture: INBOX UID 14 in new/ and UIDNEXT 16 expected")
	}
	old := fxReadUIDList(t, root)
	before := fxSnapshot(t, root)

	s1 := newDovecotServer(t, root)
	c1 := s1.Dial(t, nil)
	if _, err := c1.Select("INBOX", nil).Wait(); err != nil {
		t.Fatalf("SELECT: %v", err)
	}
	msgs, err := c1.Store(imap.UIDSetNum(14), &imap.StoreFlags{
		Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged},
	}, nil).Collect()
	if err != nil {
		t.Fatalf("UID STORE: %v", err)
	}
	if len(msgs) != 1 || msgs[0].UID != 14 || !slices.Equal(fxWantFlags(fxFlagSet(msgs[0].Flags)), []string{`\Flagged`}) {
		t.Errorf("UID STORE 14 +FLAGS (\\Flagged) answered %+v", msgs)
	}
	want := filepath.Join(root, "cur", m14.BaseFilename+":2,F")
	if got := maildirtest.Find(t, root, m14.BaseFilename); got != want {
		t.Errorf("UID 14 is at %s, want %s", got, want)
	}
	if fi, err := os.Stat(want); err == nil && fi.ModTime().Unix() != m14.Disk.MTime {
		t.Errorf("rename changed the mtime (INTERNALDATE) to %v, want %d", fi.ModTime(), m14.Disk.MTime)
	}
	if err := c1.Logout().Wait(); err != nil {
		t.Fatalf("LOGOUT: %v", err)
	}

	key16 := maildirtest.Deliver(t, root, maildirtest.Message("delivered after Dovecot"))

	// A second backend shares no memory with the first: it reads UIDs
	// back from dovecot-uidlist.
	s2 := newDovecotServer(t, root)
	c2 := s2.Dial(t, nil)
	sel, err := c2.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatalf("EXAMINE: %v", err)
	}
	if sel.NumMessages != inbox.Messages+1 || sel.UIDNext != 17 || sel.UIDValidity != inbox.UIDValidity {
		t.Errorf("EXAMINE INBOX: EXISTS %d UIDNEXT %d UIDVALIDITY %d, want %d 17 %d",
			sel.NumMessages, sel.UIDNext, sel.UIDValidity, inbox.Messages+1, inbox.UIDValidity)
	}
	got, err := c2.Fetch(imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}, &imap.FetchOptions{
		UID: true, Flags: true, RFC822Size: true,
	}).Collect()
	if err != nil {
		t.Fatalf("UID FETCH: %v", err)
	}
	var uids []imap.UID
	for _, m := range inbox.MessageList {
		uids = append(uids, imap.UID(m.UID))
	}
	uids = append(uids, 16)
	var gotUIDs []imap.UID
	for _, m := range got {
		gotUIDs = append(gotUIDs, m.UID)
		if m.UID == 14 && !slices.Equal(fxWantFlags(fxFlagSet(m.Flags)), []string{`\Flagged`}) {
			t.Errorf("UID 14 FLAGS = %v after restart, want [\\Flagged]", m.Flags)
		}
		if m.UID == 14 && m.RFC822Size != m14.RFC822Size {
			t.Errorf("UID 14 RFC822.SIZE = %d after restart, want %d", m.RFC822Size, m14.RFC822Size)
		}
	}
	slices.Sort(gotUIDs)
	if !slices.Equal(gotUIDs, uids) {
		t.Errorf("INBOX UIDs after restart and delivery = %v, want %v", gotUIDs, uids)
	}

	for _, f := range exp.Folders {
		for _, m := range f.MessageList {
			if f.Name == "INBOX" && m.UID == 14 {
				continue
			}
			if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(m.Disk.Path))); err != nil {
				t.Errorf("%s UID %d: %v", f.Name, m.UID, err)
			}
		}
	}

	// Dovecot's index files are Dovecot's: we neither change nor add any.
	after := fxSnapshot(t, root)
	for p, a := range after {
		if !strings.HasPrefix(filepath.Base(p), "dovecot.") {
			continue
		}
		if b, ok := before[p]; !ok {
			t.Errorf("new Dovecot index file %s", p)
		} else if a != b {
			t.Errorf("Dovecot index file %s changed", p)
		}
	}

	now := fxReadUIDList(t, root)
	fxCheckUIDListKept(t, "INBOX", root, old, now)
	if now.recs[14] != m14.BaseFilename {
		t.Errorf("dovecot-uidlist: UID 14 is %q, want %q", now.recs[14], m14.BaseFilename)
	}
	if now.recs[16] != key16 {
		t.Errorf("dovecot-uidlist: UID 16 is %q, want the delivered %q", now.recs[16], key16)
	}
}

// fxFileState is what fxSnapshot records of one path.
type fxFileState struct {
	dir   bool
	size  int64
	mtime time.Time
	sum   [sha256.Size]byte
}

// fxSnapshot records every directory and file under root.
func fxSnapshot(t *testing.T, root string) map[string]fxFileState {
	t.Helper()
	m := make(map[string]fxFileState)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) || strings.HasSuffix(p, ".lock") {
			return nil // a dotlock a running server holds for a moment
		}
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		} else if err != nil {
			return err
		}
		st := fxFileState{dir: d.IsDir()}
		if !st.dir {
			st.size, st.mtime, st.sum = fi.Size(), fi.ModTime(), sha256.Sum256(fxReadFile(t, p))
		}
		m[filepath.ToSlash(rel)] = st
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// fxUIDList is a parsed dovecot-uidlist (version 3).
type fxUIDList struct {
	version, uidValidity, guid string
	next                       uint32            // header N
	last                       uint32            // highest record UID
	recs                       map[uint32]string // UID -> key
}

// fxReadUIDList parses dir/dovecot-uidlist: "3 V<uidvalidity> N<next>
// G<guid>" then "<uid> [fields] :<key>" lines.
func fxReadUIDList(t *testing.T, dir string) fxUIDList {
	t.Helper()
	lines := strings.Split(strings.TrimRight(string(fxReadFile(t, filepath.Join(dir, "dovecot-uidlist"))), "\n"), "\n")
	fields := strings.Fields(lines[0])
	u := fxUIDList{recs: make(map[uint32]string)}
	if len(fields) > 0 {
		u.version = fields[0]
	}
	for _, f := range fields[1:] {
		switch f[0] {
		case 'V':
			u.uidValidity = f[1:]
		case 'N':
			n, _ := strconv.ParseUint(f[1:], 10, 32)
			u.next = uint32(n)
		case 'G':
			u.guid = f[1:]
		}
	}
	for _, l := range lines[1:] {
		num, rest, _ := strings.Cut(l, " ")
		_, key, ok := strings.Cut(" "+rest, " :")
		uid, err := strconv.ParseUint(num, 10, 32)
		if !ok || err != nil {
			t.Errorf("%s/dovecot-uidlist: bad line %q", dir, l)
			continue
		}
		if _, dup := u.recs[uint32(uid)]; dup || uint32(uid) <= u.last {
			t.Errorf("%s/dovecot-uidlist: UID %d out of order or twice", dir, uid)
		}
		u.recs[uint32(uid)] = key
		u.last = uint32(uid)
	}
	return u
}

// nextUID is the UID Dovecot hands out next: max(N, last record + 1).
func (u fxUIDList) nextUID() uint32 { return max(u.next, u.last+1) }

// fxCheckUIDListKept wants now to be old plus appended records: same
// version, UIDVALIDITY and GUID, every old record under the same UID
// (stale ones, whose file is gone from dir, may have been compacted away),
// and no UID reused.
func fxCheckUIDListKept(t *testing.T, folder, dir string, old, now fxUIDList) {
	t.Helper()
	if now.version != old.version || now.uidValidity != old.uidValidity || now.guid != old.guid {
		t.Errorf("%s dovecot-uidlist header: version %s V%s G%s, was %s V%s G%s",
			folder, now.version, now.uidValidity, now.guid, old.version, old.uidValidity, old.guid)
	}
	if now.nextUID() < old.nextUID() {
		t.Errorf("%s dovecot-uidlist: next UID went down to %d from %d", folder, now.nextUID(), old.nextUID())
	}
	for uid, key := range old.recs {
		k, ok := now.recs[uid]
		switch {
		case ok && k != key:
			t.Errorf("%s dovecot-uidlist: UID %d renumbered: %q, was %q", folder, uid, k, key)
		case !ok && maildirtest.Find(t, dir, key) != "":
			t.Errorf("%s dovecot-uidlist: the record of live UID %d (%s) was dropped", folder, uid, key)
		}
	}
	oldUID := make(map[string]uint32, len(old.recs))
	for uid, key := range old.recs {
		oldUID[key] = uid
	}
	for uid, key := range now.recs {
		if o, ok := oldUID[key]; ok && o != uid {
			t.Errorf("%s dovecot-uidlist: %s moved from UID %d to %d", folder, key, o, uid)
		}
		if _, ok := old.recs[uid]; !ok && uid < old.nextUID() {
			t.Errorf("%s dovecot-uidlist: new record reuses UID %d below the old next UID %d", folder, uid, old.nextUID())
		}
	}
}
