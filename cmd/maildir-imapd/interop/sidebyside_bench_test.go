package interop

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkSideBySide times the same IMAP commands against a private
// Dovecot and maildir-imapd serving one Maildir (n messages, half \Seen;
// MAILDIR_IMAPD_BENCH_N sets n, 10,000 by default) with the raw client of
// benchclient_test.go. Each iteration runs the command once on each server
// (alternating which goes first) and the metrics are the medians over the
// iterations: dovecot-ms/op and imapd-ms/op (ns/op is imapd's median too),
// their ratio imapd/dovecot, and the size of each server's response.
//
//   - warm: one connection per server, INBOX selected, the command run once
//     before timing; every iteration repeats it in the same process.
//   - new: every iteration times the command in a new server process:
//     maildir-imapd is restarted, Dovecot starts a new imap process for the
//     new connection (service_count = 1). Both find the indexes they wrote
//     before on disk (Dovecot's dovecot.index*, the shared dovecot-uidlist),
//     as after a restart in production. LOGIN and, except for the SELECT
//     row, SELECT INBOX are not timed.
//
// Use -benchtime 10x: with the restarts outside the timer, the default
// benchtime would restart the daemon hundreds of times.
func BenchmarkSideBySide(b *testing.B) {
	for _, n := range sideBySideSizes() {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) { benchSideBySide(b, n) })
	}
}

// sideBySideSizes returns the INBOX sizes: MAILDIR_IMAPD_BENCH_N (as
// maildirbackend's benchmarks read it) or 10,000.
func sideBySideSizes() []int {
	if v := os.Getenv("MAILDIR_IMAPD_BENCH_N"); v != "" {
		n, err := strconv.Atoi(v)
		if err == nil && n > 0 {
			return []int{n}
		}
	}
	return []int{10000}
}

// sbsOp is one command of the side-by-side benchmark.
type sbsOp struct {
	name string
	cmd  func(n int) string
	// same reports whether both servers' replies must agree in untagged
	// lines and SEARCH hits (not for SELECT, whose untagged lines differ).
	same bool
	// fts marks SEARCH BODY: the warm case waits until maildir-imapd's
	// full-text index is complete, and a new-process case without the
	// index on disk (new-noindex) is added.
	fts bool
}

var sbsOps = []sbsOp{
	{name: "SELECT", cmd: func(int) string { return "SELECT INBOX" }},
	{name: "FETCH_FLAGS", cmd: func(int) string { return "FETCH 1:* (FLAGS)" }, same: true},
	{name: "UID_SEARCH_UNSEEN", cmd: func(int) string { return "UID SEARCH UNSEEN" }, same: true},
	{name: "FETCH_ENVELOPE", cmd: func(int) string { return "FETCH 1:* (ENVELOPE)" }, same: true},
	{name: "UID_FETCH_100_BODY", cmd: bodyFetch, same: true},
	// SEARCH BODY: a word in one message in a thousand (the index's
	// case), and one in most messages (every candidate is read).
	{name: "UID_SEARCH_BODY_rare", cmd: func(int) string { return "UID SEARCH BODY zqx1000" }, same: true, fts: true},
	{name: "UID_SEARCH_BODY_common", cmd: func(int) string { return "UID SEARCH BODY invoice" }, same: true, fts: true},
}

// bodyFetch returns a UID FETCH of BODY.PEEK[] for 100 UIDs spread over
// 1..n (the UIDs of a fresh INBOX).
func bodyFetch(n int) string {
	uids := make([]string, 0, 100)
	for i := range min(100, n) {
		uids = append(uids, strconv.Itoa(1+i*n/min(100, n)))
	}
	return "UID FETCH " + strings.Join(uids, ",") + " BODY.PEEK[]"
}

// sbsServers is the pair under test, on one account. Dovecot runs for the
// whole benchmark; each sub-benchmark starts its own maildir-imapd, which
// its cleanup stops.
type sbsServers struct {
	a   *account
	dov *dovecot
}

// startSideBySideImapd starts the daemon logging at info level: the debug
// level of startImapd would log every command.
func startSideBySideImapd(b *testing.B, a *account) *imapd {
	b.Helper()
	return startImapd(b, a, "--log-level", "info")
}

func benchSideBySide(b *testing.B, n int) {
	a := newAccount(b)
	s := &sbsServers{a: a, dov: startDovecot(b, a)} // skips or fails first if Dovecot is missing
	start := time.Now()
	writeSideBySideMaildir(b, a, n)
	b.Logf("wrote %d messages in %v", n, time.Since(start).Round(time.Millisecond))
	// Dovecot indexes first (dovecot-uidlist, dovecot.index, its cache of
	// the fetched fields), then maildir-imapd reads the uidlist it wrote.
	start = time.Now()
	primeServer(b, s.dov.Addr, n)
	b.Logf("dovecot indexed in %v", time.Since(start).Round(time.Millisecond))
	imd := startSideBySideImapd(b, a)
	start = time.Now()
	primeServer(b, imd.Addr, n)
	b.Logf("maildir-imapd read the INBOX in %v", time.Since(start).Round(time.Millisecond))
	imd.Stop(b)
	imd.CheckLog(b)

	for _, op := range sbsOps {
		b.Run(op.name+"/warm", func(b *testing.B) { benchWarm(b, s, op, n) })
		b.Run(op.name+"/new", func(b *testing.B) { benchNewProcess(b, s, op, n, false) })
		if op.fts {
			b.Run(op.name+"/new-noindex", func(b *testing.B) { benchNewProcess(b, s, op, n, true) })
		}
	}
	s.dov.CheckLog(b)
}

// primeServer runs every command once on a new connection.
func primeServer(b *testing.B, addr string, n int) {
	b.Helper()
	c := loginSelect(b, addr)
	for _, op := range sbsOps {
		if _, err := c.Cmd(op.cmd(n)); err != nil {
			b.Fatalf("%s: %v", addr, err)
		}
	}
	if err := c.Close(); err != nil {
		b.Fatal(err)
	}
}

// loginSelect connects to addr, logs in and selects INBOX.
func loginSelect(b *testing.B, addr string) *benchConn {
	b.Helper()
	c, err := dialBench(addr)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.Cmd("LOGIN " + testUser + " " + testPass); err != nil {
		b.Fatal(err)
	}
	if _, err := c.Cmd("SELECT INBOX"); err != nil {
		b.Fatal(err)
	}
	return c
}

// sbsConn is a connection to one of the two servers and the process that
// serves it, whose CPU time is read around each command.
type sbsConn struct {
	c       *benchConn
	pid     int
	dovecot bool
}

// dial connects to s's Dovecot (imd nil) or to imd, logs in and, if sel,
// selects INBOX.
func (s *sbsServers) dial(b *testing.B, imd *imapd, sel bool) sbsConn {
	b.Helper()
	if imd != nil {
		return sbsConn{c: loginNew(b, imd.Addr, sel), pid: imd.proc.cmd.Process.Pid}
	}
	c := loginNew(b, s.dov.Addr, sel)
	// service_count = 1: the youngest imap process is this connection's.
	pid, err := newestChild(s.dov.proc.cmd.Process.Pid, "imap")
	if err != nil {
		b.Fatal(err)
	}
	return sbsConn{c: c, pid: pid, dovecot: true}
}

// sbsTimes collects one wall and one server CPU time per iteration and
// server.
type sbsTimes struct {
	dov, imd       []time.Duration // wall
	dovCPU, imdCPU []time.Duration // the server process's CPU time
	dovRep, imdRep benchReply      // the last reply of each, for the check
}

// run times cmd on sc and records it as Dovecot's or maildir-imapd's.
func (t *sbsTimes) run(b *testing.B, sc sbsConn, cmd string) {
	b.Helper()
	cpu0, err := cpuTime(sc.pid)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	rep, err := sc.c.Cmd(cmd)
	d := time.Since(start)
	if err != nil {
		b.Fatalf("dovecot=%v: %v", sc.dovecot, err)
	}
	cpu1, err := cpuTime(sc.pid)
	if err != nil {
		b.Fatal(err)
	}
	if sc.dovecot {
		t.dov, t.dovCPU, t.dovRep = append(t.dov, d), append(t.dovCPU, cpu1-cpu0), rep
	} else {
		t.imd, t.imdCPU, t.imdRep = append(t.imd, d), append(t.imdCPU, cpu1-cpu0), rep
	}
}

// report checks that both servers answered alike (if op.same) and reports
// the medians.
func (t *sbsTimes) report(b *testing.B, op sbsOp) {
	b.Helper()
	if op.same && (t.dovRep.Untagged != t.imdRep.Untagged || t.dovRep.Hits != t.imdRep.Hits) {
		b.Errorf("%s: dovecot answered %d untagged lines (%d SEARCH hits), maildir-imapd %d (%d)",
			op.name, t.dovRep.Untagged, t.dovRep.Hits, t.imdRep.Untagged, t.imdRep.Hits)
	}
	dov, imd := median(t.dov), median(t.imd)
	b.ReportMetric(ms(dov), "dovecot-ms/op")
	b.ReportMetric(ms(imd), "imapd-ms/op")
	// ns/op would include the timer's own overhead around the restarts;
	// make it maildir-imapd's median, for benchstat across commits.
	b.ReportMetric(float64(imd), "ns/op")
	if dov > 0 {
		b.ReportMetric(float64(imd)/float64(dov), "imapd/dovecot")
	}
	b.ReportMetric(ms(median(t.dovCPU)), "dovecot-cpu-ms/op")
	b.ReportMetric(ms(median(t.imdCPU)), "imapd-cpu-ms/op")
	b.ReportMetric(float64(t.dovRep.Bytes)/1024, "dovecot-KiB")
	b.ReportMetric(float64(t.imdRep.Bytes)/1024, "imapd-KiB")
}

func benchWarm(b *testing.B, s *sbsServers, op sbsOp, n int) {
	imd := startSideBySideImapd(b, s.a)
	conns := [2]sbsConn{s.dial(b, imd, true), s.dial(b, nil, true)} // [turn]: imapd, Dovecot
	if op.fts {
		start := time.Now()
		waitIndexComplete(b, imd, time.Hour)
		b.Logf("maildir-imapd's full-text index complete after %v", time.Since(start).Round(time.Millisecond))
	}
	cmd := op.cmd(n)
	for _, sc := range conns {
		if _, err := sc.c.Cmd(cmd); err != nil {
			b.Fatal(err)
		}
	}
	var t sbsTimes
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, isDov := range turns(i) {
			t.run(b, conns[b2i(isDov)], cmd)
		}
	}
	b.StopTimer()
	t.report(b, op)
	for _, sc := range conns {
		if err := sc.c.Close(); err != nil {
			b.Error(err)
		}
	}
	imd.Stop(b)
	imd.CheckLog(b)
}

// benchNewProcess times op in new processes. With noIndex, maildir-imapd
// starts without its full-text index on disk each time (the index is set
// aside and restored at the end): it scans while it builds the index.
func benchNewProcess(b *testing.B, s *sbsServers, op sbsOp, n int, noIndex bool) {
	cmd := op.cmd(n)
	ftsDir := filepath.Join(s.a.maildir, "maildir-imapd.fts")
	if noIndex {
		saved := ftsDir + ".saved"
		if err := os.Rename(ftsDir, saved); err != nil {
			b.Fatal(err)
		}
		defer func() {
			if err := os.RemoveAll(ftsDir); err != nil {
				b.Error(err)
			}
			if err := os.Rename(saved, ftsDir); err != nil {
				b.Error(err)
			}
		}()
	}
	var t sbsTimes
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if noIndex {
			if err := os.RemoveAll(ftsDir); err != nil {
				b.Fatal(err)
			}
		}
		imd := startSideBySideImapd(b, s.a)
		for _, isDov := range turns(i) {
			var sc sbsConn
			if isDov {
				sc = s.dial(b, nil, op.name != "SELECT")
			} else {
				sc = s.dial(b, imd, op.name != "SELECT")
			}
			b.StartTimer()
			t.run(b, sc, cmd)
			b.StopTimer()
			if err := sc.c.Close(); err != nil {
				b.Fatal(err)
			}
		}
		imd.Stop(b)
		imd.CheckLog(b)
		b.StartTimer()
	}
	b.StopTimer()
	t.report(b, op)
}

// turns returns which server goes first in iteration i (true: Dovecot),
// alternating, so that neither always runs right after the other's load.
func turns(i int) []bool {
	if i%2 == 0 {
		return []bool{true, false}
	}
	return []bool{false, true}
}

func b2i(v bool) int {
	if v {
		return 1
	}
	return 0
}

// loginNew connects and logs in, and selects INBOX if sel.
func loginNew(b *testing.B, addr string, sel bool) *benchConn {
	b.Helper()
	if sel {
		return loginSelect(b, addr)
	}
	c, err := dialBench(addr)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := c.Cmd("LOGIN " + testUser + " " + testPass); err != nil {
		b.Fatal(err)
	}
	return c
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// writeSideBySideMaildir fills a's INBOX with n small messages in cur/
// (1-4 KiB of text, a few header fields as an MTA writes them), every
// second one \Seen, with S= and W= sizes in the names as Dovecot's LDA
// writes them and the mtime at the Date header.
func writeSideBySideMaildir(b *testing.B, a *account, n int) {
	b.Helper()
	rng := rand.New(rand.NewPCG(9, uint64(n)))
	cur := filepath.Join(a.maildir, "cur")
	base := time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)
	for i := range n {
		date := base.Add(time.Duration(i) * 7 * time.Minute)
		msg := sideBySideMessage(rng, i, date)
		key := fmt.Sprintf("%d.M%dP%d.bench,S=%d,W=%d", date.Unix(), i%1000000, 1000+i%30000, len(msg),
			len(msg)+strings.Count(msg, "\n"))
		info := ":2,"
		if i%2 == 0 {
			info += "S"
		}
		p := filepath.Join(cur, key+info)
		if err := os.WriteFile(p, []byte(msg), 0o600); err != nil {
			b.Fatal(err)
		}
		if err := os.Chtimes(p, date, date); err != nil {
			b.Fatal(err)
		}
		a.owner.chown(b, p)
	}
}

var sbsWords = strings.Fields(`the of and meeting report project draft budget invoice review
	schedule please find attached regards thanks tomorrow week server mail update release notes
	question answer customer order shipping account password reminder agenda minutes`)

// sideBySideMessage returns message i: headers of a delivered message and
// 1-4 KiB of text in lines of about 70 characters.
func sideBySideMessage(rng *rand.Rand, i int, date time.Time) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "Return-Path: <sender%d@example.org>\n", i%500)
	fmt.Fprintf(&sb, "Received: from mx.example.org (mx.example.org [192.0.2.1])\n\tby mail.example.net (Postfix) with ESMTPS id %X\n\tfor <alice@example.net>; %s\n",
		rng.Uint64(), date.Format(time.RFC1123Z))
	fmt.Fprintf(&sb, "From: Sender %d <sender%d@example.org>\n", i%500, i%500)
	sb.WriteString("To: Alice <alice@example.net>\n")
	if i%5 == 0 {
		sb.WriteString("Cc: Bob <bob@example.net>, Carol <carol@example.com>\n")
	}
	fmt.Fprintf(&sb, "Subject: %s %s %d\n", sbsWords[rng.IntN(len(sbsWords))], sbsWords[rng.IntN(len(sbsWords))], i)
	fmt.Fprintf(&sb, "Date: %s\n", date.Format(time.RFC1123Z))
	fmt.Fprintf(&sb, "Message-ID: <%d.%X@example.org>\n", i, rng.Uint32())
	if i > 0 && i%3 == 0 {
		fmt.Fprintf(&sb, "In-Reply-To: <%d.0@example.org>\n", i-1)
	}
	sb.WriteString("MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n")
	size := 1024 + rng.IntN(3072)
	line := 0
	for sb.Len() < size {
		w := sbsWords[rng.IntN(len(sbsWords))]
		if line+len(w) > 70 {
			sb.WriteString("\n")
			line = 0
		} else if line > 0 {
			sb.WriteString(" ")
			line++
		}
		sb.WriteString(w)
		line += len(w)
	}
	sb.WriteString("\n")
	if i%1000 == 0 {
		// A rare word for SEARCH BODY (no rng: the rest stays as it was).
		fmt.Fprintf(&sb, "tracking code ZQX%d\n", i)
	}
	return sb.String()
}
