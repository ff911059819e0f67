package watch

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
)

const deadline = 20 * time.Second

func testWatcher(t *testing.T, opts Options) *Watcher {
	t.Helper()
	opts.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	w, err := New(&opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func testFolder(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"new", "cur", "tmp"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// waitBatch waits for Ready and returns the next non-empty Batch.
func waitBatch(t *testing.T, s *Subscription) Batch {
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
			t.Fatal("no change reported")
		}
	}
}

func TestWatcher_overflow(t *testing.T) {
	w := testWatcher(t, Options{})
	a, err := w.Subscribe(testFolder(t))
	if err != nil {
		t.Fatal(err)
	}
	b, err := w.Subscribe(testFolder(t))
	if err != nil {
		t.Fatal(err)
	}
	// The kernel's IN_Q_OVERFLOW reaches us as this error; twice, to log once.
	w.handleError(fsnotify.ErrEventOverflow)
	w.handleError(fmt.Errorf("read: %w", fsnotify.ErrEventOverflow))
	for _, s := range []*Subscription{a, b} {
		if got := waitBatch(t, s); !got.Rescan || got.Names != nil {
			t.Fatalf("batch = %+v, want Rescan without names", got)
		}
	}
	if st := w.Stats(); st.Overflows != 2 {
		t.Fatalf("Overflows = %d, want 2", st.Overflows)
	}
}

func TestWatcher_noInotify(t *testing.T) {
	opts := &Options{
		Logger:         slog.New(slog.NewTextHandler(t.Output(), nil)),
		PollInterval:   50 * time.Millisecond,
		SafetyInterval: -1,
	}
	w := newWatcher(opts, nil, fmt.Errorf("inotify_init1: %w", syscall.EMFILE))
	defer w.Close()
	folder := testFolder(t)
	s, err := w.Subscribe(folder)
	if err != nil {
		t.Fatal(err)
	}
	st := w.Stats()
	if st.Watches != 0 || st.PolledFolders != 1 || st.Fallback == "" {
		t.Fatalf("stats = %+v, want the folder polled", st)
	}
	if err := os.WriteFile(filepath.Join(folder, "new", "m1"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := waitBatch(t, s); !got.Rescan {
		t.Fatalf("batch = %+v, want Rescan", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestSubscription_pendingCap(t *testing.T) {
	w := testWatcher(t, Options{})
	s, err := w.Subscribe(testFolder(t))
	if err != nil {
		t.Fatal(err)
	}
	for i := range maxPending {
		s.add(fmt.Sprintf("new/%d", i))
		s.add(fmt.Sprintf("new/%d", i)) // deduplicated
	}
	if got := s.Drain(); len(got.Names) != maxPending || got.Rescan {
		t.Fatalf("Drain: %d names, rescan %t; want %d names", len(got.Names), got.Rescan, maxPending)
	}
	for i := range maxPending + 1 {
		s.add(fmt.Sprintf("cur/%d", i))
	}
	if got := s.Drain(); got.Names != nil || !got.Rescan {
		t.Fatalf("Drain past the cap: %d names, rescan %t; want Rescan only", len(got.Names), got.Rescan)
	}
	select {
	case <-s.Ready():
		t.Fatal("Ready still signalled after Drain")
	default:
	}
}

// TestWatcher_safetyCheckWithoutEvents removes the kernel watch behind the
// Watcher's back, as on NFS where other hosts' changes make no events.
func TestWatcher_safetyCheckWithoutEvents(t *testing.T) {
	w := testWatcher(t, Options{SafetyInterval: 50 * time.Millisecond})
	folder := testFolder(t)
	s, err := w.Subscribe(folder)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.fsw.Remove(filepath.Join(folder, "new")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(folder, "new", "m1"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := waitBatch(t, s); !got.Rescan {
		t.Fatalf("batch = %+v, want Rescan", got)
	}
	if err := s.Close(); err != nil { // the watch is already gone: not an error
		t.Fatal(err)
	}
}

func TestDirSig_same(t *testing.T) {
	base := dirSig{exists: true, dev: 1, ino: 2, size: 4096, mtime: 10, ctime: 11}
	tests := []struct {
		name string
		b    dirSig
		want bool
	}{
		{"equal", base, true},
		{"racy ignored", func() dirSig { s := base; s.racy = true; return s }(), true},
		{"mtime", func() dirSig { s := base; s.mtime++; return s }(), false},
		{"ctime", func() dirSig { s := base; s.ctime++; return s }(), false},
		{"inode", func() dirSig { s := base; s.ino++; return s }(), false},
		{"size", func() dirSig { s := base; s.size++; return s }(), false},
		{"missing", dirSig{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := base.same(tt.b); got != tt.want {
				t.Fatalf("same(%v, %v) = %t, want %t", base, tt.b, got, tt.want)
			}
		})
	}
}
