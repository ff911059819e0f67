package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/maildir-imapd/maildir-imapd/watch"
)

// A nil *Metrics (metrics off) ignores every call.
func TestMetrics_nil(t *testing.T) {
	var m *Metrics
	m.Login("ok")
	m.Command("FETCH", time.Millisecond, "ok")
	m.Push(time.Millisecond)
	m.LMTPDelivery("ok")
	m.WatchStats(func() watch.Stats { return watch.Stats{} })
	m.Connections(func(func(string, string)) {})
}

// The exposition has what was reported and what the scrape-time
// collectors read.
func TestMetrics_exposition(t *testing.T) {
	m := New()
	m.LMTPDelivery("ok")
	m.LMTPDelivery("ok")
	m.LMTPDelivery("unknown_user")
	m.Command("UID FETCH", 3*time.Millisecond, "ok")
	m.WatchStats(func() watch.Stats {
		return watch.Stats{Folders: 5, PolledFolders: 2, Overflows: 1, Rescans: 4, Events: 9, Watches: 6}
	})
	m.Connections(func(add func(state, tls string)) {
		add("idle", "yes")
		add("idle", "yes")
		add("not_authenticated", "no")
	})
	rec := httptest.NewRecorder()
	m.Handler(func() error { return nil }).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`maildir_imapd_lmtp_deliveries_total{result="ok"} 2`,
		`maildir_imapd_lmtp_deliveries_total{result="unknown_user"} 1`,
		`maildir_imapd_commands_total{command="UID FETCH",status="ok"} 1`,
		`maildir_imapd_command_duration_seconds_bucket{command="UID FETCH",le="0.0025"} 0`,
		`maildir_imapd_command_duration_seconds_bucket{command="UID FETCH",le="0.005"} 1`,
		`maildir_imapd_folders{mode="inotify"} 3`,
		`maildir_imapd_folders{mode="polled"} 2`,
		`maildir_imapd_watch_overflows_total 1`,
		`maildir_imapd_rescans_total 4`,
		`maildir_imapd_connections{state="idle",tls="yes"} 2`,
		`maildir_imapd_connections{state="selected",tls="no"} 0`,
		`go_goroutines `,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	rec = httptest.NewRecorder()
	m.Handler(func() error { return io.EOF }).ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != 503 {
		t.Errorf("/healthz of an unhealthy server: %d, want 503", rec.Code)
	}
}
