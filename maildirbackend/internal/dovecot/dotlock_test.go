package dovecot

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

func ourContent(t *testing.T) string {
	t.Helper()
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(os.Getpid()) + ":" + host
}

func TestLockUIDList_content(t *testing.T) {
	dir := t.TempDir()
	l, err := LockUIDList(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "dovecot-uidlist.lock")
	if got := readFile(t, path); got != ourContent(t) {
		t.Errorf("lock content = %q, want %q", got, ourContent(t))
	}
	if l.Path() != path {
		t.Errorf("Path() = %q", l.Path())
	}
	if err := l.Check(); err != nil {
		t.Errorf("Check: %v", err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock still there: %v", err)
	}
	if err := l.Unlock(); err != nil {
		t.Errorf("second Unlock: %v", err)
	}
}

func TestDotlock_contentionGoroutines(t *testing.T) {
	dir := t.TempDir()
	a, err := LockUIDList(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	// While a holds the lock, a short wait must time out.
	if _, err := LockUIDList(dir, 20*time.Millisecond); !errors.Is(err, ErrLockTimeout) {
		t.Fatalf("second lock: err = %v, want ErrLockTimeout", err)
	}
	got := make(chan error, 1)
	go func() {
		b, err := LockUIDList(dir, time.Minute)
		if err == nil {
			err = b.Unlock()
		}
		got <- err
	}()
	if err := a.Unlock(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("waiter never got the lock")
	}
}

func TestDotlock_stale(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		content string
		age     time.Duration // lock mtime set this far back
		opts    DotlockOptions
		wantErr error
	}{
		{"dead pid on our host", "99999999:" + host, 10 * time.Second, DotlockOptions{Timeout: time.Minute}, nil},
		{"dead pid but too young", "99999999:" + host, 0, DotlockOptions{Timeout: 20 * time.Millisecond}, ErrLockTimeout},
		{"other host unchanged", "99999999:otherhost", 0, DotlockOptions{Timeout: time.Minute, Stale: 50 * time.Millisecond}, nil},
		{"other host within stale time", "1:otherhost", 10 * time.Second, DotlockOptions{Timeout: 20 * time.Millisecond}, ErrLockTimeout},
		{"live pid on our host", strconv.Itoa(os.Getpid()) + ":" + host, 10 * time.Second, DotlockOptions{Timeout: 20 * time.Millisecond}, ErrLockTimeout},
		{"garbage content unchanged", "garbage", 0, DotlockOptions{Timeout: time.Minute, Stale: 50 * time.Millisecond}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "dovecot-uidlist.lock")
			// Another process writes the lock, as a crashed Dovecot would have.
			cmd := exec.Command("sh", "-c", `printf '%s' "$1" > "$2"`, "sh", tt.content, path)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("sh: %v: %s", err, out)
			}
			if tt.age > 0 {
				old := time.Now().Add(-tt.age)
				if err := os.Chtimes(path, old, old); err != nil {
					t.Fatal(err)
				}
			}
			opts := tt.opts
			opts.Watch = filepath.Join(dir, UIDListName)
			l, err := Dotlock(path, &opts)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if got := readFile(t, path); got != tt.content {
					t.Errorf("foreign lock changed to %q", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := readFile(t, path); got != ourContent(t) {
				t.Errorf("lock content = %q", got)
			}
			if err := l.Unlock(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestLockUIDList_staleTimeoutVar(t *testing.T) {
	old := UIDListStaleTimeout
	UIDListStaleTimeout = 50 * time.Millisecond
	t.Cleanup(func() { UIDListStaleTimeout = old })
	dir := t.TempDir()
	writeFile(t, dir, "dovecot-uidlist.lock", "12345:otherhost")
	l, err := LockUIDList(dir, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
}

func TestLock_overridden(t *testing.T) {
	tests := []struct {
		name   string
		modify func(t *testing.T, path string)
	}{
		{"content replaced", func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte("1:elsewhere"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"same content new file", func(t *testing.T, path string) {
			// Another goroutine of this process broke and re-took the lock:
			// same "<pid>:<host>", different inode.
			tmp := writeFile(t, filepath.Dir(path), "other.tmp", ourContent(t))
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			l, err := LockUIDList(dir, 0)
			if err != nil {
				t.Fatal(err)
			}
			tt.modify(t, l.Path())
			want := readFile(t, l.Path())
			if err := l.Check(); !errors.Is(err, ErrLockOverridden) {
				t.Errorf("Check: %v", err)
			}
			if err := l.Unlock(); !errors.Is(err, ErrLockOverridden) {
				t.Errorf("Unlock: %v", err)
			}
			if got := readFile(t, l.Path()); got != want {
				t.Errorf("foreign lock changed: %q", got)
			}
		})
	}
}

func TestLock_removedIsOverridden(t *testing.T) {
	dir := t.TempDir()
	l, err := LockUIDList(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(l.Path()); err != nil {
		t.Fatal(err)
	}
	if err := l.Unlock(); !errors.Is(err, ErrLockOverridden) {
		t.Errorf("Unlock: %v", err)
	}
}

func TestLock_toucher(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.lock")
	l, err := Dotlock(path, &DotlockOptions{TouchInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.ModTime().After(old.Add(30 * time.Minute)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("lock never touched")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestUIDList_concurrentAppend runs the writer cycle (lock, read, append
// Next(), unlock) from 8 goroutines; no UID may be handed out twice.
func TestUIDList_concurrentAppend(t *testing.T) {
	dir := copyTestdata(t, "inbox")
	path := filepath.Join(dir, UIDListName)
	const workers = 8
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- func() error {
				l, err := LockUIDList(dir, time.Minute)
				if err != nil {
					return err
				}
				defer l.Unlock()
				ul, err := ReadUIDList(path)
				if err != nil {
					return err
				}
				rec := Record{UID: ul.Next(), Key: "new-" + strconv.Itoa(i)}
				if err := AppendRecords(path, []Record{rec}); err != nil {
					return err
				}
				if err := l.Check(); err != nil {
					return err
				}
				return l.Unlock()
			}()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	l, err := ReadUIDList(path) // fails on a repeated or descending UID
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Records) != 13+workers || l.Next() != 16+workers || l.NeedsRewrite {
		t.Errorf("records %d, next %d, rewrite %v", len(l.Records), l.Next(), l.NeedsRewrite)
	}
	if _, err := os.Stat(filepath.Join(dir, "dovecot-uidlist.lock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock left behind: %v", err)
	}
}
