// Package metrics is the daemon's Prometheus instrumentation: the
// counters and histograms that the backend, the IMAP engine, auth_http and
// LMTP report to, the gauges read from the watcher and the connection
// table at scrape time, and the HTTP handler of /metrics and /healthz.
//
// It lives under cmd/maildir-imapd/internal so that the libraries
// (maildirbackend, idle, watch) stay free of Prometheus: they define small
// hook interfaces (maildirbackend.Metrics, idle's write observer,
// watch.Stats) and *Metrics implements them. Every method of a nil
// *Metrics does nothing, so that callers need no check when metrics are
// off (the default).
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/maildir-imapd/maildir-imapd/watch"
)

// namespace prefixes every metric name.
const namespace = "maildir_imapd"

// latencyBuckets span a push or a command: 100 µs to 30 s.
var latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// Metrics holds the daemon's metrics in a registry of its own. Create it
// with [New]; it is safe for concurrent use. A nil *Metrics ignores every
// call.
type Metrics struct {
	reg       *prometheus.Registry
	logins    *prometheus.CounterVec
	commands  *prometheus.CounterVec
	durations *prometheus.HistogramVec
	push      prometheus.Histogram
	lmtp      *prometheus.CounterVec
}

// New returns the metrics, with Go runtime and process metrics included.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "logins_total",
			Help: "Login attempts (IMAP and auth_http) by result: ok, failed (bad credentials), refused (throttled or over a cap), error.",
		}, []string{"result"}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "commands_total",
			Help: "IMAP commands by name and status (ok, no, bad, error).",
		}, []string{"command", "status"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "command_duration_seconds",
			Help:    "Time to handle an IMAP command, by name (IDLE: until DONE).",
			Buckets: latencyBuckets,
		}, []string{"command"}),
		push: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "push_latency_seconds",
			Help:    "Time from the file-system event of a change to the update written to a client that has the folder selected.",
			Buckets: latencyBuckets,
		}),
		lmtp: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "lmtp_deliveries_total",
			Help: "LMTP (and deliver) recipients by result: ok, unknown_user, over_quota, temporary, permanent.",
		}, []string{"result"}),
	}
	m.reg.MustRegister(m.logins, m.commands, m.durations, m.push, m.lmtp,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Login counts a login attempt with its result: "ok", "failed", "refused"
// or "error".
func (m *Metrics) Login(result string) {
	if m == nil {
		return
	}
	m.logins.WithLabelValues(result).Inc()
}

// Command records one IMAP command: its name (upper case, as "FETCH" or
// "UID FETCH"), how long it took and its status ("ok", "no", "bad" or
// "error"). It is the hook for the IMAP engine.
func (m *Metrics) Command(name string, d time.Duration, status string) {
	if m == nil {
		return
	}
	m.commands.WithLabelValues(name, status).Inc()
	m.durations.WithLabelValues(name).Observe(d.Seconds())
}

// Push records the latency of one push; it implements
// maildirbackend.Metrics.
func (m *Metrics) Push(latency time.Duration) {
	if m == nil {
		return
	}
	m.push.Observe(latency.Seconds())
}

// LMTPDelivery counts one LMTP (or deliver) recipient with its result, as
// "ok", "unknown_user", "over_quota", "temporary" or "permanent".
func (m *Metrics) LMTPDelivery(result string) {
	if m == nil {
		return
	}
	m.lmtp.WithLabelValues(result).Inc()
}

// WatchStats exports the watcher's statistics, read at each scrape:
// folders followed by inotify and by polling, overflows, rescans, events.
func (m *Metrics) WatchStats(stats func() watch.Stats) {
	if m == nil {
		return
	}
	m.reg.MustRegister(&watchCollector{stats: stats})
}

// Connections exports the open connections by state and TLS, counted at
// each scrape by count, which calls add once per connection.
func (m *Metrics) Connections(count func(add func(state, tls string))) {
	if m == nil {
		return
	}
	m.reg.MustRegister(&connCollector{count: count})
}

// Handler serves /metrics and /healthz. healthy reports whether the
// server works; /healthz answers 200 "ok" or 503 with its error.
func (m *Metrics) Handler(healthy func() error) http.Handler {
	mux := http.NewServeMux()
	if m != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := healthy(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(err.Error() + "\n"))
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}
