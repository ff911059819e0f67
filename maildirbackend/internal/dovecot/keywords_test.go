package dovecot

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func TestReadKeywords_fixture(t *testing.T) {
	tests := []struct {
		name    string
		sub     string
		names   []string
		letters map[string]byte
	}{
		{"inbox", "inbox", []string{"$Forwarded", "$Junk", "$NonJunk", "$label1", "Project-X"},
			map[string]byte{"$junk": 'b', "$NONJUNK": 'c', "project-x": 'e', "$Forwarded": 'a'}},
		{"work clients", "workclients", []string{"$label1", "Project-X"},
			map[string]byte{"$label1": 'a', "Project-X": 'b'}},
		{"junk", "junk", []string{"$Junk"}, map[string]byte{"$Junk": 'a'}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ReadKeywords(filepath.Join("testdata", tt.sub))
			if err != nil {
				t.Fatal(err)
			}
			if got := k.Names(); !reflect.DeepEqual(got, tt.names) {
				t.Errorf("Names() = %q, want %q", got, tt.names)
			}
			for name, want := range tt.letters {
				if got, ok := k.Letter(name); !ok || got != want {
					t.Errorf("Letter(%q) = %c, %v, want %c", name, got, ok, want)
				}
			}
			if _, ok := k.Name('z'); ok {
				t.Error("Name('z') found")
			}
			if _, ok := k.Name('A'); ok {
				t.Error("Name('A') found")
			}
		})
	}
	k, _ := ReadKeywords(filepath.Join("testdata", "inbox"))
	// UID 9's ":2,Scde" = \Seen $NonJunk $label1 Project-X.
	var got []string
	for _, c := range []byte("cde") {
		n, _ := k.Name(c)
		got = append(got, n)
	}
	if !reflect.DeepEqual(got, []string{"$NonJunk", "$label1", "Project-X"}) {
		t.Errorf("cde = %q", got)
	}
}

func TestReadKeywords_lines(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    map[byte]string
	}{
		{"missing file", "", map[byte]string{}},
		{"gaps", "0 a\n3 d\n", map[byte]string{'a': "a", 'd': "d"}},
		{"invalid lines skipped", "nospace\nx name\n26 toobig\n-1 neg\n2 \n1 ok\n", map[byte]string{'b': "ok"}},
		{"duplicate name case-insensitive", "0 Foo\n1 foo\n2 bar\n", map[byte]string{'a': "Foo", 'c': "bar"}},
		{"later index wins", "0 foo\n0 bar\n", map[byte]string{'a': "bar"}},
		{"name with space kept", "0 a b\n", map[byte]string{'a': "a b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.content != "" {
				writeFile(t, dir, KeywordsName, tt.content)
			}
			k, err := ReadKeywords(dir)
			if err != nil {
				t.Fatal(err)
			}
			got := map[byte]string{}
			for c := byte('a'); c <= 'z'; c++ {
				if n, ok := k.Name(c); ok {
					got[c] = n
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestKeywords_add(t *testing.T) {
	k := &Keywords{}
	k.names[0], k.names[2] = "$Junk", "Work"
	tests := []struct {
		name                string
		kw                  string
		letter              byte
		ok, changed, isDirt bool
	}{
		{"existing", "$junk", 'a', true, false, false},
		{"fills gap", "New", 'b', true, true, true},
		{"next free", "Other", 'd', true, true, true},
		{"again", "other", 'd', true, false, true},
		{"empty", "", 0, false, false, true},
		{"space", "a b", 0, false, false, true},
		{"system flag", `\Seen`, 0, false, false, true},
		{"paren", "a(b", 0, false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			letter, ok, changed := k.Add(tt.kw)
			if letter != tt.letter || ok != tt.ok || changed != tt.changed || k.Dirty() != tt.isDirt {
				t.Errorf("Add(%q) = %q, %v, %v (dirty %v)", tt.kw, letter, ok, changed, k.Dirty())
			}
		})
	}
}

func TestKeywords_full(t *testing.T) {
	k := &Keywords{}
	for i := range MaxKeywords {
		if _, ok, _ := k.Add("k" + string(rune('a'+i))); !ok {
			t.Fatalf("Add %d failed", i)
		}
	}
	if _, ok, _ := k.Add("one-more"); ok {
		t.Error("27th keyword accepted")
	}
	if l, ok, _ := k.Add("KZ"); !ok || l != 'z' {
		t.Errorf("existing keyword in full table: %c %v", l, ok)
	}
}

func TestKeywords_nameOrInvent(t *testing.T) {
	k := &Keywords{}
	k.names[0] = "unknown-23"
	if got := k.NameOrInvent('a'); got != "unknown-23" || k.Dirty() {
		t.Errorf("known: %q dirty %v", got, k.Dirty())
	}
	if got := k.NameOrInvent('x'); got != "unknown-23?" || !k.Dirty() {
		t.Errorf("invented: %q dirty %v", got, k.Dirty())
	}
	if got := k.NameOrInvent('c'); got != "unknown-2" {
		t.Errorf("invented: %q", got)
	}
	if l, ok := k.Letter("unknown-2"); !ok || l != 'c' {
		t.Errorf("invented name not recorded: %c %v", l, ok)
	}
	if got := k.NameOrInvent('{'); got != "" {
		t.Errorf("bad letter: %q", got)
	}
}

func TestWriteKeywords_roundTrip(t *testing.T) {
	dir := copyTestdata(t, "workclients")
	path := filepath.Join(dir, KeywordsName)
	future := time.Now().Add(time.Hour).Truncate(time.Second).Add(300 * time.Millisecond)
	if err := os.Chtimes(path, future, future); err != nil {
		t.Fatal(err)
	}
	k, err := ReadKeywords(dir)
	if err != nil {
		t.Fatal(err)
	}
	if l, ok, changed := k.Add("$Forwarded"); l != 'c' || !ok || !changed {
		t.Fatalf("Add = %c %v %v", l, ok, changed)
	}
	k.NameOrInvent('f')
	if err := WriteKeywords(dir, k); err != nil {
		t.Fatal(err)
	}
	if k.Dirty() {
		t.Error("still dirty after write")
	}
	want := "0 $label1\n1 Project-X\n2 $Forwarded\n5 unknown-5\n"
	if got := readFile(t, path); got != want {
		t.Errorf("file = %q, want %q", got, want)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if wantT := future.Truncate(time.Second).Add(time.Second); !st.ModTime().Equal(wantT) {
		t.Errorf("mtime = %v, want %v", st.ModTime(), wantT)
	}
	if _, err := os.Stat(path + ".lock"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock left: %v", err)
	}
	k2, err := ReadKeywords(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(k2.Names(), []string{"$label1", "Project-X", "$Forwarded", "unknown-5"}) {
		t.Errorf("re-read: %q", k2.Names())
	}
}

func TestWriteKeywords_newFileMtime(t *testing.T) {
	dir := t.TempDir()
	k := &Keywords{}
	k.Add("$Junk")
	before := time.Now().Truncate(time.Second)
	if err := WriteKeywords(dir, k); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, KeywordsName))
	if err != nil {
		t.Fatal(err)
	}
	if mt := st.ModTime(); mt.Before(before) || mt.Nanosecond() != 0 {
		t.Errorf("mtime = %v, want whole seconds >= %v", mt, before)
	}
	if got := readFile(t, filepath.Join(dir, KeywordsName)); got != "0 $Junk\n" {
		t.Errorf("file = %q", got)
	}
}
