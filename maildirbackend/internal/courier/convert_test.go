package courier

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/dovecot"
)

// state is what the backend will read from a converted folder.
type state struct {
	uidValidity uint32
	next        uint32
	uids        map[string]uint32   // key -> UID
	names       map[string]string   // key -> "new/<name>" or "cur/<name>"
	std         map[string]string   // key -> uppercase flag letters
	keywords    map[string][]string // key -> keyword names (sorted)
}

// readState reads a folder the way the backend does: dovecot-uidlist,
// dovecot-keywords and the file names.
func readState(t *testing.T, dir string) *state {
	t.Helper()
	l, err := dovecot.ReadUIDList(filepath.Join(dir, dovecot.UIDListName))
	if err != nil {
		t.Fatal(err)
	}
	if l.Version != 3 {
		t.Errorf("uidlist version %d, want 3", l.Version)
	}
	kw, err := dovecot.ReadKeywords(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := &state{
		uidValidity: l.UIDValidity, next: l.Next(),
		uids: map[string]uint32{}, names: map[string]string{},
		std: map[string]string{}, keywords: map[string][]string{},
	}
	for _, r := range l.Records {
		s.uids[r.Key] = r.UID
	}
	for _, sub := range []string{"new", "cur"} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".") {
				continue
			}
			key, info, _ := strings.Cut(e.Name(), ":")
			s.names[key] = sub + "/" + e.Name()
			flags, _ := strings.CutPrefix(info, "2,")
			flags, _, _ = strings.Cut(flags, ",")
			for i := 0; i < len(flags); i++ {
				if c := flags[i]; c >= 'a' && c <= 'z' {
					name, ok := kw.Name(c)
					if !ok {
						t.Errorf("%s: letter %c not in dovecot-keywords", e.Name(), c)
					}
					s.keywords[key] = append(s.keywords[key], name)
				} else {
					s.std[key] += string(c)
				}
			}
			sortFold(s.keywords[key])
		}
	}
	return s
}

func isCourierFile(rel string) bool {
	return strings.Contains(rel, "courierimap")
}

func TestConvert_fixture(t *testing.T) {
	root, exp := loadFixture(t)
	courierBefore := snapshot(t, root, isCourierFile)
	for _, f := range exp.Folders {
		t.Run(f.Name, func(t *testing.T) {
			dir := filepath.Join(root, f.DiskDir)
			converted, err := Convert(dir)
			if err != nil || !converted {
				t.Fatalf("Convert = %v, %v; want true, nil", converted, err)
			}
			s := readState(t, dir)
			if s.uidValidity != f.UIDValidity || s.next != f.UIDNext {
				t.Errorf("V%d N%d, want V%d N%d", s.uidValidity, s.next, f.UIDValidity, f.UIDNext)
			}
			if len(s.uids) != len(f.MessageList) {
				t.Errorf("%d uidlist records, want %d", len(s.uids), len(f.MessageList))
			}
			for _, m := range f.MessageList {
				key := m.BaseFilename
				if s.uids[key] != m.UID {
					t.Errorf("%s: UID %d, want %d", key, s.uids[key], m.UID)
				}
				wantKW := keywordsOf(m.Flags)
				sortFold(wantKW)
				if !reflect.DeepEqual(s.keywords[key], wantKW) && len(wantKW)+len(s.keywords[key]) > 0 {
					t.Errorf("UID %d: keywords %q, want %q", m.UID, s.keywords[key], wantKW)
				}
				_, oldInfo, _ := strings.Cut(m.Disk.Path, ":")
				oldStd := strings.TrimPrefix(oldInfo, "2,")
				if s.std[key] != sortASCII(oldStd) {
					t.Errorf("UID %d: flags %q, want %q", m.UID, s.std[key], oldStd)
				}
				oldPath := strings.TrimPrefix(m.Disk.Path, f.DiskDir+"/")
				if len(wantKW) == 0 && s.names[key] != oldPath {
					t.Errorf("UID %d without keywords renamed: %s -> %s", m.UID, oldPath, s.names[key])
				}
				st, err := os.Stat(filepath.Join(dir, s.names[key]))
				if err != nil {
					t.Fatal(err)
				}
				if st.ModTime().Unix() != m.Disk.MTime {
					t.Errorf("UID %d: mtime %d, want %d", m.UID, st.ModTime().Unix(), m.Disk.MTime)
				}
			}
			converted, err = Convert(dir)
			if err != nil || converted {
				t.Errorf("second Convert = %v, %v; want false, nil", converted, err)
			}
		})
	}
	if after := snapshot(t, root, isCourierFile); !reflect.DeepEqual(courierBefore, after) {
		t.Error("Courier's files changed")
	}
}

// TestConvert_fixtureInboxNames pins the exact results the brief names: the
// two new/ files get 14 and 15, and UID 9's keywords become letters.
func TestConvert_fixtureInboxNames(t *testing.T) {
	root, _ := loadFixture(t)
	if _, err := Convert(root); err != nil {
		t.Fatal(err)
	}
	s := readState(t, root)
	for key, uid := range map[string]uint32{
		"1795833745.Vfe00I984301M933379.mx.example.net": 14,
		"1795833745.Vfe00I984302M984783.mx.example.net": 15,
	} {
		if s.uids[key] != uid {
			t.Errorf("%s: UID %d, want %d", key, s.uids[key], uid)
		}
		if !strings.HasPrefix(s.names[key], "new/") {
			t.Errorf("%s moved to %s", key, s.names[key])
		}
	}
	const uid9 = "1795833730.M912599P18671V000000000000FE00I00000000009842CA_5.vm,S=314"
	if got, want := s.keywords[uid9], []string{"$label1", "$NonJunk", "Project-X"}; !reflect.DeepEqual(got, want) {
		t.Errorf("UID 9 keywords %q, want %q", got, want)
	}
	if !strings.HasPrefix(s.names[uid9], "cur/"+uid9+":2,S") {
		t.Errorf("UID 9 file %s", s.names[uid9])
	}
}

func TestConvert_cases(t *testing.T) {
	tests := []struct {
		name     string
		files    map[string]string // relative to the folder
		want     map[string]string // key -> path after conversion
		wantUIDs map[string]uint32
		wantV    uint32
		wantKW   []string // dovecot-keywords names in letter order
	}{
		{
			name: "keywords on new/, cur/ without info, extra suffix, stale letters",
			files: map[string]string{
				UIDDBName:                 "1 77 10\n1 100.a\n2 100.b\n3 100.c\n4 100.d\n",
				"new/100.a":               "",
				"cur/100.b":               "",
				"cur/100.c:2,FSz,extra=1": "",
				"cur/100.d:2,Sq":          "",
				"new/100.e:2,S":           "",
				KeywordsDirName + "/:list": "K1\nK2\n\n100.a:0\n100.b:1 0\n" +
					"100.c:1\n100.e:0\n",
			},
			want: map[string]string{
				"100.a": "cur/100.a:2,a",
				"100.b": "cur/100.b:2,ab",
				"100.c": "cur/100.c:2,FSb,extra=1",
				"100.d": "cur/100.d:2,S",
				"100.e": "cur/100.e:2,Sa",
			},
			wantUIDs: map[string]uint32{"100.a": 1, "100.b": 2, "100.c": 3, "100.d": 4, "100.e": 10},
			wantV:    77,
			wantKW:   []string{"K1", "K2"},
		},
		{
			name: "Courier order for UID-less files, stale and duplicate UIDs",
			files: map[string]string{
				UIDDBName:               "1 5 3\n1 9.gone\n2 9.a\n7 9.b\n7 9.c\n",
				"cur/9.a:2,S":           "",
				"cur/9.b:2,":            "",
				"cur/9.c":               "",
				"new/10.Vfe00I2M1.host": "",
				"new/10.Vfe00I1M9.host": "",
				"new/9.zz":              "",
				"cur/.hidden":           "",
			},
			want: map[string]string{
				"9.a": "cur/9.a:2,S", "9.b": "cur/9.b:2,", "9.c": "cur/9.c",
				"10.Vfe00I2M1.host": "new/10.Vfe00I2M1.host",
				"10.Vfe00I1M9.host": "new/10.Vfe00I1M9.host",
				"9.zz":              "new/9.zz",
			},
			wantUIDs: map[string]uint32{
				"9.a": 2, "9.b": 7, "9.c": 8, "9.zz": 9,
				"10.Vfe00I1M9.host": 10, "10.Vfe00I2M1.host": 11,
			},
			wantV: 5,
		},
		{
			name: "invalid keyword dropped, pending plain update wins",
			files: map[string]string{
				UIDDBName:                   "1 5 2\n1 1.a\n",
				"cur/1.a:2,S":               "",
				KeywordsDirName + "/:list":  "Old\n\n1.a:0\n",
				KeywordsDirName + "/1.a":    "bad(name\nNew\n",
				KeywordsDirName + "/.9.1.a": "Other\n",
			},
			want:     map[string]string{"1.a": "cur/1.a:2,Sa"},
			wantUIDs: map[string]uint32{"1.a": 1},
			wantV:    5,
			wantKW:   []string{"New"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, sub := range []string{"new", "cur", "tmp"} {
				if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
					t.Fatal(err)
				}
			}
			for name, content := range tc.files {
				writeFile(t, dir, name, content)
			}
			converted, err := Convert(dir)
			if err != nil || !converted {
				t.Fatalf("Convert = %v, %v; want true, nil", converted, err)
			}
			s := readState(t, dir)
			if s.uidValidity != tc.wantV {
				t.Errorf("UIDVALIDITY %d, want %d", s.uidValidity, tc.wantV)
			}
			if !reflect.DeepEqual(s.uids, tc.wantUIDs) {
				t.Errorf("UIDs %v, want %v", s.uids, tc.wantUIDs)
			}
			if !reflect.DeepEqual(s.names, tc.want) {
				t.Errorf("files %v, want %v", s.names, tc.want)
			}
			kw, err := dovecot.ReadKeywords(dir)
			if err != nil {
				t.Fatal(err)
			}
			if got := kw.Names(); !reflect.DeepEqual(got, tc.wantKW) {
				t.Errorf("dovecot-keywords %q, want %q", got, tc.wantKW)
			}
		})
	}
}

func TestConvert_nothingToDo(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
	}{
		{"no uiddb", map[string]string{"cur/1.a:2,S": ""}},
		{"uidlist exists", map[string]string{
			UIDDBName: "1 5 2\n1 1.a\n", dovecot.UIDListName: "3 V9 N2 G0123456789abcdef0123456789abcdef\n",
			"cur/1.a:2,S": "", KeywordsDirName + "/:list": "K\n\n1.a:0\n",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tc.files {
				writeFile(t, dir, name, content)
			}
			before := snapshot(t, dir, func(string) bool { return true })
			converted, err := Convert(dir)
			if err != nil || converted {
				t.Fatalf("Convert = %v, %v; want false, nil", converted, err)
			}
			if after := snapshot(t, dir, func(string) bool { return true }); !reflect.DeepEqual(before, after) {
				t.Errorf("folder changed:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
}

func TestConvert_corruptUIDDB(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, UIDDBName, "2 5 2\n")
	writeFile(t, dir, "cur/1.a:2,S", "")
	converted, err := Convert(dir)
	if converted || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Convert = %v, %v; want false, ErrCorrupt", converted, err)
	}
	for _, name := range []string{dovecot.UIDListName, dovecot.UIDListName + ".lock"} {
		if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s left behind: %v", name, err)
		}
	}
}

// TestConvert_rerunAfterCrash simulates a crash after the renames and
// before the uidlist was written: the re-run gives the same result.
func TestConvert_rerunAfterCrash(t *testing.T) {
	root, _ := loadFixture(t)
	if _, err := Convert(root); err != nil {
		t.Fatal(err)
	}
	first := readState(t, root)
	if err := os.Remove(filepath.Join(root, dovecot.UIDListName)); err != nil {
		t.Fatal(err)
	}
	converted, err := Convert(root)
	if err != nil || !converted {
		t.Fatalf("re-run Convert = %v, %v; want true, nil", converted, err)
	}
	if second := readState(t, root); !reflect.DeepEqual(first, second) {
		t.Errorf("re-run differs:\nfirst  %+v\nsecond %+v", first, second)
	}
}

// TestConvert_concurrent runs several converters on one folder at once:
// exactly one converts, under the uidlist lock, and the result is whole.
func TestConvert_concurrent(t *testing.T) {
	root, exp := loadFixture(t)
	const n = 8
	var wg sync.WaitGroup
	results := make(chan error, n)
	count := make(chan bool, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			converted, err := Convert(root)
			results <- err
			count <- converted
		}()
	}
	wg.Wait()
	close(results)
	close(count)
	for err := range results {
		if err != nil {
			t.Error(err)
		}
	}
	done := 0
	for c := range count {
		if c {
			done++
		}
	}
	if done != 1 {
		t.Errorf("%d conversions, want 1", done)
	}
	s := readState(t, root)
	for _, m := range exp.Folders[0].MessageList {
		if s.uids[m.BaseFilename] != m.UID {
			t.Errorf("%s: UID %d, want %d", m.BaseFilename, s.uids[m.BaseFilename], m.UID)
		}
	}
}

// sortASCII returns the bytes of s in ASCII order.
func sortASCII(s string) string {
	b := []byte(s)
	slices.Sort(b)
	return string(b)
}
