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
			root := filepath.Join(b.TempDir(), "Maildir")
			for _, d := range []string{"cur", "new", "tmp"} {
				os.MkdirAll(filepath.Join(root, d), 0o700)
			}
			rng := rand.New(rand.NewPCG(7, uint64(n)))
			for i := range n {
				msg := maildirtest.SearchMessage(rng, i)
				if i%1000 == 0 {
					msg += fmt.Sprintf("tracking code ZQX%d\r\n", i)
				}
				if err := os.WriteFile(filepath.Join(root, "cur", fmt.Sprintf("%d.M%dP1.bench:2,", 1700000000+i, i)), []byte(msg), 0o600); err != nil {
					b.Fatal(err)
				}
			}
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
				time.Sleep(10 * time.Millisecond)
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
