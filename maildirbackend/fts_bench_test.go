package maildirbackend_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
)

// BenchmarkSearchBody times UID SEARCH BODY of a word in one message in a
// thousand, and of a word in most messages, over n messages of
// maildirtest.SearchMessage (MAILDIR_IMAPD_BENCH_N, 10,000 by default):
// by scan (index off), and by index, warm and in a new backend that finds
// the index on disk. It reports the index's size on disk and build time.
func BenchmarkSearchBody(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			root := benchCorpus(b, n)
			for _, word := range []string{"zqx1000", "apple"} {
				cr := &imap.SearchCriteria{Body: []string{word}}
				b.Run("scan/"+word, func(b *testing.B) {
					s := maildirtest.NewServer(b, &maildirtest.Options{Maildir: root, Backend: maildirbackend.Options{NoFullTextIndex: true}})
					benchSearch(b, s, cr)
				})
			}
			s := maildirtest.NewServer(b, &maildirtest.Options{Maildir: root})
			c := s.Dial(b, nil)
			start := time.Now()
			if _, err := c.Select("INBOX", nil).Wait(); err != nil {
				b.Fatal(err)
			}
			for !maildirbackend.FTSIndexed(s.Backend) {
				if time.Since(start) > time.Hour {
					b.Fatal("the INBOX was not indexed within an hour")
				}
				time.Sleep(50 * time.Millisecond)
			}
			if err := maildirbackend.FTSFlush(s.Backend); err != nil {
				b.Fatal(err)
			}
			build := time.Since(start)
			size := dirSize(filepath.Join(root, "maildir-imapd.fts"))
			for _, word := range []string{"zqx1000", "apple"} {
				cr := &imap.SearchCriteria{Body: []string{word}}
				b.Run("index-warm/"+word, func(b *testing.B) {
					benchSearch(b, s, cr)
					b.ReportMetric(build.Seconds(), "build-s")
					b.ReportMetric(float64(size)/(1<<20), "index-MiB")
				})
				b.Run("index-burst/"+word, func(b *testing.B) {
					stop := deliverBurst(b, root)
					defer stop()
					benchSearch(b, s, cr)
				})
			}
			// A new process: the first one writes its index at Close.
			if err := s.Backend.Close(); err != nil {
				b.Fatal(err)
			}
			for _, word := range []string{"zqx1000", "apple"} {
				cr := &imap.SearchCriteria{Body: []string{word}}
				b.Run("index-new/"+word, func(b *testing.B) {
					for range b.N {
						b.StopTimer()
						s2 := maildirtest.NewServer(b, &maildirtest.Options{Maildir: root, Backend: maildirbackend.Options{FolderLinger: -1}})
						c2 := s2.Dial(b, nil)
						if _, err := c2.Select("INBOX", nil).Wait(); err != nil {
							b.Fatal(err)
						}
						b.StartTimer()
						if _, err := c2.UIDSearch(cr, nil).Wait(); err != nil {
							b.Fatal(err)
						}
						b.StopTimer()
						c2.Close()
						s2.Backend.Close()
						b.StartTimer()
					}
				})
			}
		})
	}
}

func benchSearch(b *testing.B, s *maildirtest.Server, cr *imap.SearchCriteria) {
	c := s.Dial(b, nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		b.Fatal(err)
	}
	if _, err := c.UIDSearch(cr, nil).Wait(); err != nil { // warm: parsed once
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := c.UIDSearch(cr, nil).Wait(); err != nil {
			b.Fatal(err)
		}
	}
}

func dirSize(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// benchCorpus returns a Maildir whose INBOX holds n messages of
// maildirtest.SearchMessage, every thousandth with the rare word
// "ZQX<i>". With MAILDIR_IMAPD_BENCH_DIR set it is kept there and reused
// by later runs (writing 100,000 messages takes minutes); its full-text
// index is removed, so that every run builds it.
func benchCorpus(b *testing.B, n int) string {
	b.Helper()
	base := os.Getenv("MAILDIR_IMAPD_BENCH_DIR")
	if base == "" {
		base = b.TempDir()
	}
	root := filepath.Join(base, fmt.Sprintf("searchbody-%d", n))
	done := filepath.Join(root, "corpus-complete")
	if _, err := os.Stat(done); err != nil {
		if err := os.RemoveAll(root); err != nil {
			b.Fatal(err)
		}
		writeBenchFolder(b, root, n)
		if err := os.WriteFile(done, nil, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	burst, _ := filepath.Glob(filepath.Join(root, "*", "burst.*")) // an earlier run's deliveries
	for _, p := range append(burst, filepath.Join(root, "maildir-imapd.fts")) {
		if err := os.RemoveAll(p); err != nil {
			b.Fatal(err)
		}
	}
	return root
}

// deliverBurst delivers a message every 50 ms (20 a second) into the INBOX at root
// (the folder that is searched), named burst.*, until the returned stop
// is called; the new messages are indexed, or scanned while they are not
// yet.
func deliverBurst(b *testing.B, root string) (stop func()) {
	b.Helper()
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		rng := rand.New(rand.NewPCG(8, 8))
		for i := 0; ; i++ {
			select {
			case <-quit:
				return
			case <-time.After(50 * time.Millisecond):
			}
			name := fmt.Sprintf("burst.%d.%d", time.Now().UnixNano(), i)
			tmp := filepath.Join(root, "tmp", name)
			if err := os.WriteFile(tmp, []byte(maildirtest.SearchMessage(rng, 1000000+i)), 0o600); err != nil {
				b.Error(err)
				return
			}
			if err := os.Rename(tmp, filepath.Join(root, "new", name)); err != nil {
				b.Error(err)
				return
			}
		}
	}()
	return func() { close(quit); <-done }
}
