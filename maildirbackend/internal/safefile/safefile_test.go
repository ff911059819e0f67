package safefile

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "regular")
	if err := os.WriteFile(regular, []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("password hash"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(secret, link); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadFile(regular, 100); err != nil || string(b) != "data" {
		t.Fatalf("ReadFile(regular) = %q, %v", b, err)
	}
	if _, err := ReadFile(regular, 3); err == nil {
		t.Fatal("ReadFile over the limit succeeded")
	}
	for _, p := range []string{link, fifo, dir} {
		done := make(chan error, 1)
		go func() {
			_, err := ReadFile(p, 100)
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, ErrNotRegular) {
				t.Errorf("ReadFile(%s) = %v, want ErrNotRegular", filepath.Base(p), err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("ReadFile(%s) blocked", filepath.Base(p))
		}
		if _, err := OpenAppend(p); !errors.Is(err, ErrNotRegular) && !errors.Is(err, syscall.EISDIR) {
			t.Errorf("OpenAppend(%s) = %v, want ErrNotRegular", filepath.Base(p), err)
		}
	}
	if _, err := Open(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open(missing) = %v", err)
	}
}
