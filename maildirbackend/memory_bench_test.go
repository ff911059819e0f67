package maildirbackend_test

import (
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/maildir-imapd/maildir-imapd/maildirbackend/maildirtest"
)

// peakRSS returns the process's peak resident set size (VmHWM) in MiB,
// or -1 where /proc does not tell.
func peakRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return -1
}

// resetPeakRSS makes VmHWM the current RSS (Linux: clear_refs 5), after a
// collection returned what the setup used.
func resetPeakRSS(b *testing.B) {
	b.Helper()
	debug.FreeOSMemory()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Logf("peak RSS not reset: %v", err)
	}
}

// BenchmarkMemory reports the peak RSS of the whole test process (server
// and clients, loopback) in the load cases of issue 8: six clients that
// do not read a FETCH BODY[] of a 64 MiB message, a partial FETCH and a
// SEARCH TEXT of a 200 MB message, and a SEARCH of 1000 "1:*" keys on
// 20,000 messages.
func BenchmarkMemory(b *testing.B) {
	b.Run("fetch-64MiB-6-nonreading", func(b *testing.B) {
		s := maildirtest.NewServer(b, nil)
		bigMessage(b, s.Maildir, 64<<20)
		var conns []*rawConn
		for i := 0; i < 6; i++ {
			conns = append(conns, dialRaw(b, s))
		}
		resetPeakRSS(b)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			for _, rc := range conns {
				fmt.Fprintf(rc, "x FETCH 1 BODY.PEEK[]\r\n")
				if _, err := rc.r.Peek(1); err != nil {
					b.Fatal(err)
				}
			}
			for _, rc := range conns {
				if _, _, done := rc.readLiteral(b); !strings.HasPrefix(done, ")\r\nx OK") {
					b.Fatal(done)
				}
			}
		}
		b.ReportMetric(peakRSS(), "peak-RSS-MiB")
	})
	b.Run("200MB", func(b *testing.B) {
		s := maildirtest.NewServer(b, nil)
		bigMessage(b, s.Maildir, 200<<20)
		rc := dialRaw(b, s)
		for _, cmd := range []string{"FETCH 1 BODY.PEEK[]<0.100>", "FETCH 1 BODY.PEEK[]<100000000.100>", `SEARCH TEXT "zanzibar-at-the-end"`, `SEARCH TEXT "absent"`} {
			b.Run(strings.Fields(cmd)[0]+"-"+strings.Fields(cmd)[len(strings.Fields(cmd))-1], func(b *testing.B) {
				resetPeakRSS(b)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					lines := rc.command(b, cmd)
					if !strings.HasPrefix(lines[len(lines)-1], "x OK") {
						b.Fatal(lines)
					}
				}
				b.ReportMetric(peakRSS(), "peak-RSS-MiB")
			})
		}
	})
	b.Run("search-1000-keys-20000-msgs", func(b *testing.B) {
		s := maildirtest.NewServer(b, &maildirtest.Options{Maildir: benchMaildir(b, 20000)})
		rc := dialRaw(b, s)
		program := "SEARCH " + strings.TrimSpace(strings.Repeat("1:* ", 1000))
		resetPeakRSS(b)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			lines := rc.command(b, program)
			if !strings.HasPrefix(lines[len(lines)-1], "x OK") {
				b.Fatal(lines[len(lines)-1])
			}
		}
		b.ReportMetric(peakRSS(), "peak-RSS-MiB")
	})
}
