package maildirbackend_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
)

// benchMaildir writes n small messages into cur/ (half of them seen), as
// an archive a client would open.
func benchMaildir(b *testing.B, n int) string {
	b.Helper()
	root := filepath.Join(b.TempDir(), "Maildir")
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < n; i++ {
		body := fmt.Sprintf("From: Sender %d <s%d@example.org>\nTo: alice@example.org\nSubject: message %d about foo\nDate: Sat, 28 Nov 2026 10:00:00 +0000\nMessage-ID: <%d@example.org>\n\nbody %d\n", i, i, i, i, i)
		key := fmt.Sprintf("%d.M%dP1.bench,S=%d,W=%d", 1700000000+i/1000, i%1000, len(body), len(body)+7)
		info := ":2,"
		if i%2 == 0 {
			info += "S"
		}
		if err := os.WriteFile(filepath.Join(root, "cur", key+info), []byte(body), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	return root
}

func benchSizes() []int {
	if v := os.Getenv("MAILDIR_IMAPD_BENCH_N"); v != "" {
		n, _ := strconv.Atoi(v)
		return []int{n}
	}
	return []int{10000}
}

// BenchmarkSelect measures SELECT of a folder another session keeps open
// (warm: no disk access) and, once, the first SELECT that reads the folder
// and writes dovecot-uidlist (cold).
func BenchmarkSelect(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			root := benchMaildir(b, n)
			s := maildirtest.NewServer(b, &maildirtest.Options{Maildir: root, Backend: maildirbackend.Options{FolderLinger: -1}})
			keeper := s.Dial(b, nil)
			if _, err := keeper.Select("INBOX", nil).Wait(); err != nil {
				b.Fatal(err)
			}
			c := s.Dial(b, nil)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := c.Select("INBOX", nil).Wait(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func benchFetch(b *testing.B, opts *imap.FetchOptions) {
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			s := maildirtest.NewServer(b, &maildirtest.Options{Maildir: benchMaildir(b, n)})
			c := s.Dial(b, nil)
			if _, err := c.Select("INBOX", nil).Wait(); err != nil {
				b.Fatal(err)
			}
			var all imap.UIDSet
			all.AddRange(1, 0)
			if _, err := c.Fetch(all, opts).Collect(); err != nil { // warm the cache
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				msgs, err := c.Fetch(all, opts).Collect()
				if err != nil || len(msgs) != n {
					b.Fatalf("fetch: %d messages, %v", len(msgs), err)
				}
			}
		})
	}
}

// BenchmarkFetchFlags is FETCH 1:* (FLAGS), served from memory.
func BenchmarkFetchFlags(b *testing.B) {
	benchFetch(b, &imap.FetchOptions{Flags: true})
}

// BenchmarkFetchEnvelope is a mail client's header listing, warm:
// UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE).
func BenchmarkFetchEnvelope(b *testing.B) {
	benchFetch(b, &imap.FetchOptions{UID: true, Flags: true, RFC822Size: true, InternalDate: true, Envelope: true})
}

// BenchmarkSearchUnseen is UID SEARCH UNSEEN.
func BenchmarkSearchUnseen(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			s := maildirtest.NewServer(b, &maildirtest.Options{Maildir: benchMaildir(b, n)})
			c := s.Dial(b, nil)
			if _, err := c.Select("INBOX", nil).Wait(); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := c.UIDSearch(&imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}}, nil).Wait(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// rawCommand sends one tagged command and reads until its completion,
// without parsing: what the server costs, not go-imap's client.
func rawCommand(b *testing.B, conn net.Conn, r *bufio.Reader, cmd string) int {
	fmt.Fprintf(conn, "x %s\r\n", cmd)
	lines := 0
	for {
		line, err := r.ReadSlice('\n')
		if err != nil && err != bufio.ErrBufferFull {
			b.Fatal(err)
		}
		lines++
		if bytes.HasPrefix(line, []byte("x OK")) {
			return lines
		}
		if bytes.HasPrefix(line, []byte("x ")) {
			b.Fatalf("%s: %s", cmd, line)
		}
	}
}

// BenchmarkRawFetch times FETCH 1:* commands on a raw connection.
func BenchmarkRawFetch(b *testing.B) {
	for _, n := range benchSizes() {
		for _, items := range []string{"FLAGS", "(UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE)"} {
			b.Run(fmt.Sprintf("n=%d/%s", n, items), func(b *testing.B) {
				s := maildirtest.NewServer(b, &maildirtest.Options{Maildir: benchMaildir(b, n)})
				conn, err := net.Dial("tcp", s.Addr)
				if err != nil {
					b.Fatal(err)
				}
				defer conn.Close()
				r := bufio.NewReaderSize(conn, 1<<16)
				r.ReadSlice('\n')
				rawCommand(b, conn, r, "LOGIN "+maildirtest.User+" "+maildirtest.Password)
				rawCommand(b, conn, r, "SELECT INBOX")
				rawCommand(b, conn, r, "FETCH 1:* "+items) // warm
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if got := rawCommand(b, conn, r, "FETCH 1:* "+items); got < n {
						b.Fatalf("%d lines", got)
					}
				}
			})
		}
	}
}

// BenchmarkSelectCold is the first SELECT in a new process: the folder is
// read from disk (readdir of new/ and cur/, dovecot-uidlist). The first
// iteration also writes dovecot-uidlist for every file.
func BenchmarkSelectCold(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			root := benchMaildir(b, n)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				s := maildirtest.NewServer(b, &maildirtest.Options{Maildir: root})
				c := s.Dial(b, nil)
				b.StartTimer()
				if _, err := c.Select("INBOX", nil).Wait(); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				c.Close()
				b.StartTimer()
			}
		})
	}
}

// BenchmarkSearchSubject is UID SEARCH SUBJECT "...": cold, only message
// headers are read; warm (after a client's ENVELOPE listing), the cached
// envelopes answer.
func BenchmarkSearchSubject(b *testing.B) {
	for _, n := range benchSizes() {
		for _, warm := range []bool{false, true} {
			b.Run(fmt.Sprintf("n=%d/warm=%v", n, warm), func(b *testing.B) {
				benchSearchSubject(b, n, warm)
			})
		}
	}
}

func benchSearchSubject(b *testing.B, n int, warm bool) {
	s := maildirtest.NewServer(b, &maildirtest.Options{Maildir: benchMaildir(b, n)})
	c := s.Dial(b, nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		b.Fatal(err)
	}
	if warm {
		if _, err := c.Fetch(imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}, &imap.FetchOptions{Envelope: true}).Collect(); err != nil {
			b.Fatal(err)
		}
	}
	crit := &imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "message 42 about"}}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := c.UIDSearch(crit, nil).Wait()
		if err != nil || len(res.AllUIDs()) != 1 {
			b.Fatalf("search: %v %v", res, err)
		}
	}
}
