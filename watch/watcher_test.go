package watch_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/maildir-imapd/maildir-imapd/watch"
)

func TestSubscription_changes(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(t *testing.T, folder string) // before Subscribe
		change func(t *testing.T, folder string)
		want   []string
	}{
		{
			name:   "delivery",
			change: func(t *testing.T, folder string) { deliver(t, folder, "1700000000.M1P1.host,S=24") },
			want:   []string{"new/1700000000.M1P1.host,S=24"},
		},
		{
			name: "flag rename in cur",
			setup: func(t *testing.T, folder string) {
				writeFile(t, filepath.Join(folder, "cur", "k:2,S"))
			},
			change: func(t *testing.T, folder string) {
				rename(t, filepath.Join(folder, "cur", "k:2,S"), filepath.Join(folder, "cur", "k:2,FS"))
			},
			want: []string{"cur/k:2,S", "cur/k:2,FS"},
		},
		{
			name: "move from new to cur",
			setup: func(t *testing.T, folder string) {
				writeFile(t, filepath.Join(folder, "new", "k"))
			},
			change: func(t *testing.T, folder string) {
				rename(t, filepath.Join(folder, "new", "k"), filepath.Join(folder, "cur", "k:2,"))
			},
			want: []string{"new/k", "cur/k:2,"},
		},
		{
			name: "unlink",
			setup: func(t *testing.T, folder string) {
				writeFile(t, filepath.Join(folder, "cur", "k:2,S"))
			},
			change: func(t *testing.T, folder string) {
				if err := os.Remove(filepath.Join(folder, "cur", "k:2,S")); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"cur/k:2,S"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWatcher(t, watch.Options{})
			folder := makeFolder(t, t.TempDir(), "Maildir")
			if tt.setup != nil {
				tt.setup(t, folder)
			}
			s := subscribe(t, w, folder)
			tt.change(t, folder)
			seen, rescan := waitNames(t, s, tt.want...)
			if rescan {
				t.Fatalf("got Rescan, want names %q (seen %q)", tt.want, seen)
			}
			if !hasAll(seen, tt.want...) {
				t.Fatalf("names = %q, want %q", seen, tt.want)
			}
		})
	}
}

func TestSubscription_burst(t *testing.T) {
	const n = 1000
	w := newWatcher(t, watch.Options{})
	folder := makeFolder(t, t.TempDir(), "Maildir")
	s := subscribe(t, w, folder)

	want := make(map[string]bool, n)
	for i := range n {
		name := fmt.Sprintf("1700000000.M%dP1.host", i)
		deliver(t, folder, name)
		want["new/"+name] = true
	}
	// The consumer starts late, as a busy one would: everything it sees
	// comes in few batches.
	wakeups := 0
	for len(want) > 0 {
		b := next(t, s)
		wakeups++
		if b.Rescan {
			break // a rescan covers every name
		}
		for _, name := range b.Names {
			if !want[name] {
				t.Fatalf("unexpected or duplicate name %q", name)
			}
			delete(want, name)
		}
	}
	t.Logf("%d deliveries in %d wakeups", n, wakeups)
}

func TestWatcher_sharedFolder(t *testing.T) {
	w := newWatcher(t, watch.Options{})
	folder := makeFolder(t, t.TempDir(), "Maildir")
	a := subscribe(t, w, folder)
	b := subscribe(t, w, folder)
	if st := w.Stats(); st.Folders != 1 || st.Subscriptions != 2 || st.Watches != 2 || st.PolledFolders != 0 {
		t.Fatalf("stats = %+v, want 1 folder, 2 subscriptions, 2 watches", st)
	}

	deliver(t, folder, "m1")
	for _, s := range []*watch.Subscription{a, b} {
		if _, rescan := waitNames(t, s, "new/m1"); rescan {
			t.Fatal("unexpected Rescan")
		}
	}

	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil { // idempotent
		t.Fatal(err)
	}
	deliver(t, folder, "m2")
	if _, rescan := waitNames(t, b, "new/m2"); rescan {
		t.Fatal("unexpected Rescan")
	}
	if got := a.Drain(); !got.Empty() {
		t.Fatalf("Drain after Close = %+v, want empty", got)
	}
	if st := w.Stats(); st.Watches != 2 || st.Subscriptions != 1 {
		t.Fatalf("stats after one Close = %+v, want 2 watches, 1 subscription", st)
	}

	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if st := w.Stats(); st.Folders != 0 || st.Watches != 0 || st.Subscriptions != 0 {
		t.Fatalf("stats after both Close = %+v, want nothing watched", st)
	}

	// The folder can be subscribed again.
	c := subscribe(t, w, folder)
	deliver(t, folder, "m3")
	if _, rescan := waitNames(t, c, "new/m3"); rescan {
		t.Fatal("unexpected Rescan")
	}
}

func TestWatcher_siblingFolders(t *testing.T) {
	w := newWatcher(t, watch.Options{})
	root := makeFolder(t, t.TempDir(), "Maildir")
	work := makeFolder(t, root, ".Work")
	clients := makeFolder(t, root, ".Work.Clients")
	sInbox := subscribe(t, w, root)
	sWork := subscribe(t, w, work)
	sClients := subscribe(t, w, clients)

	// One inotify queue keeps order: each marker comes after the deliveries
	// to the other folders, so a batch holding only the marker proves that
	// nothing crossed over.
	deliver(t, clients, "c1")
	deliver(t, root, "i1")
	deliver(t, work, "w1")
	for _, tc := range []struct {
		s    *watch.Subscription
		want string
	}{{sWork, "new/w1"}, {sClients, "new/c1"}, {sInbox, "new/i1"}} {
		seen, rescan := waitNames(t, tc.s, tc.want)
		if rescan || !slices.Equal(seen, []string{tc.want}) {
			t.Errorf("%s: names = %q (rescan %t), want only %q", tc.s.Folder(), seen, rescan, tc.want)
		}
	}
	deliver(t, clients, "c2")
	deliver(t, work, "w2")
	if seen, _ := waitNames(t, sWork, "new/w2"); !slices.Equal(seen, []string{"new/w2"}) {
		t.Errorf(".Work names = %q, want only new/w2", seen)
	}
	if seen, _ := waitNames(t, sClients, "new/c2"); !slices.Equal(seen, []string{"new/c2"}) {
		t.Errorf(".Work.Clients names = %q, want only new/c2", seen)
	}
}

func TestWatcher_maxWatchesPolls(t *testing.T) {
	w := newWatcher(t, watch.Options{MaxWatches: 1, PollInterval: 50e6, SafetyInterval: -1})
	folder := makeFolder(t, t.TempDir(), "Maildir")
	s := subscribe(t, w, folder)
	st := w.Stats()
	if st.Watches != 0 || st.PolledFolders != 1 || st.Fallback == "" {
		t.Fatalf("stats = %+v, want the folder polled with a reason", st)
	}
	deliver(t, folder, "m1")
	waitRescan(t, s)
	// Settle, then a second change is noticed too.
	writeFile(t, filepath.Join(folder, "cur", "k:2,"))
	waitRescan(t, s)
}

func TestWatcher_maxWatchesSecondFolder(t *testing.T) {
	w := newWatcher(t, watch.Options{MaxWatches: 3, PollInterval: 50e6, SafetyInterval: -1})
	root := t.TempDir()
	a := makeFolder(t, root, "a")
	b := makeFolder(t, root, "b")
	sa := subscribe(t, w, a)
	sb := subscribe(t, w, b)
	if st := w.Stats(); st.Watches != 2 || st.PolledFolders != 1 {
		t.Fatalf("stats = %+v, want 2 watches and 1 polled folder", st)
	}
	deliver(t, a, "m1")
	if _, rescan := waitNames(t, sa, "new/m1"); rescan {
		t.Fatal("watched folder: unexpected Rescan")
	}
	deliver(t, b, "m1")
	waitRescan(t, sb)
}

func TestWatcher_safetyCheck(t *testing.T) {
	w := newWatcher(t, watch.Options{SafetyInterval: 50e6})
	folder := makeFolder(t, t.TempDir(), "Maildir")
	s := subscribe(t, w, folder)
	// chmod new/ gives only IN_ATTRIB, which is not reported as a name, but
	// it changes the directory's ctime: the safety check must catch it.
	if err := os.Chmod(filepath.Join(folder, "new"), 0o750); err != nil {
		t.Fatal(err)
	}
	waitRescan(t, s)
}

func TestSubscription_folderRemoved(t *testing.T) {
	w := newWatcher(t, watch.Options{SafetyInterval: -1})
	root := t.TempDir()
	folder := makeFolder(t, root, ".Trash")
	other := makeFolder(t, root, ".Other")
	s := subscribe(t, w, folder)
	so := subscribe(t, w, other)
	deliver(t, folder, "m1")
	if _, rescan := waitNames(t, s, "new/m1"); rescan {
		t.Fatal("unexpected Rescan")
	}
	if err := os.RemoveAll(folder); err != nil {
		t.Fatal(err)
	}
	// Each removed watched directory sets Rescan after dropping its watch.
	for {
		waitRescan(t, s)
		if st := w.Stats(); st.Watches == 2 {
			if st.PolledFolders != 1 {
				t.Fatalf("stats = %+v, want the removed folder polled", st)
			}
			break
		}
	}
	// The other folder is unaffected.
	deliver(t, other, "o1")
	if seen, rescan := waitNames(t, so, "new/o1"); rescan || !slices.Equal(seen, []string{"new/o1"}) {
		t.Fatalf("other folder: names %q rescan %t", seen, rescan)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if st := w.Stats(); st.Folders != 1 || st.Watches != 2 {
		t.Fatalf("stats after Close = %+v", st)
	}
}

func TestWatcher_closeThenSubscribe(t *testing.T) {
	w, err := watch.New(&watch.Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	folder := makeFolder(t, t.TempDir(), "Maildir")
	s, err := w.Subscribe(folder)
	if err != nil {
		t.Fatal(err)
	}
	deliver(t, folder, "m1")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := w.Subscribe(folder); !errors.Is(err, watch.ErrClosed) {
		t.Fatalf("Subscribe after Close: err = %v, want ErrClosed", err)
	}
	if b := s.Drain(); !b.Empty() {
		t.Fatalf("Drain after Close = %+v, want empty", b)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if st := w.Stats(); st.Folders != 0 || st.Watches != 0 {
		t.Fatalf("stats after Close = %+v", st)
	}
}

func TestWatcher_subscribeErrors(t *testing.T) {
	w := newWatcher(t, watch.Options{})
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	writeFile(t, file)
	for _, tt := range []struct {
		name   string
		folder string
	}{
		{"missing", filepath.Join(dir, "missing")},
		{"not a directory", file},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if s, err := w.Subscribe(tt.folder); err == nil {
				s.Close()
				t.Fatal("Subscribe succeeded, want error")
			}
		})
	}
	if st := w.Stats(); st.Folders != 0 {
		t.Fatalf("stats = %+v, want no folder", st)
	}
}

func writeFile(t testing.TB, path string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func rename(t testing.TB, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

func TestWatcher_folderRecreated(t *testing.T) {
	w := newWatcher(t, watch.Options{PollInterval: 50e6, SafetyInterval: -1})
	root := t.TempDir()
	folder := makeFolder(t, root, ".Work")
	s := subscribe(t, w, folder)
	if err := os.RemoveAll(folder); err != nil {
		t.Fatal(err)
	}
	for {
		waitRescan(t, s)
		if w.Stats().Watches == 0 {
			break
		}
	}
	// DELETE then CREATE of the same mailbox: the folder gets its watches
	// back and names are reported again.
	makeFolder(t, root, ".Work")
	for {
		waitRescan(t, s)
		if st := w.Stats(); st.Watches == 2 && st.PolledFolders == 0 {
			break
		}
	}
	deliverUntilNamed(t, s, folder)
}

func TestWatcher_folderReplaced(t *testing.T) {
	w := newWatcher(t, watch.Options{SafetyInterval: 50e6})
	root := t.TempDir()
	folder := makeFolder(t, root, ".Work")
	s := subscribe(t, w, folder)
	// RENAME Work Old then CREATE Work: the watches still follow the old
	// directories; the safety check notices the new inodes.
	rename(t, folder, filepath.Join(root, ".Old"))
	makeFolder(t, root, ".Work")
	waitRescan(t, s)
	deliverUntilNamed(t, s, folder)
}

func TestWatcher_symlinkSharesWatches(t *testing.T) {
	w := newWatcher(t, watch.Options{})
	root := t.TempDir()
	folder := makeFolder(t, root, "Maildir")
	link := filepath.Join(root, "link")
	if err := os.Symlink(folder, link); err != nil {
		t.Fatal(err)
	}
	a := subscribe(t, w, folder)
	b := subscribe(t, w, link)
	if a.Folder() != b.Folder() {
		t.Fatalf("Folder() = %q and %q, want the same", a.Folder(), b.Folder())
	}
	if st := w.Stats(); st.Folders != 1 || st.Watches != 2 {
		t.Fatalf("stats = %+v, want 1 folder with 2 watches", st)
	}
	deliver(t, link, "m1")
	for _, s := range []*watch.Subscription{a, b} {
		if _, rescan := waitNames(t, s, "new/m1"); rescan {
			t.Fatal("unexpected Rescan")
		}
	}
}

// TestWatcher_concurrent subscribes, delivers and closes from many
// goroutines at once, for the race detector.
func TestWatcher_concurrent(t *testing.T) {
	w := newWatcher(t, watch.Options{MaxWatches: 6, PollInterval: 10e6, SafetyInterval: 10e6})
	root := t.TempDir()
	var folders []string
	for i := range 5 {
		folders = append(folders, makeFolder(t, root, fmt.Sprintf(".F%d", i)))
	}
	done := make(chan error)
	for g := range 8 {
		go func() {
			var err error
			defer func() { done <- err }()
			for i := range 20 {
				folder := folders[(g+i)%len(folders)]
				s, serr := w.Subscribe(folder)
				if serr != nil {
					err = serr
					return
				}
				name := filepath.Join(folder, "new", fmt.Sprintf("g%di%d", g, i))
				if werr := os.WriteFile(name, nil, 0o600); werr != nil {
					err = werr
					return
				}
				s.Drain()
				w.Stats()
				s.Close()
			}
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if st := w.Stats(); st.Folders != 0 || st.Watches != 0 || st.Subscriptions != 0 {
		t.Fatalf("stats after all closed = %+v", st)
	}
}

func TestWatcher_missingSubdirs(t *testing.T) {
	w := newWatcher(t, watch.Options{PollInterval: 50e6, SafetyInterval: -1})
	folder := t.TempDir() // no new/ or cur/ yet
	s := subscribe(t, w, folder)
	if st := w.Stats(); st.PolledFolders != 1 || st.Watches != 0 || st.Fallback != "" {
		t.Fatalf("stats = %+v, want the folder polled without a limit fallback", st)
	}
	makeFolder(t, filepath.Dir(folder), filepath.Base(folder))
	for {
		waitRescan(t, s)
		if st := w.Stats(); st.Watches == 2 && st.PolledFolders == 0 {
			break
		}
	}
	deliverUntilNamed(t, s, folder)
}

func TestWatcher_SubscribeFunc(t *testing.T) {
	w := newWatcher(t, watch.Options{})
	folder := makeFolder(t, t.TempDir(), ".")
	notified := make(chan struct{}, 100)
	sub, err := w.SubscribeFunc(folder, func() { notified <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	deliver(t, folder, "1.M1P1.test")
	select {
	case <-notified:
	case <-time.After(10 * time.Second):
		t.Fatal("notify not called")
	}
	if !sub.Pending() {
		t.Fatal("Pending() = false after a notification")
	}
	b := sub.Drain()
	if len(b.Names) != 1 || b.Names[0] != "new/1.M1P1.test" {
		t.Fatalf("Drain = %+v", b)
	}
	if sub.Pending() {
		t.Fatal("Pending() = true after Drain")
	}
}

// TestBatch_seen checks that a batch carries when its first change was
// seen, between the change and the Drain, and that rescans are counted.
func TestBatch_seen(t *testing.T) {
	w := newWatcher(t, watch.Options{MaxWatches: 3, PollInterval: 50e6, SafetyInterval: -1})
	root := t.TempDir()
	watched := makeFolder(t, root, "a")
	polled := makeFolder(t, root, "b") // over MaxWatches
	for _, folder := range []string{watched, polled} {
		s := subscribe(t, w, folder)
		before := time.Now()
		deliver(t, folder, "m1")
		b := next(t, s)
		if b.Seen.Before(before) || b.Seen.After(time.Now()) {
			t.Errorf("%s: Seen %v not between the delivery (%v) and the Drain", folder, b.Seen, before)
		}
		if b.Empty() || (folder == polled) != b.Rescan {
			t.Errorf("%s: batch %+v", folder, b)
		}
	}
	if st := w.Stats(); st.Rescans == 0 {
		t.Errorf("stats = %+v: the polled folder's rescan was not counted", st)
	}
	if b := subscribe(t, w, watched).Drain(); !b.Seen.IsZero() {
		t.Errorf("empty batch with Seen %v", b.Seen)
	}
}

// TestWatcher_renamedFolderSubscribedAgain: inotify watches inodes and
// fsnotify keys its watches by path. After RENAME Work Old, the old
// subscription's watches follow the directories to .Old; subscribing .Old
// must get watches that report under .Old's path, and closing the old
// subscription (the retired folder of the old name, which closes after
// the new one subscribed) must not remove them: before the fix, the
// kernel handed back the old watch, events came under .Work's path, and
// Close removed the one watch both shared, so deliveries to .Old were
// never reported.
func TestWatcher_renamedFolderSubscribedAgain(t *testing.T) {
	w := newWatcher(t, watch.Options{SafetyInterval: -1})
	root := t.TempDir()
	work := makeFolder(t, root, ".Work")
	old := subscribe(t, w, work)
	moved := filepath.Join(root, ".Old")
	rename(t, work, moved)
	s := subscribe(t, w, moved)
	deliverUntilNamed(t, s, moved)
	old.Close()
	deliverUntilNamed(t, s, moved)

	// The old name made again gets watches of its own, and the renamed
	// folder keeps its.
	makeFolder(t, root, ".Work")
	again := subscribe(t, w, work)
	deliverUntilNamed(t, again, work)
	deliverUntilNamed(t, s, moved)
	if st := w.Stats(); st.Watches != 4 || st.PolledFolders != 0 {
		t.Fatalf("stats = %+v, want 4 watches and no polled folder", st)
	}
}
