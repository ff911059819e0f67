package courier

import (
	"errors"
	"io/fs"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestReadUIDDB_cases(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    *UIDDB
		next    uint32
		corrupt bool
	}{
		{
			name:    "fixture shape",
			content: "1 795833730 14\n1 a.host\n2 b.host,S=12\n12 c.vm,S=326\n",
			want: &UIDDB{UIDValidity: 795833730, NextUID: 14, Records: []Record{
				{1, "a.host"}, {2, "b.host,S=12"}, {12, "c.vm,S=326"},
			}},
			next: 14,
		},
		{
			name:    "key stops at the first colon",
			content: "1 5 3\n1 a.host:2,S\n",
			want:    &UIDDB{UIDValidity: 5, NextUID: 3, Records: []Record{{1, "a.host"}}},
			next:    3,
		},
		{
			name:    "duplicate key keeps the later line",
			content: "1 5 9\n1 a\n2 b\n3 a\n",
			want:    &UIDDB{UIDValidity: 5, NextUID: 9, Records: []Record{{2, "b"}, {3, "a"}}},
			next:    9,
		},
		{
			name:    "next UID lags behind the records",
			content: "1 5 2\n1 a\n7 b\n",
			want:    &UIDDB{UIDValidity: 5, NextUID: 2, Records: []Record{{1, "a"}, {7, "b"}}},
			next:    8,
		},
		{
			name:    "empty lines and CRLF",
			content: "1 5 1\r\n\r\n",
			want:    &UIDDB{UIDValidity: 5, NextUID: 1},
			next:    1,
		},
		{name: "version 3", content: "3 V5 N1 G00\n", corrupt: true},
		{name: "zero uidvalidity", content: "1 0 1\n", corrupt: true},
		{name: "short header", content: "1 5\n", corrupt: true},
		{name: "zero uid", content: "1 5 2\n0 a\n", corrupt: true},
		{name: "no name", content: "1 5 2\n1\n", corrupt: true},
		{name: "slash in name", content: "1 5 2\n1 ../a\n", corrupt: true},
		{name: "empty file", content: "", corrupt: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, UIDDBName, tc.content)
			got, err := ReadUIDDB(filepath.Join(dir, UIDDBName))
			if tc.corrupt {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("err = %v, want ErrCorrupt", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			if n := got.Next(); n != tc.next {
				t.Errorf("Next() = %d, want %d", n, tc.next)
			}
		})
	}
}

func TestReadUIDDB_missing(t *testing.T) {
	_, err := ReadUIDDB(filepath.Join(t.TempDir(), UIDDBName))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want ErrNotExist", err)
	}
}

func TestReadUIDDB_fixture(t *testing.T) {
	root, exp := loadFixture(t)
	for _, f := range exp.Folders {
		t.Run(f.Name, func(t *testing.T) {
			db, err := ReadUIDDB(filepath.Join(root, f.DiskDir, UIDDBName))
			if err != nil {
				t.Fatal(err)
			}
			if db.UIDValidity != f.UIDValidity {
				t.Errorf("UIDVALIDITY %d, want %d", db.UIDValidity, f.UIDValidity)
			}
			byKey := make(map[string]uint32)
			for _, r := range db.Records {
				byKey[r.Key] = r.UID
			}
			for _, m := range f.MessageList {
				if uid, ok := byKey[m.BaseFilename]; ok && uid != m.UID {
					t.Errorf("%s: UID %d, want %d", m.BaseFilename, uid, m.UID)
				}
			}
		})
	}
}

func TestCompareNames_cases(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want int
	}{
		{"seconds first", "999.Z.host", "1000.A.host", -1},
		{"numeric not lexical", "20.x", "100.x", -1},
		{"then bytes", "1795833730.Vfe00I984064M796402.mx", "1795833730.Vfe00I984097M745756.mx", -1},
		{"bytes not usec (Dovecot would disagree)", "5.Vfe00I2M9.h", "5.Vfe00I1M1.h", 1},
		{"info ignored", "5.a.h:2,S", "5.a.h", 0},
		{"info ignored both", "5.a.h:2,S", "5.a.h:2,", 0},
		{"equal", "5.a", "5.a", 0},
		{"no digits count as zero", "abc", "1.a", -1},
		{"leading zeros", "0005.b", "5.a", 1},
		{"uppercase before lowercase", "5.B", "5.a", -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := sign(CompareNames(tc.a, tc.b)); got != tc.want {
				t.Errorf("CompareNames(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
			}
			if got := sign(CompareNames(tc.b, tc.a)); got != -tc.want {
				t.Errorf("CompareNames(%q, %q) = %d, want %d", tc.b, tc.a, got, -tc.want)
			}
		})
	}
}

// TestCompareNames_fixture checks Courier's order against the UIDs it gave
// the MTA deliveries it took from new/ (APPENDs got theirs at once): in
// every folder, their UID order is name order.
func TestCompareNames_fixture(t *testing.T) {
	_, exp := loadFixture(t)
	n := 0
	for _, f := range exp.Folders {
		var keys []string
		for _, m := range f.MessageList {
			if strings.HasSuffix(m.BaseFilename, ".mx.example.net") {
				keys = append(keys, m.BaseFilename)
			}
		}
		n += len(keys)
		if !slices.IsSortedFunc(keys, CompareNames) {
			t.Errorf("%s: UID order %v is not CompareNames order", f.Name, keys)
		}
	}
	if n != 5 {
		t.Errorf("%d MTA deliveries, want 5", n)
	}
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}
