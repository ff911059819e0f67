package courier

import (
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestReadKeywords_cases(t *testing.T) {
	const list = "A\nB\nC\n\nm1:0 2\nm2:1\nm3:0\n"
	tests := []struct {
		name  string
		files map[string]string // relative to courierimapkeywords/
		want  map[string][]string
	}{
		{
			name:  "list only",
			files: map[string]string{":list": list},
			want:  map[string][]string{"m1": {"A", "C"}, "m2": {"B"}, "m3": {"A"}},
		},
		{
			name: "largest N wins, empty update clears",
			files: map[string]string{
				":list":  list,
				".5.m1":  "B\n",
				".9.m1":  "C\nA\n",
				".7.m1":  "B\n",
				".3.m2":  "",
				".4.new": "D\n",
			},
			want: map[string][]string{"m1": {"C", "A"}, "m3": {"A"}, "new": {"D"}},
		},
		{
			name: "plain file beats every N",
			files: map[string]string{
				":list":  list,
				".99.m3": "B\n",
				"m3":     "C\n",
			},
			want: map[string][]string{"m1": {"A", "C"}, "m2": {"B"}, "m3": {"C"}},
		},
		{
			name: "no list, scratch files and bad names skipped",
			files: map[string]string{
				".tmp.1795833730.x": "Z\n",
				".x.m1":             "Z\n",
				".12.m1":            "A\n\nA\na\nB\n",
			},
			want: map[string][]string{"m1": {"A", "B"}},
		},
		{
			name: "bad indexes skipped, colon in key is taken up to the last",
			files: map[string]string{
				":list": "A\n\nm1:0 7 x -1\nm2:9\n:0\n",
			},
			want: map[string][]string{"m1": {"A"}},
		},
		{
			name:  "names only",
			files: map[string]string{":list": "A\nB\n"},
			want:  map[string][]string{},
		},
		{
			name:  "empty directory",
			files: map[string]string{},
			want:  map[string][]string{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, KeywordsDirName+"/subdir/ignored", "")
			for name, content := range tc.files {
				writeFile(t, dir, KeywordsDirName+"/"+name, content)
			}
			before := snapshot(t, dir, func(string) bool { return true })
			got, err := ReadKeywords(dir)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			if after := snapshot(t, dir, func(string) bool { return true }); !reflect.DeepEqual(before, after) {
				t.Errorf("ReadKeywords changed the directory:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
}

func TestReadKeywords_noDirectory(t *testing.T) {
	got, err := ReadKeywords(t.TempDir())
	if err != nil || len(got) != 0 {
		t.Fatalf("got %v, %v; want empty, nil", got, err)
	}
}

// TestReadKeywords_fixture compares the merge with the keywords Courier
// reported in FETCH FLAGS for every message of the fixture.
func TestReadKeywords_fixture(t *testing.T) {
	root, exp := loadFixture(t)
	for _, f := range exp.Folders {
		t.Run(f.Name, func(t *testing.T) {
			got, err := ReadKeywords(filepath.Join(root, f.DiskDir))
			if err != nil {
				t.Fatal(err)
			}
			want := make(map[string][]string)
			for _, m := range f.MessageList {
				if kw := keywordsOf(m.Flags); len(kw) > 0 {
					want[m.BaseFilename] = kw
				}
			}
			for key := range got {
				sortFold(got[key])
			}
			for key := range want {
				sortFold(want[key])
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

// sortFold sorts names case-insensitively in place.
func sortFold(names []string) {
	slices.SortFunc(names, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
}
