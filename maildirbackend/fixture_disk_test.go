package maildirbackend_test

import (
	"crypto/sha256"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
)

// TestDovecotFixture_readOnlyKeepsDisk reads every folder the way a client
// does (LIST, STATUS, EXAMINE, FETCH everything) and then wants the tree
// as Dovecot left it: every file byte for byte with its mtime, no new file
// (no lock left behind, nothing added to Dovecot's index), and each
// dovecot-uidlist with the same UIDVALIDITY and GUID and every live record
// under its UID (we may append, never renumber).
func TestDovecotFixture_readOnlyKeepsDisk(t *testing.T) {
	root, exp := maildirtest.Fixture(t, dovecotArchive)
	before := snapshot(t, root)
	uidlists := make(map[string]uidList)
	for _, f := range exp.Folders {
		uidlists[f.DiskDir] = readUIDList(t, folderDir(root, &f))
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

	after := snapshot(t, root)
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
		if _, ok := before[p]; !ok {
			t.Errorf("new file %s after a read-only session", p)
		}
	}
	for _, f := range exp.Folders {
		checkUIDListKept(t, f.Name, folderDir(root, &f), uidlists[f.DiskDir], readUIDList(t, folderDir(root, &f)))
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
	old := readUIDList(t, root)

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
	if len(msgs) != 1 || msgs[0].UID != 14 || !slices.Equal(flagSet(msgs[0].Flags), []string{`\Flagged`}) {
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
		if m.UID == 14 && !slices.Equal(flagSet(m.Flags), []string{`\Flagged`}) {
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

	now := readUIDList(t, root)
	checkUIDListKept(t, "INBOX", root, old, now)
	if now.recs[14] != m14.BaseFilename {
		t.Errorf("dovecot-uidlist: UID 14 is %q, want %q", now.recs[14], m14.BaseFilename)
	}
	if now.recs[16] != key16 {
		t.Errorf("dovecot-uidlist: UID 16 is %q, want the delivered %q", now.recs[16], key16)
	}
}

// fileState is what snapshot records of one path.
type fileState struct {
	dir   bool
	size  int64
	mtime time.Time
	sum   [sha256.Size]byte
}

// snapshot records every directory and file under root.
func snapshot(t *testing.T, root string) map[string]fileState {
	t.Helper()
	m := make(map[string]fileState)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fileState{dir: d.IsDir()}
		if !st.dir {
			st.size, st.mtime, st.sum = fi.Size(), fi.ModTime(), sha256.Sum256(readFile(t, p))
		}
		m[filepath.ToSlash(rel)] = st
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// uidList is a parsed dovecot-uidlist (version 3).
type uidList struct {
	version, uidValidity, guid string
	next                       uint32            // header N
	last                       uint32            // highest record UID
	recs                       map[uint32]string // UID -> key
}

// readUIDList parses dir/dovecot-uidlist: "3 V<uidvalidity> N<next>
// G<guid>" then "<uid> [fields] :<key>" lines.
func readUIDList(t *testing.T, dir string) uidList {
	t.Helper()
	lines := strings.Split(strings.TrimRight(string(readFile(t, filepath.Join(dir, "dovecot-uidlist"))), "\n"), "\n")
	fields := strings.Fields(lines[0])
	u := uidList{recs: make(map[uint32]string)}
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
func (u uidList) nextUID() uint32 { return max(u.next, u.last+1) }

// checkUIDListKept wants now to be old plus appended records: same
// version, UIDVALIDITY and GUID, every old record under the same UID
// (stale ones, whose file is gone from dir, may have been compacted away),
// and no UID reused.
func checkUIDListKept(t *testing.T, folder, dir string, old, now uidList) {
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
