package maildirbackend

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkSync_newMessage is what one delivery costs the folder's sync
// goroutine while it holds the folder's mutex: an MTA renames a message
// into new/ of a folder of n messages (MAILDIR_IMAPD_BENCH_N, 10,000 by
// default) and the sync of that name gives it a UID (dovecot-uidlist) and
// adds it to the state. Every other session of the folder waits for the
// mutex meanwhile, so this must not grow with n.
func BenchmarkSync_newMessage(b *testing.B) {
	for _, n := range syncBenchSizes() {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			root := syncBenchFolder(b, n)
			be, err := New(&Options{NoFullTextIndex: true, FolderLinger: -1})
			if err != nil {
				b.Fatal(err)
			}
			defer be.Close()
			a, err := be.openAccount(root)
			if err != nil {
				b.Fatal(err)
			}
			defer be.closeAccount(a)
			f, err := a.acquire(inboxName)
			if err != nil {
				b.Fatal(err)
			}
			defer a.release(f)
			msg := []byte("From: a@example.org\nSubject: burst\n\nhello\n")
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				name := fmt.Sprintf("%d.M%dP2.burst", time.Now().Unix(), i)
				tmp := filepath.Join(root, "tmp", name)
				if err := os.WriteFile(tmp, msg, 0o600); err != nil {
					b.Fatal(err)
				}
				if err := os.Rename(tmp, filepath.Join(root, "new", name)); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				f.mu.Lock()
				err := f.syncNamesLocked([]string{"new/" + name})
				m := f.byKey[name]
				f.mu.Unlock()
				if err != nil {
					b.Fatal(err)
				}
				if m == nil || m.uid == 0 {
					b.Fatalf("message %d has no UID after its sync", i)
				}
			}
		})
	}
}

func syncBenchSizes() []int {
	if v := os.Getenv("MAILDIR_IMAPD_BENCH_N"); v != "" {
		var n int
		if _, err := fmt.Sscan(v, &n); err == nil && n > 0 {
			return []int{n}
		}
	}
	return []int{10000}
}

// syncBenchFolder returns a Maildir whose INBOX holds n small messages in
// cur/, kept under MAILDIR_IMAPD_BENCH_DIR when it is set (and reused:
// earlier runs' deliveries are removed), else in a temporary directory.
func syncBenchFolder(b *testing.B, n int) string {
	b.Helper()
	base := os.Getenv("MAILDIR_IMAPD_BENCH_DIR")
	if base == "" {
		base = b.TempDir()
	}
	root := filepath.Join(base, fmt.Sprintf("syncscale-%d", n))
	done := filepath.Join(root, "corpus-complete")
	if _, err := os.Stat(done); err != nil {
		if err := os.RemoveAll(root); err != nil {
			b.Fatal(err)
		}
		for _, d := range []string{"cur", "new", "tmp"} {
			if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
				b.Fatal(err)
			}
		}
		for i := range n {
			name := fmt.Sprintf("%d.M%dP1.bench:2,", 1700000000+i, i)
			msg := fmt.Sprintf("From: a@example.org\nSubject: m%d\n\nbody %d\n", i, i)
			if err := os.WriteFile(filepath.Join(root, "cur", name), []byte(msg), 0o600); err != nil {
				b.Fatal(err)
			}
		}
		if err := os.WriteFile(done, nil, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	for _, d := range []string{"new", "cur"} {
		old, _ := filepath.Glob(filepath.Join(root, d, "*.burst*"))
		for _, p := range old {
			if err := os.Remove(p); err != nil {
				b.Fatal(err)
			}
		}
	}
	return root
}
