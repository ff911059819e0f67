package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
)

// scrape returns the value of the sample whose line starts with series
// (name and labels, as in the exposition format), or -1 if absent.
func scrape(t *testing.T, addr, series string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`)
	m := re.FindSubmatch(body)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// wantMetric fails unless series has the value want.
func wantMetric(t *testing.T, addr, series string, want float64) {
	t.Helper()
	if got := scrape(t, addr, series); got != want {
		t.Errorf("%s = %v, want %v", series, got, want)
	}
}

// The metrics endpoint after a push: the login, the failed login, the
// commands, the connection in IDLE, the watched folder and one push
// latency sample, as the test did them.
func TestMetrics_afterPush(t *testing.T) {
	cfg := testConfig(t)
	cfg.MetricsListen = "127.0.0.1:0"
	cfg.AuthFailureDelay = 0
	r := startServe(t, cfg)
	maddr := r.d.OpsAddr("metrics")
	plain, _ := r.d.Addrs()

	resp, err := http.Get("http://" + maddr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %s", resp.Status)
	}

	bad := dialPlain(t, plain)
	if err := bad.Login(testUser, "wrong").Wait(); err == nil {
		t.Fatal("wrong password accepted")
	}
	exists := make(chan uint32, 16)
	c, err := imapclient.DialInsecure(plain, &imapclient.Options{
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(m *imapclient.UnilateralDataMailbox) {
				if m.NumMessages != nil {
					exists <- *m.NumMessages
				}
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(testUser, testPassword).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	idle, err := c.Idle()
	if err != nil {
		t.Fatal(err)
	}
	// go-imap's client returns from Idle once the server said "+"; the
	// connection is in IDLE from then on.
	wantMetric(t, maddr, `maildir_imapd_connections{state="idle",tls="no"}`, 1)
	wantMetric(t, maddr, `maildir_imapd_connections{state="not_authenticated",tls="no"}`, 1) // the failed one

	inbox := filepath.Join(filepath.Dir(cfg.Users), "home", testUser, "Maildir")
	deliverFile(t, inbox, "pushed")
	select {
	case n := <-exists:
		if n != 2 {
			t.Fatalf("* %d EXISTS, want 2", n)
		}
	case <-time.After(waitLimit):
		t.Fatal("no EXISTS after a delivery")
	}
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}

	wantMetric(t, maddr, `maildir_imapd_logins_total{result="ok"}`, 1)
	wantMetric(t, maddr, `maildir_imapd_logins_total{result="failed"}`, 1)
	wantMetric(t, maddr, `maildir_imapd_commands_total{command="SELECT",status="ok"}`, 1)
	wantMetric(t, maddr, `maildir_imapd_commands_total{command="LOGIN",status="no"}`, 1)
	wantMetric(t, maddr, `maildir_imapd_command_duration_seconds_count{command="IDLE"}`, 1)
	wantMetric(t, maddr, `maildir_imapd_push_latency_seconds_count`, 1)
	wantMetric(t, maddr, `maildir_imapd_folders{mode="inotify"}`, 1)
	wantMetric(t, maddr, `maildir_imapd_folders{mode="polled"}`, 0)
	wantMetric(t, maddr, `maildir_imapd_connections{state="selected",tls="no"}`, 1)
	if v := scrape(t, maddr, `maildir_imapd_push_latency_seconds_sum`); v <= 0 || v > waitLimit.Seconds() {
		t.Errorf("push latency sum %v s: want the one push's latency", v)
	}
}

// deliverFile delivers a message into a Maildir as an MTA does.
func deliverFile(t *testing.T, maildir, subject string) {
	t.Helper()
	name := strconv.FormatInt(time.Now().UnixNano(), 10) + ".test"
	tmp := filepath.Join(maildir, "tmp", name)
	writeFile(t, tmp, "Subject: "+subject+"\n\nbody\n")
	if err := os.Rename(tmp, filepath.Join(maildir, "new", name)); err != nil {
		t.Fatal(err)
	}
}

// Metrics off (the default): no listener, and a nil *Metrics everywhere.
func TestMetrics_offByDefault(t *testing.T) {
	r := startServe(t, testConfig(t))
	if r.d.OpsAddr("metrics") != "" || r.d.metrics != nil {
		t.Fatal("metrics on without metrics-listen")
	}
	if err := r.d.healthy(); err != nil {
		t.Fatal(err)
	}
}
