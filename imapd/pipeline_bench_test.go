package imapd_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/maildir-imapd/maildir-imapd/imapd"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend"
	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
)

// BenchmarkPipeline times 100 commands over loopback on a real Maildir (100
// messages of about 4 KiB), an op being the whole batch:
//
//   - lockstep: the client waits for each tagged reply before sending the
//     next command (no pipelining);
//   - serial: all 100 sent at once, run one at a time (a session without
//     SessionConcurrent: the engine before pipelining);
//   - concurrent: all 100 sent at once, run concurrently (the engine's
//     pipelining).
//
// go test -run '^$' -bench Pipeline -benchtime 200x ./imapd/
func BenchmarkPipeline(b *testing.B) {
	srv := maildirtest.NewServer(b, &maildirtest.Options{Frontend: "imapd"})
	body := strings.Repeat("Some text of a message, long enough to matter.\n", 85)
	for i := range 100 {
		maildirtest.Deliver(b, srv.Maildir, maildirtest.Message(fmt.Sprintf("m%d", i))+body)
	}
	batches := []struct {
		name string
		cmd  func(i int) string
	}{
		{"UID_FETCH_BODY", func(i int) string { return fmt.Sprintf("UID FETCH %d BODY.PEEK[]", i+1) }},
		{"UID_FETCH_ENVELOPE", func(i int) string { return fmt.Sprintf("UID FETCH %d (FLAGS ENVELOPE)", i+1) }},
		{"STATUS", func(int) string { return "STATUS INBOX (MESSAGES UNSEEN UIDNEXT)" }},
		{"UID_SEARCH", func(i int) string { return fmt.Sprintf("UID SEARCH SUBJECT m%d", i) }},
	}
	modes := []struct {
		name       string
		pipelined  bool
		concurrent bool
	}{{"lockstep", false, true}, {"serial", true, false}, {"concurrent", true, true}}
	for _, batch := range batches {
		for _, mode := range modes {
			b.Run(batch.name+"/"+mode.name, func(b *testing.B) {
				addr := serveWrapped(b, srv, &imapd.Options{}, func(s *maildirbackend.EngineSession) imapd.Session {
					return &gatedSession{EngineSession: s, concurrent: mode.concurrent}
				})
				c := dialPipe(b, addr)
				c.login()
				var all strings.Builder
				tags := make([]string, 100)
				lines := make([]string, 100)
				for i := range 100 {
					tags[i] = fmt.Sprintf("t%d", i)
					lines[i] = tags[i] + " " + batch.cmd(i) + "\r\n"
					all.WriteString(lines[i])
				}
				b.ResetTimer()
				for range b.N {
					if mode.pipelined {
						c.send(all.String())
					}
					for i, tag := range tags {
						if !mode.pipelined {
							c.send(lines[i])
						}
						if r := c.until(tag); !strings.HasPrefix(r[len(r)-1], tag+" OK") {
							b.Fatalf("%s: %q", tag, r)
						}
					}
				}
			})
		}
	}
}
