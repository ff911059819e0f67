package interop

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// BenchmarkPipelinedSideBySide sends 100 commands to a private Dovecot and
// to maildir-imapd serving one INBOX of 1000 messages (the messages of
// BenchmarkSideBySide), an op being the whole batch: lockstep waits for
// each tagged reply before sending the next command, pipelined sends all
// 100 at once and then reads the answers. Both servers are warm (every
// command ran once before).
//
//	MAILDIR_IMAPD_E2E_REQUIRE=1 go test -run '^$' -bench PipelinedSideBySide -benchtime 50x ./cmd/maildir-imapd/interop/
func BenchmarkPipelinedSideBySide(b *testing.B) {
	const n = 1000
	a := newAccount(b)
	dov := startDovecot(b, a) // skips or fails first if Dovecot is missing
	writeSideBySideMaildir(b, a, n)
	imd := startSideBySideImapd(b, a)
	batches := []struct {
		name string
		cmd  func(i int) string
	}{
		{"UID_FETCH_BODY", func(i int) string { return fmt.Sprintf("UID FETCH %d BODY.PEEK[]", 1+i*n/100) }},
		{"UID_FETCH_ENVELOPE", func(i int) string { return fmt.Sprintf("UID FETCH %d (FLAGS ENVELOPE)", 1+i*n/100) }},
		{"STATUS", func(int) string { return "STATUS INBOX (MESSAGES UNSEEN UIDNEXT)" }},
		{"UID_SEARCH", func(i int) string { return fmt.Sprintf("UID SEARCH UID %d:* UNSEEN", 1+i*n/100) }},
	}
	servers := []struct {
		name string
		addr string
	}{{"dovecot", dov.Addr}, {"imapd", imd.Addr}}
	for _, batch := range batches {
		for _, srv := range servers {
			for _, pipelined := range []bool{false, true} {
				mode := "lockstep"
				if pipelined {
					mode = "pipelined"
				}
				b.Run(batch.name+"/"+srv.name+"/"+mode, func(b *testing.B) {
					c := loginSelect(b, srv.addr)
					defer c.Close()
					var all strings.Builder
					tags := make([]string, 100)
					lines := make([]string, 100)
					for i := range 100 {
						tags[i] = fmt.Sprintf("p%d", i)
						lines[i] = tags[i] + " " + batch.cmd(i) + "\r\n"
						all.WriteString(lines[i])
					}
					run := func() {
						c.conn.SetDeadline(time.Now().Add(benchDeadline))
						if pipelined {
							if _, err := io.WriteString(c.conn, all.String()); err != nil {
								b.Fatal(err)
							}
						}
						for i, tag := range tags {
							if !pipelined {
								if _, err := io.WriteString(c.conn, lines[i]); err != nil {
									b.Fatal(err)
								}
							}
							rep, err := c.readReply(tag)
							if err != nil || !strings.HasPrefix(rep.Status, "OK") {
								b.Fatalf("%s: %q, %v", lines[i], rep.Status, err)
							}
						}
					}
					run() // warm
					b.ResetTimer()
					for range b.N {
						run()
					}
				})
			}
		}
	}
	imd.Stop(b)
	imd.CheckLog(b)
	dov.CheckLog(b)
}
