package maildirbackend_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
)

// BenchmarkPushDuringIndexBuild times a delivery into the INBOX until the
// IDLE client there reads "* N EXISTS", while another session has opened
// a folder of n messages (MAILDIR_IMAPD_BENCH_N, 10,000 by default) whose
// full-text index is being built from nothing ("building"), and with the
// index off ("no-index"). It reports the median and the largest latency,
// and whether the build was still running after the last delivery
// (building-at-end: 1 means every delivery met the build).
func BenchmarkPushDuringIndexBuild(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			root := newMaildir(b)
			big := filepath.Join(root, ".Big")
			writeBenchFolder(b, big, n)
			for _, mode := range []string{"no-index", "building"} {
				b.Run(mode, func(b *testing.B) {
					if err := os.RemoveAll(filepath.Join(big, "maildir-imapd.fts")); err != nil {
						b.Fatal(err)
					}
					benchPushDuringBuild(b, root, mode == "no-index")
				})
			}
		})
	}
}

func benchPushDuringBuild(b *testing.B, root string, noIndex bool) {
	srv := maildirtest.NewServer(b, &maildirtest.Options{Maildir: root, Backend: maildirbackend.Options{NoFullTextIndex: noIndex}})
	exists := make(chan uint32, 16)
	opts := newExistsRecorder(exists)
	idler := srv.Dial(b, opts)
	if _, err := idler.Select("INBOX", nil).Wait(); err != nil {
		b.Fatal(err)
	}
	idleCmd, err := idler.Idle()
	if err != nil {
		b.Fatal(err)
	}
	defer idleCmd.Close()
	other := srv.Dial(b, nil)
	if _, err := other.Select("Big", nil).Wait(); err != nil { // starts the build
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		maildirtest.Deliver(b, root, maildirtest.Message("push"))
		select {
		case <-exists:
		case <-time.After(30 * time.Second):
			b.Fatal("no EXISTS within 30 s of a delivery")
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2])/1e6, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)-1])/1e6, "max-ms")
	building := 0.0
	if !noIndex && !maildirbackend.FTSIndexed(srv.Backend) {
		building = 1
	}
	b.ReportMetric(building, "building-at-end")
}

// writeBenchFolder creates the Maildir++ folder dir with n messages of
// maildirtest.SearchMessage in cur/, every thousandth with a rare word.
func writeBenchFolder(b *testing.B, dir string, n int) {
	b.Helper()
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			b.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(7, uint64(n)))
	for i := range n {
		msg := maildirtest.SearchMessage(rng, i)
		if i%1000 == 0 {
			msg += fmt.Sprintf("tracking code ZQX%d\r\n", i)
		}
		if err := os.WriteFile(filepath.Join(dir, "cur", fmt.Sprintf("%d.M%dP1.bench:2,", 1700000000+i, i)), []byte(msg), 0o600); err != nil {
			b.Fatal(err)
		}
	}
}

// newExistsRecorder returns client options that send each EXISTS count
// to exists.
func newExistsRecorder(exists chan<- uint32) *imapclient.Options {
	return &imapclient.Options{UnilateralDataHandler: &imapclient.UnilateralDataHandler{
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				exists <- *d.NumMessages
			}
		},
	}}
}
