package watch_test

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/maildir-imapd/maildir-imapd/watch"
)

// deadline bounds every wait; tests never assert on timings.
const deadline = 20 * time.Second

// testLogger logs through the test's output.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// newWatcher starts a Watcher that the test closes at cleanup.
func newWatcher(t testing.TB, opts watch.Options) *watch.Watcher {
	t.Helper()
	opts.Logger = testLogger(t)
	w, err := watch.New(&opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return w
}

// makeFolder creates a Maildir folder (new/, cur/, tmp/) at root/name.
func makeFolder(t testing.TB, root, name string) string {
	t.Helper()
	dir := filepath.Join(root, name)
	for _, d := range []string{"new", "cur", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// deliver does what an MTA does: write tmp/name, fsync, rename to new/name.
func deliver(t testing.TB, folder, name string) {
	t.Helper()
	tmp := filepath.Join(folder, "tmp", name)
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("Subject: test\r\n\r\nbody\r\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(folder, "new", name)); err != nil {
		t.Fatal(err)
	}
}

// subscribe subscribes to folder; the test closes the subscription at cleanup.
func subscribe(t testing.TB, w *watch.Watcher, folder string) *watch.Subscription {
	t.Helper()
	s, err := w.Subscribe(folder)
	if err != nil {
		t.Fatalf("Subscribe(%s): %v", folder, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// next waits for Ready and returns the next non-empty Batch.
func next(t testing.TB, s *watch.Subscription) watch.Batch {
	t.Helper()
	timer := time.NewTimer(deadline)
	defer timer.Stop()
	for {
		select {
		case <-s.Ready():
			if b := s.Drain(); !b.Empty() {
				return b
			}
		case <-timer.C:
			t.Fatalf("no change reported for %s within %v", s.Folder(), deadline)
			return watch.Batch{}
		}
	}
}

// waitNames drains s until every name in want was reported or a Rescan came,
// and returns the names seen and whether a Rescan came.
func waitNames(t testing.TB, s *watch.Subscription, want ...string) (seen []string, rescan bool) {
	t.Helper()
	missing := make(map[string]bool)
	for _, n := range want {
		missing[n] = true
	}
	for len(missing) > 0 {
		b := next(t, s)
		if b.Rescan {
			return seen, true
		}
		for _, n := range b.Names {
			seen = append(seen, n)
			delete(missing, n)
		}
	}
	return seen, false
}

// waitRescan drains s until a Batch has Rescan set.
func waitRescan(t testing.TB, s *watch.Subscription) {
	t.Helper()
	for !next(t, s).Rescan {
	}
}

// deliverUntilNamed delivers to folder until s reports a delivery by name:
// Rescans may still be pending while the Watcher restores its watches.
func deliverUntilNamed(t testing.TB, s *watch.Subscription, folder string) {
	t.Helper()
	for i := 1; i <= 100; i++ {
		name := fmt.Sprintf("m%d", i)
		deliver(t, folder, name)
		if _, rescan := waitNames(t, s, "new/"+name); !rescan {
			return
		}
	}
	t.Fatalf("deliveries to %s are never reported by name", folder)
}

// hasAll reports whether got contains every name of want.
func hasAll(got []string, want ...string) bool {
	for _, n := range want {
		if !slices.Contains(got, n) {
			return false
		}
	}
	return true
}
