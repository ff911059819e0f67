package maildirbackend

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCandidate_openContentAfterRename: a search opens a message under the
// name it had when the search began; when another program renamed it
// since (new/ to cur/ with a flag), the file is found under its new name.
func TestCandidate_openContentAfterRename(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	const key = "1700000000.M1P1.test"
	const body = "Subject: moved\n\nthe text\n"
	if err := os.WriteFile(filepath.Join(root, "new", key), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	be, err := New(&Options{NoFullTextIndex: true, FolderLinger: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	a, err := be.openAccount(root)
	if err != nil {
		t.Fatal(err)
	}
	defer be.closeAccount(a)
	f, err := a.acquire(inboxName)
	if err != nil {
		t.Fatal(err)
	}
	defer a.release(f)
	f.mu.Lock()
	m := f.byKey[key]
	f.mu.Unlock()
	if m == nil {
		t.Fatal("the message was not loaded")
	}
	stale := msgWhere{inNew: true}
	if err := os.Rename(filepath.Join(root, "new", key), filepath.Join(root, "cur", key+":2,S")); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		where *msgWhere
	}{
		{"stale name", &stale},
		{"no table", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := &candidate{f: f, uid: m.uid, key: key, where: tt.where}
			defer c.close()
			file, _, err := c.openContent()
			if err != nil || file == nil {
				t.Fatalf("openContent = %v, %v; want the renamed file", file, err)
			}
			b, err := io.ReadAll(file)
			if err != nil || !strings.Contains(string(b), "the text") {
				t.Errorf("read %q, %v", b, err)
			}
		})
	}
}
