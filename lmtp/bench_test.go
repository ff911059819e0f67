package lmtp_test

import (
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-smtp"

	"github.com/maildir-imapd/maildir-imapd/lmtp"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
)

// BenchmarkLMTP_endOfDataToExists measures, for one message at a time,
// the time from the LMTP client sending the end of data to the IDLE
// client parsing "* N EXISTS" (reported as eod-to-exists-µs), with the
// default watcher running: the delivery's own announcement races inotify.
//
//	go test -run X -bench LMTP ./lmtp/
func BenchmarkLMTP_endOfDataToExists(b *testing.B) {
	s := maildirtest.NewServer(b, nil)
	srv := lmtp.New(&lmtp.Options{
		Lookup:  func(string) (string, string, error) { return "alice", s.Maildir, nil },
		Deliver: s.Backend.Deliver,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	sock := b.TempDir() + "/lmtp"
	ln, err := net.Listen("unix", sock)
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })

	exists := make(chan time.Time, 1)
	c := s.Dial(b, &imapclient.Options{UnilateralDataHandler: &imapclient.UnilateralDataHandler{
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				exists <- time.Now()
			}
		},
	}})
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		b.Fatal(err)
	}
	idleCmd, err := c.Idle()
	if err != nil {
		b.Fatal(err)
	}
	defer idleCmd.Close()

	conn, err := net.Dial("unix", sock)
	if err != nil {
		b.Fatal(err)
	}
	lc := smtp.NewClientLMTP(conn)
	defer lc.Close()
	if err := lc.Hello("mx.example.org"); err != nil {
		b.Fatal(err)
	}
	msg := []byte("From: bob@example.net\r\nSubject: bench\r\n\r\nHello.\r\n")
	var total time.Duration
	b.ResetTimer()
	for b.Loop() {
		if err := lc.Mail("bob@example.net", nil); err != nil {
			b.Fatal(err)
		}
		if err := lc.Rcpt("alice@example.org", nil); err != nil {
			b.Fatal(err)
		}
		w, err := lc.Data()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := w.Write(msg); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if _, err := w.CloseWithLMTPResponse(); err != nil {
			b.Fatal(err)
		}
		select {
		case at := <-exists:
			total += at.Sub(start)
		case <-time.After(10 * time.Second):
			b.Fatal("no EXISTS")
		}
	}
	b.ReportMetric(float64(total.Microseconds())/float64(b.N), "eod-to-exists-µs")
}
