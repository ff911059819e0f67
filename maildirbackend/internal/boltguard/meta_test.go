package boltguard

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/internal/boltguard/boltguardtest"
)

// filledFile is a closed file of filled, with its freelist stored.
func filledFile(t *testing.T) string {
	t.Helper()
	d, path := filled(t)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestOpen_refused: files whose meta pages bbolt would open into a walk
// that ends the process, or that are no bbolt file at all, are refused
// with ErrInvalid before bbolt sees them; a good file opens.
func TestOpen_refused(t *testing.T) {
	tests := []struct {
		name  string
		spoil func(t testing.TB, path string)
		want  error // nil: opens
	}{
		{"good", func(testing.TB, string) {}, nil},
		{"noFreelist", boltguardtest.DropFreelist, ErrInvalid},
		{"crafted", boltguardtest.Craft, ErrInvalid},
		{"badChecksums", boltguardtest.BreakMetas, ErrInvalid},
		{"fewBytes", func(t testing.TB, path string) { write(t, path, []byte("garbage\n")) }, ErrInvalid},
		{"zeroPages", func(t testing.TB, path string) { write(t, path, make([]byte, 3*4096)) }, ErrInvalid},
		{"freelistNotAFreelist", func(t testing.TB, path string) {
			boltguardtest.SetMeta(t, path, 32, 3) // the root bucket's page
		}, ErrInvalid},
		{"freelistPastEnd", func(t testing.TB, path string) {
			boltguardtest.SetMeta(t, path, 32, 1<<40)
		}, ErrInvalid},
		{"pageSize", func(t testing.TB, path string) {
			boltguardtest.SetMeta(t, path, 8, 1000)
		}, ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filledFile(t)
			tc.spoil(t, path)
			d, err := Open(path, 0o600, &bolt.Options{Timeout: 100e6})
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if err := d.View(readAll); err != nil {
					t.Fatal(err)
				}
				d.Close()
				return
			}
			if !errors.Is(err, tc.want) {
				if d != nil {
					d.Close()
				}
				t.Fatalf("Open: %v, want %v", err, tc.want)
			}
			// The refused file's flock is gone: a new file can be
			// created in its place and opened.
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			d, err = Open(path, 0o600, &bolt.Options{Timeout: 100e6})
			if err != nil {
				t.Fatal(err)
			}
			d.Close()
		})
	}
}

// TestOpen_lockedElsewhere: a file another process holds is not read, and
// gives bolt.ErrTimeout as bbolt's Open does, even when it is one that
// would be refused.
func TestOpen_lockedElsewhere(t *testing.T) {
	path := filledFile(t)
	held, err := bolt.Open(path, 0o600, nil) // another open file: its flock conflicts
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	boltguardtest.BreakMetas(t, path)
	if _, err := Open(path, 0o600, &bolt.Options{Timeout: 100e6}); !errors.Is(err, bolt.ErrTimeout) {
		t.Fatalf("Open: %v, want bolt.ErrTimeout", err)
	}
}

// TestOpen_craftedKillsBbolt shows why: bbolt's own Open of the crafted
// file ends the process (a panic in freepages' goroutine), which a
// subprocess of this test binary does. Open refuses the same file.
func TestOpen_craftedKillsBbolt(t *testing.T) {
	if path := os.Getenv("BOLTGUARD_CRAFTED"); path != "" {
		protect(func() { bolt.Open(path, 0o600, nil) }) // recovers what it can
		os.Exit(0)
	}
	path := filledFile(t)
	boltguardtest.Craft(t, path)
	cmd := exec.Command(os.Args[0], "-test.run=^TestOpen_craftedKillsBbolt$")
	cmd.Env = append(os.Environ(), "BOLTGUARD_CRAFTED="+path)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "freepages: failed to get all reachable pages") {
		t.Fatalf("bbolt's Open of the crafted file: %v, want the process ended in freepages:\n%s", err, out)
	}
	if _, err := Open(path, 0o600, nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Open: %v, want ErrInvalid", err)
	}
}

func write(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
