package watch

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer collects log output written by the watcher's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestWatcher_networkFSPolled: a folder the statfs check puts on a network
// file system keeps its inotify watches and is also polled every
// PollInterval (the safety check is off here), so a change inotify
// reported is looked at again by the poller; a local folder is not. The
// folder is logged once, however often it is subscribed.
func TestWatcher_networkFSPolled(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fs     string
		rescan bool
	}{
		{"nfs", "nfs", true},
		{"local", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs lockedBuffer
			w, err := New(&Options{
				Logger:         slog.New(slog.NewTextHandler(&logs, nil)),
				PollInterval:   50 * time.Millisecond,
				SafetyInterval: -1,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			w.fsOf = func(string) string { return tc.fs }
			dir := testFolder(t)
			s, err := w.Subscribe(dir)
			if err != nil {
				t.Fatal(err)
			}
			st := w.Stats()
			if st.Watches != 2 || (st.PolledFolders == 1) != tc.rescan {
				t.Fatalf("stats %+v: want 2 watches and PolledFolders %t", st, tc.rescan)
			}
			if err := os.WriteFile(filepath.Join(dir, "new", "1.x"), []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
			if b := waitBatch(t, s); b.Rescan || len(b.Names) == 0 {
				t.Fatalf("first batch %+v: want the inotify names", b)
			}
			// The poller's verdict on the changed signature: Rescan on
			// a network file system, nothing on a local one.
			timer := time.NewTimer(20 * (50 * time.Millisecond))
			defer timer.Stop()
			got := false
		wait:
			for {
				select {
				case <-s.Ready():
					if s.Drain().Rescan {
						got = true
						break wait
					}
				case <-timer.C:
					break wait
				}
			}
			if got != tc.rescan {
				t.Fatalf("poller Rescan = %t, want %t", got, tc.rescan)
			}

			s2, err := w.Subscribe(dir)
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
			s2.Close()
			s3, err := w.Subscribe(dir)
			if err != nil {
				t.Fatal(err)
			}
			s3.Close()
			want := 0
			if tc.fs != "" {
				want = 1
			}
			if n := strings.Count(logs.String(), "network file system"); n != want {
				t.Fatalf("%d log lines about the network file system, want %d:\n%s", n, want, logs.String())
			}
		})
	}
}
