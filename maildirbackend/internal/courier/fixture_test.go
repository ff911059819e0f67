package courier

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/tools/txtar"
)

// fixtureArchive is the Courier-IMAP 5.0 tree packed by
// maildirbackend/testdata/gen/gen_fixture.go.
const fixtureArchive = "testdata/courier-5.0.txtar"

// expected is the part of the fixture's expected.json these tests use.
type expected struct {
	Directories            []string `json:"directories"`
	SubscriptionsFileLines []string `json:"subscriptions_file_lines"`
	Folders                []struct {
		Name        string `json:"name"`
		DiskDir     string `json:"disk_dir"`
		UIDValidity uint32 `json:"uidvalidity"`
		UIDNext     uint32 `json:"uidnext"`
		Subscribed  bool   `json:"subscribed"`
		MessageList []struct {
			UID          uint32   `json:"uid"`
			Flags        []string `json:"flags"`
			BaseFilename string   `json:"base_filename"`
			Disk         struct {
				Path  string `json:"path"`
				MTime int64  `json:"mtime"`
			} `json:"disk"`
		} `json:"message_list"`
	} `json:"folders"`
}

// loadFixture unpacks the Courier fixture into a new temporary directory
// and returns its Maildir root and expected.json. The package cannot use
// maildirtest (which imports the backend, which imports this package), so
// this is a small copy of its loader: *.b64 files are decoded, and the
// directories and message mtimes git drops come from expected.json.
func loadFixture(t *testing.T) (string, *expected) {
	t.Helper()
	ar, err := txtar.ParseFile(fixtureArchive)
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "Maildir")
	exp := new(expected)
	for _, f := range ar.Files {
		name, data := f.Name, f.Data
		if n, ok := strings.CutSuffix(name, ".b64"); ok {
			data, err = base64.StdEncoding.DecodeString(string(bytes.ReplaceAll(data, []byte("\n"), nil)))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			name = n
		}
		if name == "expected.json" {
			if err := json.Unmarshal(data, exp); err != nil {
				t.Fatalf("expected.json: %v", err)
			}
			continue
		}
		rel, ok := strings.CutPrefix(name, "Maildir/")
		if !ok || strings.Contains(rel, "..") {
			t.Fatalf("bad archive entry %q", name)
		}
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range exp.Directories {
		if err := os.MkdirAll(filepath.Join(root, filepath.FromSlash(d)), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range exp.Folders {
		for _, m := range f.MessageList {
			mt := time.Unix(m.Disk.MTime, 0)
			if err := os.Chtimes(filepath.Join(root, filepath.FromSlash(m.Disk.Path)), mt, mt); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root, exp
}

// keywordsOf returns the keywords among IMAP flags (those without '\').
func keywordsOf(flags []string) []string {
	var kw []string
	for _, f := range flags {
		if !strings.HasPrefix(f, `\`) {
			kw = append(kw, f)
		}
	}
	return kw
}

// writeFile creates dir/name (and its parents) with content.
func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// snapshot returns every regular file under dir (relative slash path ->
// content), to prove Courier's files are left untouched.
func snapshot(t *testing.T, dir string, match func(rel string) bool) map[string]string {
	t.Helper()
	out := make(map[string]string)
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if match(rel) {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
