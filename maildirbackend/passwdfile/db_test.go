package passwdfile_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/passwdfile"
)

// writeAtomic replaces path like `doveadm`-driven scripts and editors do: a
// new file renamed over the old one.
func writeAtomic(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func newTestDB(t *testing.T, content string) (*passwdfile.DB, string, *bytes.Buffer) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	db, err := passwdfile.OpenDB(path, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatalf("OpenDB: %v", err)
	}
	return db, path, &logs
}

func wantVerify(t *testing.T, db *passwdfile.DB, user, pw string, ok bool) {
	t.Helper()
	u, err := db.Verify(user, pw)
	switch {
	case ok && (err != nil || u == nil):
		t.Fatalf("Verify(%q, %q) = %v, %v; want success", user, pw, u, err)
	case !ok && !errors.Is(err, passwdfile.ErrAuthFailed):
		t.Fatalf("Verify(%q, %q) = %v, %v; want ErrAuthFailed", user, pw, u, err)
	}
}

func TestDB_reloadOnRename(t *testing.T) {
	db, path, _ := newTestDB(t, "alice:{PLAIN}alicepw\n")
	wantVerify(t, db, "alice", "alicepw", true)
	wantVerify(t, db, "bob", "bobpw", false)

	writeAtomic(t, path, "alice:{PLAIN}alicepw\nbob:{PLAIN}bobpw\n")
	wantVerify(t, db, "bob", "bobpw", true)
	if u, ok := db.Lookup("bob"); !ok || u.Line != 2 {
		t.Errorf("Lookup(bob) = %v, %v", u, ok)
	}

	writeAtomic(t, path, "bob:{PLAIN}bobpw\n")
	wantVerify(t, db, "alice", "alicepw", false)
}

func TestDB_reloadInPlaceSameSize(t *testing.T) {
	db, path, _ := newTestDB(t, "alice:{PLAIN}old-pw\n")
	wantVerify(t, db, "alice", "old-pw", true)
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	// Same inode, same size: only the mtime tells. Set it explicitly so the
	// test does not depend on the file system's timestamp granularity.
	if err := os.WriteFile(path, []byte("alice:{PLAIN}new-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, time.Time{}, before.ModTime().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	wantVerify(t, db, "alice", "new-pw", true)
	wantVerify(t, db, "alice", "old-pw", false)
}

func TestDB_keepsUsersWhenFileVanishes(t *testing.T) {
	db, path, logs := newTestDB(t, "alice:{PLAIN}alicepw\n")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	wantVerify(t, db, "alice", "alicepw", true)
	wantVerify(t, db, "alice", "alicepw", true)
	if n := strings.Count(logs.String(), "passwd-file unavailable"); n != 1 {
		t.Errorf("logged the missing file %d times, want once:\n%s", n, logs)
	}
	if err := db.Reload(); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Reload = %v, want ErrNotExist", err)
	}
	writeAtomic(t, path, "bob:{PLAIN}bobpw\n")
	wantVerify(t, db, "bob", "bobpw", true)
	wantVerify(t, db, "alice", "alicepw", false)
}

func TestDB_problems(t *testing.T) {
	db, path, logs := newTestDB(t, "alice:{PLAIN}alicepw\n")
	if p := db.Problems(); p != nil {
		t.Fatalf("Problems = %v", p)
	}
	writeAtomic(t, path, "alice:{PLAIN}alicepw\nbob:{FOO}x\n")
	wantVerify(t, db, "alice", "alicepw", true)
	p := db.Problems()
	if len(p) != 1 || !strings.Contains(p[0].Error(), `line 2: user "bob": unknown password scheme "FOO"`) {
		t.Errorf("Problems = %v", p)
	}
	if !strings.Contains(logs.String(), "unknown password scheme") {
		t.Errorf("problem not logged:\n%s", logs)
	}
	if strings.Contains(logs.String(), "alicepw") {
		t.Errorf("log contains a password:\n%s", logs)
	}
}

func TestDB_openMissing(t *testing.T) {
	if _, err := passwdfile.OpenDB(filepath.Join(t.TempDir(), "nope"), nil); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("OpenDB = %v, want ErrNotExist", err)
	}
}

func TestDB_concurrent(t *testing.T) {
	db, path, _ := newTestDB(t, "u0:{PLAIN}pw0\n")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := db.Verify("u0", "pw0"); err != nil {
					t.Errorf("Verify(u0) = %v", err)
					return
				}
				db.Lookup("u1")
			}
		}()
	}
	var content strings.Builder
	content.WriteString("u0:{PLAIN}pw0\n")
	for i := 1; i <= 20; i++ {
		fmt.Fprintf(&content, "u%d:{PLAIN}pw%d\n", i, i)
		writeAtomic(t, path, content.String())
		wantVerify(t, db, fmt.Sprintf("u%d", i), fmt.Sprintf("pw%d", i), true)
	}
	close(stop)
	wg.Wait()
	if n := len(db.File().Users()); n != 21 {
		t.Errorf("users = %d, want 21", n)
	}
}

func TestDB_reloadSameSizeSameTick(t *testing.T) {
	db, path, logs := newTestDB(t, "alice:{PLAIN}old-pw\n")
	wantVerify(t, db, "alice", "old-pw", true)
	// Rewritten in place at once: same inode, same size, and possibly the
	// same mtime. The recent mtime makes the DB read again.
	if err := os.WriteFile(path, []byte("alice:{PLAIN}new-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wantVerify(t, db, "alice", "new-pw", true)
	wantVerify(t, db, "alice", "old-pw", false)
	if n := strings.Count(logs.String(), "passwd-file loaded"); n != 2 {
		t.Errorf("loaded %d times, want 2 (unchanged re-reads are silent):\n%s", n, logs)
	}
}
