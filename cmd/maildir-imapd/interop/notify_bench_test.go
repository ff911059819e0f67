package interop

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"
)

// BenchmarkNotify measures NOTIFY's latency as the push benchmarks measure
// IDLE's: a client idles with INBOX selected under
// NOTIFY SET (selected (MessageNew MessageExpunge)) (personal (MessageNew MessageExpunge)),
// a message arrives in the folder Work, which is not selected, and the
// time runs until the client has read the "* STATUS Work (MESSAGES n ...)"
// that counts it. Metrics: the median (also ns/op), p90 and the maximum,
// in ms.
//
//   - rename: the message is written into Work/tmp/ and fsynced before the
//     timer starts; the time runs from just before its rename into new/,
//     what an MTA does. maildir-imapd only: Dovecot hears of changes to a
//     folder through its index, which such a delivery does not touch, and
//     sends nothing (TestNotify_dovecot).
//   - append: a second session APPENDs it; the time runs from just before
//     the APPEND is written. Against both servers.
//
// Use -benchtime 20x: Dovecot gathers changes for half a second before it
// reports them.
func BenchmarkNotify(b *testing.B) {
	b.Run("rename/imapd", func(b *testing.B) {
		a := newAccount(b)
		benchNotify(b, startImapd(b, a).Addr, a, true)
	})
	b.Run("append/imapd", func(b *testing.B) {
		a := newAccount(b)
		benchNotify(b, startImapd(b, a).Addr, a, false)
	})
	b.Run("append/dovecot", func(b *testing.B) {
		a := newAccount(b)
		benchNotify(b, startDovecot(b, a).Addr, a, false)
	})
}

func benchNotify(b *testing.B, addr string, a *account, rename bool) {
	other := dialNotify(b, addr)
	other.ok("CREATE Work")
	c := dialNotify(b, addr)
	c.ok("SELECT INBOX")
	c.ok("NOTIFY SET (selected (MessageNew MessageExpunge)) (personal (MessageNew MessageExpunge))")
	c.send("idle IDLE")
	if l := c.line(); l[0] != '+' {
		b.Fatalf("IDLE: %q", l)
	}
	work := filepath.Join(a.maildir, ".Work")
	var lat []time.Duration
	b.ResetTimer()
	for i := range b.N {
		key := fmt.Sprintf("b%d", i)
		var start time.Time
		if rename {
			tmp := writeTmp(b, a, work, key)
			start = time.Now()
			if err := os.Rename(tmp, filepath.Join(work, "new", filepath.Base(tmp))); err != nil {
				b.Fatal(err)
			}
		} else {
			start = time.Now()
			msg := crlf(testMessage(key))
			other.send(fmt.Sprintf("ap APPEND Work {%d+}\r\n%s", len(msg), msg))
		}
		c.until(regexp.MustCompile(fmt.Sprintf(`^\* STATUS Work \(MESSAGES %d `, i+1)))
		lat = append(lat, time.Since(start))
		if !rename {
			other.until(regexp.MustCompile(`^ap `))
		}
	}
	b.StopTimer()
	c.send("DONE")
	c.until(regexp.MustCompile(`^idle `))
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2]), "ns/op")
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[len(lat)*9/10]), "p90-ms")
	b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
}

// writeTmp writes the message key into folder/tmp/, fsynced and owned by
// the mail owner, and returns its path: what an MTA does before the
// rename into new/.
func writeTmp(b *testing.B, a *account, folder, key string) string {
	b.Helper()
	tmp := filepath.Join(folder, "tmp", fmt.Sprintf("%d.%s.bench", time.Now().UnixNano(), key))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := f.WriteString(testMessage(key)); err != nil {
		b.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	a.owner.chown(b, tmp)
	return tmp
}
