package dovecot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestNextUIDValidity_fixture(t *testing.T) {
	root := copyTestdata(t, "root")
	for _, want := range []uint32{1795833440, 1795833441} {
		got, err := NextUIDValidity(root)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("NextUIDValidity = %d, want %d", got, want)
		}
		if s := readFile(t, filepath.Join(root, UIDValidityName)); s != fmt.Sprintf("%08x", want) {
			t.Errorf("file = %q", s)
		}
		if _, err := os.Stat(markerPath(root, want)); err != nil {
			t.Errorf("marker for %d: %v", want, err)
		}
		if _, err := os.Stat(markerPath(root, want-1)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("old marker %08x still there: %v", want-1, err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "dovecot-uidvalidity.6b0a3e5f")); !errors.Is(err, os.ErrNotExist) {
		t.Error("fixture marker not renamed")
	}
	assertOnlyFiles(t, root, "dovecot-uidvalidity", "dovecot-uidvalidity.6b0a3e61", "subscriptions")
}

func assertOnlyFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if fmt.Sprint(got) != fmt.Sprint(names) {
		t.Errorf("files = %q, want %q", got, names)
	}
}

func TestNextUIDValidity_cases(t *testing.T) {
	tests := []struct {
		name    string
		file    string   // content of dovecot-uidvalidity; "" = absent
		markers []uint32 // existing markers
		want    uint32   // 0: "about now"
		left    []string // files afterwards
	}{
		{"file behind marker", "00000010", []uint32{0x11}, 0x12, []string{"dovecot-uidvalidity", "dovecot-uidvalidity.00000012"}},
		{"no file", "", []uint32{0x20}, 0x21, []string{"dovecot-uidvalidity", "dovecot-uidvalidity.00000021"}},
		{"several markers", "garbage", []uint32{0x10, 0x30, 0x20}, 0x31, []string{"dovecot-uidvalidity", "dovecot-uidvalidity.00000031"}},
		{"nothing", "", nil, 0, nil},
		{"file ahead of clock, no marker", "fffffff0", nil, 0xfffffff1, []string{"dovecot-uidvalidity", "dovecot-uidvalidity.fffffff1"}},
		{"wrap skips zero", "ffffffff", []uint32{0xffffffff}, 1, []string{"dovecot-uidvalidity", "dovecot-uidvalidity.00000001"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			if tt.file != "" {
				writeFile(t, root, UIDValidityName, tt.file)
			}
			for _, m := range tt.markers {
				writeFile(t, root, filepath.Base(markerPath(root, m)), "")
			}
			before := uint32(time.Now().Unix())
			got, err := NextUIDValidity(root)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == 0 {
				if got < before || got > uint32(time.Now().Unix()) {
					t.Errorf("got %d, want about %d", got, before)
				}
				st, err := os.Stat(markerPath(root, got))
				if err != nil {
					t.Fatal(err)
				}
				if st.Mode().Perm() != 0o444 {
					t.Errorf("marker mode %v", st.Mode())
				}
				return
			}
			if got != tt.want {
				t.Errorf("got %#x, want %#x", got, tt.want)
			}
			assertOnlyFiles(t, root, tt.left...)
		})
	}
}

func TestNextUIDValidity_concurrent(t *testing.T) {
	root := copyTestdata(t, "root")
	const n = 8
	var wg sync.WaitGroup
	got := make(chan uint32, n)
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := NextUIDValidity(root)
			if err != nil {
				errs <- err
				return
			}
			got <- v
		}()
	}
	wg.Wait()
	close(got)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[uint32]bool{}
	for v := range got {
		if seen[v] || v < 1795833440 || v >= 1795833440+n {
			t.Errorf("value %d repeated or out of range", v)
		}
		seen[v] = true
	}
}
