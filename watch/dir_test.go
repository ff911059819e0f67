package watch_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/maildir-imapd/maildir-imapd/watch"
)

// subscribeDir watches dir itself; the test closes the subscription at
// cleanup.
func subscribeDir(t testing.TB, w *watch.Watcher, dir string) *watch.Subscription {
	t.Helper()
	s, err := w.SubscribeDir(dir, nil)
	if err != nil {
		t.Fatalf("SubscribeDir(%s): %v", dir, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestSubscribeDir_names: a folder created, renamed and removed in a
// Maildir root, and the subscriptions file replaced, are reported by their
// base names; the root's INBOX subscription sees none of it, and the root
// watch sees nothing of a delivery into INBOX.
func TestSubscribeDir_names(t *testing.T) {
	w := newWatcher(t, watch.Options{SafetyInterval: -1})
	root := makeFolder(t, t.TempDir(), "Maildir")
	inbox := subscribe(t, w, root)
	s := subscribeDir(t, w, root)
	if st := w.Stats(); st.Watches != 3 || st.Folders != 2 {
		t.Fatalf("stats = %+v, want 3 watches on 2 subscribed directories", st)
	}

	makeFolder(t, root, ".Work")
	waitNames(t, s, ".Work")
	if err := os.Rename(filepath.Join(root, ".Work"), filepath.Join(root, ".Jobs")); err != nil {
		t.Fatal(err)
	}
	waitNames(t, s, ".Work", ".Jobs")
	writeFile(t, filepath.Join(root, "subscriptions.tmp"))
	if err := os.Rename(filepath.Join(root, "subscriptions.tmp"), filepath.Join(root, "subscriptions")); err != nil {
		t.Fatal(err)
	}
	waitNames(t, s, "subscriptions")
	if inbox.Pending() {
		t.Errorf("INBOX's subscription got %v from changes in the root", inbox.Drain())
	}

	deliver(t, root, "m1")
	waitNames(t, inbox, "new/m1")
	if err := os.RemoveAll(filepath.Join(root, ".Jobs")); err != nil {
		t.Fatal(err)
	}
	seen, _ := waitNames(t, s, ".Jobs")
	for _, n := range seen {
		if n == "new/m1" || n == "tmp" || n == "m1" {
			t.Errorf("the root watch reported %q from a delivery into INBOX", n)
		}
	}
}

// TestSubscribeDir_polled: without inotify watches left the directory is
// polled, and a folder created in it gives a Rescan.
func TestSubscribeDir_polled(t *testing.T) {
	w := newWatcher(t, watch.Options{MaxWatches: 2, PollInterval: 50e6, SafetyInterval: -1})
	root := makeFolder(t, t.TempDir(), "Maildir")
	subscribe(t, w, root)
	s := subscribeDir(t, w, root)
	if st := w.Stats(); st.Watches != 2 || st.PolledFolders != 1 {
		t.Fatalf("stats = %+v, want INBOX watched and the root polled", st)
	}
	makeFolder(t, root, ".Work")
	waitRescan(t, s)
}
