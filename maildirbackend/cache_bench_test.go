package maildirbackend_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
)

// The commands of the cache benchmarks: a client's first look at a folder
// (mutt, Apple Mail, FairEmail: FLAGS and ENVELOPE), and Thunderbird's
// header listing.
var cacheBenchCmds = map[string]string{
	"envelope":    "FETCH 1:* (FLAGS ENVELOPE)",
	"thunderbird": "UID FETCH 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups In-Reply-To Content-Type Reply-To)])",
}

// cacheBenchMaildir returns a Maildir of n messages like those of
// BenchmarkSideBySide (1-4 KiB, Received, From, To, Cc, Subject, Date,
// Message-ID, In-Reply-To). With MAILDIR_IMAPD_BENCH_DIR set, it is kept
// there and reused by later runs (100,000 messages take a while to write).
func cacheBenchMaildir(b *testing.B, n int) string {
	b.Helper()
	base := os.Getenv("MAILDIR_IMAPD_BENCH_DIR")
	if base == "" {
		base = b.TempDir()
	}
	root := filepath.Join(base, fmt.Sprintf("cache-%d", n), "Maildir")
	if ents, err := os.ReadDir(filepath.Join(root, "cur")); err == nil && len(ents) == n {
		return root
	}
	os.RemoveAll(filepath.Dir(root))
	for _, d := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			b.Fatal(err)
		}
	}
	date := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		d := date.Add(time.Duration(i) * 7 * time.Minute)
		body := cacheBenchMessage(i, d)
		// No W= and no S=, as Postfix names its deliveries: the size and
		// the check come from the cache or the file.
		key := fmt.Sprintf("%d.M%dP%d.bench", d.Unix(), i, i%97)
		p := filepath.Join(root, "cur", key+":2,"+map[bool]string{true: "S", false: ""}[i%2 == 0])
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			b.Fatal(err)
		}
		if err := os.Chtimes(p, d, d); err != nil {
			b.Fatal(err)
		}
	}
	return root
}

func cacheBenchMessage(i int, d time.Time) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "Received: from mx%d.example.net (mx%d.example.net [192.0.2.%d])\n\tby mail.example.org (Postfix) with ESMTPS id %X\n\tfor <alice@example.org>; %s\n", i%7, i%7, i%250, i*7919, d.Format(time.RFC1123Z))
	fmt.Fprintf(&sb, "From: Sender %d <sender%d@example.net>\nTo: Alice Example <alice@example.org>\nCc: team%d@example.org\n", i%500, i%500, i%13)
	fmt.Fprintf(&sb, "Subject: Re: weekly report number %d about the project\nDate: %s\nMessage-ID: <msg%d@example.net>\n", i, d.Format(time.RFC1123Z), i)
	if i > 0 {
		fmt.Fprintf(&sb, "In-Reply-To: <msg%d@example.net>\n", i-1)
	}
	sb.WriteString("MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n")
	for l := 0; l < 16+i%48; l++ {
		fmt.Fprintf(&sb, "Line %d of message %d: the quick brown fox jumps over the lazy dog.\n", l, i)
	}
	return sb.String()
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCacheFetch measures FETCH 1:* (FLAGS ENVELOPE) and Thunderbird's
// header listing on n messages (MAILDIR_IMAPD_BENCH_N, 10,000 by
// default): cold (a new backend without cache file: every file parsed),
// new (a new backend with the cache file: a restarted server), and warm
// (the same connection again). LOGIN and SELECT are not timed. cpu-ms/op
// is the whole test process's CPU (server and the discarding client).
func BenchmarkCacheFetch(b *testing.B) {
	for _, n := range benchSizes() {
		root := cacheBenchMaildir(b, n)
		for _, name := range []string{"envelope", "thunderbird"} {
			cmd := cacheBenchCmds[name]
			for _, mode := range []string{"cold", "new", "warm"} {
				b.Run(fmt.Sprintf("n=%d/%s/%s", n, name, mode), func(b *testing.B) {
					benchCacheMode(b, root, cmd, mode)
				})
			}
		}
	}
}

func benchCacheMode(b *testing.B, root, cmd, mode string) {
	cache := filepath.Join(root, "maildir-imapd.cache")
	var cpu time.Duration
	run := func(rc *rawConn) {
		c0 := cpuTime()
		b.StartTimer()
		lines := rc.command(b, cmd)
		b.StopTimer()
		cpu += cpuTime() - c0
		if last := lines[len(lines)-1]; !strings.HasPrefix(last, "x OK") {
			b.Fatal(last)
		}
	}
	if mode != "cold" {
		primeCache(b, root, cmd)
	}
	b.StopTimer()
	b.ResetTimer()
	switch mode {
	case "warm":
		s := maildirtest.NewServer(b, &maildirtest.Options{Maildir: root})
		rc := dialRaw(b, s)
		rc.command(b, cmd)
		for i := 0; i < b.N; i++ {
			run(rc)
		}
	default:
		for i := 0; i < b.N; i++ {
			if mode == "cold" {
				os.Remove(cache)
			}
			s := maildirtest.NewServer(b, &maildirtest.Options{Maildir: root})
			rc := dialRaw(b, s)
			run(rc)
			logout(b, rc)
			s.Backend.Close()
		}
	}
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
}

// primeCache writes the cache file with one run of cmd in a server whose
// connection then ends, so that nothing of it stays in the heap.
func primeCache(b *testing.B, root, cmd string) {
	s := maildirtest.NewServer(b, &maildirtest.Options{Maildir: root})
	rc := dialRaw(b, s)
	rc.command(b, cmd)
	logout(b, rc)
	s.Backend.Close()
}

// logout ends a connection: its session lets go of the folder.
func logout(b *testing.B, rc *rawConn) {
	rc.command(b, "LOGOUT")
	rc.Close()
}

// BenchmarkCacheMemory reports the memory a backend holds for one open
// folder of n messages after FETCH 1:* (FLAGS ENVELOPE) and Thunderbird's
// header listing: the live heap after a collection (heap-MiB, the whole
// test process, and folder-heap-MiB, its growth from before the server
// started) and the process's RSS (rss-MiB) and anonymous RSS
// (rss-anon-MiB; the cache file's pages are file-backed, page cache).
//
// Run it alone with -benchtime 1x, after BenchmarkCacheFetch has left the
// cache file (a new process with the cache, as after a restart): the
// server it measures must be the only one the process has had, since a
// closed backend's state is not all collected at once.
func BenchmarkCacheMemory(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			root := cacheBenchMaildir(b, n)
			for i := 0; i < b.N; i++ {
				before := liveHeap()
				s := maildirtest.NewServer(b, &maildirtest.Options{Maildir: root})
				rc := dialRaw(b, s)
				rc.command(b, cacheBenchCmds["envelope"])
				rc.command(b, cacheBenchCmds["thunderbird"])
				open := liveHeap()
				b.ReportMetric(float64(open)/(1<<20), "heap-MiB")
				b.ReportMetric((float64(open)-float64(before))/(1<<20), "folder-heap-MiB")
				b.ReportMetric(procStatus("RssAnon")/1024, "rss-anon-MiB")
				b.ReportMetric(procStatus("VmRSS")/1024, "rss-MiB")
				logout(b, rc)
				s.Backend.Close()
			}
		})
	}
}

// procStatus returns a field of /proc/self/status in KiB, -1 where absent.
func procStatus(field string) float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field+":" {
			var kb float64
			fmt.Sscan(f[1], &kb)
			return kb
		}
	}
	return -1
}
