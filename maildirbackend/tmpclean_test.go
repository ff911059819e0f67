package maildirbackend

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestCleanTmp(t *testing.T) {
	dir := t.TempDir()
	tmp := filepath.Join(dir, "tmp")
	if err := os.MkdirAll(filepath.Join(tmp, "subdir"), 0o700); err != nil {
		t.Fatal(err)
	}
	write := func(name string) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// An APPEND in flight of a message dated 1999: its mtime is old, its
	// ctime is now. It must stay.
	inflight := write("inflight")
	old := time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(inflight, old, old); err != nil {
		t.Fatal(err)
	}
	fresh := write("fresh")
	if err := os.Symlink("/nonexistent", filepath.Join(tmp, "link")); err != nil {
		t.Fatal(err)
	}

	now := time.Now()
	if n, err := cleanTmp(dir, now); err != nil || n != 0 {
		t.Fatalf("cleanTmp(now) = %d, %v; want 0 removed", n, err)
	}
	for _, p := range []string{inflight, fresh} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s removed too early: %v", filepath.Base(p), err)
		}
	}
	// 35 hours on, nothing is old enough yet.
	if n, err := cleanTmp(dir, now.Add(35*time.Hour)); err != nil || n != 0 {
		t.Fatalf("cleanTmp(+35h) = %d, %v; want 0", n, err)
	}
	// 37 hours on, every file (and the link itself) is an interrupted
	// delivery; the directory stays.
	n, err := cleanTmp(dir, now.Add(37*time.Hour))
	if err != nil || n != 3 {
		t.Fatalf("cleanTmp(+37h) = %d, %v; want 3", n, err)
	}
	names, _ := os.ReadDir(tmp)
	if len(names) != 1 || names[0].Name() != "subdir" {
		t.Fatalf("tmp/ holds %v; want only subdir", names)
	}
	if n, err := cleanTmp(t.TempDir(), now); err != nil || n != 0 {
		t.Fatalf("cleanTmp of a folder without tmp/ = %d, %v", n, err)
	}
}
