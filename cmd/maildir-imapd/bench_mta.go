package main

// The MTA side of `bench push` (deliveries, flag renames, unlinks) and the
// printing of the figures.

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"
)

var benchSeq atomic.Int64

// benchMessage returns a small RFC 5322 message.
func benchMessage(subject string) []byte {
	return fmt.Appendf(nil, "From: Bench <bench@example.org>\r\nTo: User <user@example.org>\r\nSubject: %s\r\n"+
		"Date: %s\r\nMessage-ID: <%s@bench.example.org>\r\n\r\nBenchmark message %s.\r\n",
		subject, time.Now().Format(time.RFC1123Z), subject, subject)
}

// uniqueKey returns a Maildir base name unique in this process.
func uniqueKey() string {
	now := time.Now()
	return fmt.Sprintf("%d.M%dP%dQ%d.bench", now.Unix(), now.Nanosecond()/1000, os.Getpid(), benchSeq.Add(1))
}

// writeMessage writes a message into dir/tmp and fsyncs it; it returns the
// tmp path and the file name with ,S=<size>. sync is false only when
// preparing Maildirs before a run.
func writeMessage(dir, subject string, sync bool) (tmp, name string, err error) {
	msg := benchMessage(subject)
	name = fmt.Sprintf("%s,S=%d", uniqueKey(), len(msg))
	tmp = filepath.Join(dir, "tmp", name)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", "", fmt.Errorf("deliver: %w", err)
	}
	_, err = f.Write(msg)
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return "", "", fmt.Errorf("deliver: %w", err)
	}
	return tmp, name, nil
}

// mtaOp performs operation j, the k-th on user u, and returns the time
// taken just before the rename(2) or unlink(2).
func mtaOp(mode string, u *benchUser, k, j int) (time.Time, error) {
	switch mode {
	case modeDelivery, modeBurst:
		tmp, name, err := writeMessage(u.maildir, fmt.Sprintf("bench %d", j), true)
		if err != nil {
			return time.Time{}, err
		}
		at := time.Now()
		if err := os.Rename(tmp, filepath.Join(u.maildir, "new", name)); err != nil {
			return time.Time{}, fmt.Errorf("deliver: %w", err)
		}
		return at, nil
	case modeFlag:
		from := filepath.Join(u.maildir, "cur", u.keys[k]+":2,S")
		to := filepath.Join(u.maildir, "cur", u.keys[k]+":2,FS")
		at := time.Now()
		if err := os.Rename(from, to); err != nil {
			return time.Time{}, fmt.Errorf("flag: %w", err)
		}
		return at, nil
	case modeExpunge:
		p := filepath.Join(u.maildir, "cur", u.keys[k]+":2,S")
		at := time.Now()
		if err := os.Remove(p); err != nil {
			return time.Time{}, fmt.Errorf("expunge: %w", err)
		}
		return at, nil
	}
	return time.Time{}, fmt.Errorf("unknown mode %q", mode)
}

// ensureSeen returns the keys of n messages in maildir/cur flagged exactly
// ":2,S", creating messages there first if there are fewer.
func ensureSeen(maildir string, n int) ([]string, error) {
	keys, err := seenKeys(maildir)
	if err != nil {
		return nil, err
	}
	for len(keys) < n {
		tmp, name, err := writeMessage(maildir, "seen", false)
		if err != nil {
			return nil, err
		}
		if err := os.Rename(tmp, filepath.Join(maildir, "cur", name+":2,S")); err != nil {
			return nil, fmt.Errorf("create message: %w", err)
		}
		keys = append(keys, name)
	}
	return keys[:n], nil
}

// seenKeys lists the keys of maildir/cur files whose info is ":2,S".
func seenKeys(maildir string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(maildir, "cur"))
	if err != nil {
		return nil, fmt.Errorf("list cur: %w", err)
	}
	var keys []string
	for _, e := range entries {
		if key, ok := strings.CutSuffix(e.Name(), ":2,S"); ok && !strings.Contains(key, ":") {
			keys = append(keys, key)
		}
	}
	sort.Strings(keys)
	return keys, nil
}

// pct returns the nearest-rank percentile p (0..1) of sorted d.
func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(d)))) - 1
	return d[max(0, min(i, len(d)-1))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }

// print writes the figures of a run.
func (res *pushResult) print(w io.Writer, c *benchConfig) {
	transport := "plain"
	switch {
	case c.TLS:
		transport = "TLS"
	case c.StartTLS:
		transport = "STARTTLS"
	}
	if c.Mode == modeBurst {
		fmt.Fprintf(w, "mode burst: %d connections (%s) on one INBOX, %d deliveries as fast as possible\n", c.Conns, transport, res.Ops)
	} else {
		fmt.Fprintf(w, "mode %s: %d connections (%s) over %d users, %d operations every %v, timeout %v\n",
			c.Mode, c.Conns, transport, c.Users, res.Ops, c.Interval, c.Timeout)
	}
	fmt.Fprintf(w, "set-up (LOGIN, SELECT, IDLE; %d in parallel): %d connections in %s ms\n", c.SetupParallel, c.Conns, ms(res.Setup))
	if len(res.OpTimes) > 0 {
		fmt.Fprintf(w, "MTA operation: p50 %s ms, max %s ms\n", fmt.Sprintf("%.2f", float64(pct(res.OpTimes, 0.5))/1e6), fmt.Sprintf("%.2f", float64(res.OpTimes[len(res.OpTimes)-1])/1e6))
	}
	fmt.Fprintf(w, "expected %d received %d missed %d late %d (extra %d, connection errors %d)\n",
		res.Expected, res.Received, res.Missed, res.Late, res.Extra, res.ConnErrors)
	l := res.Latencies
	if len(l) > 0 {
		fmt.Fprintf(w, "latency ms: p50 %s p90 %s p99 %s max %s\n", ms(pct(l, 0.5)), ms(pct(l, 0.9)), ms(pct(l, 0.99)), ms(l[len(l)-1]))
	}
	if c.Mode == modeBurst {
		fmt.Fprintf(w, "burst: %d renames in %s ms; last client saw the last message %s ms after the last rename (%s ms after the first)\n",
			res.Ops, ms(res.BurstTime), ms(res.LastSeenLast), ms(res.LastSeenFirst))
		fmt.Fprintf(w, "final EXISTS = %d+%d: %d/%d clients; UID FETCH 1:* check (no duplicate/missing UID): %d/%d clients ok\n",
			res.Base, c.Burst, res.FinalExistsOK, res.FinalExistsOf, res.VerifiedOK, res.Verified)
	}
	if b, a := res.MemBefore, res.MemAfter; b.OK && a.OK {
		fmt.Fprintf(w, "server memory: RSS %d -> %d KiB, PSS %d -> %d KiB; per connection: RSS %.1f KiB, PSS %.1f KiB\n",
			b.RSS, a.RSS, b.PSS, a.PSS, float64(a.RSS-b.RSS)/float64(c.Conns), float64(a.PSS-b.PSS)/float64(c.Conns))
		if e := res.MemEnd; e.OK {
			fmt.Fprintf(w, "server memory after the operations: RSS %d KiB, PSS %d KiB\n", e.RSS, e.PSS)
		}
	}
}
