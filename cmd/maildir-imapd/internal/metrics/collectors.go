package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/maildir-imapd/maildir-imapd/watch"
)

var (
	foldersDesc = prometheus.NewDesc(namespace+"_folders",
		"Folders followed for changes, by mode: inotify, or polled (no inotify watch could be had, or a network file system).",
		[]string{"mode"}, nil)
	watchesDesc = prometheus.NewDesc(namespace+"_inotify_watches",
		"inotify watches held.", nil, nil)
	eventsDesc = prometheus.NewDesc(namespace+"_watch_events_total",
		"File-system events received.", nil, nil)
	overflowsDesc = prometheus.NewDesc(namespace+"_watch_overflows_total",
		"Kernel event queue overflows (every folder is then rescanned).", nil, nil)
	rescansDesc = prometheus.NewDesc(namespace+"_rescans_total",
		"Whole-folder rescans asked for by the watcher (overflows, lost names, polled folders that changed).", nil, nil)
	connsDesc = prometheus.NewDesc(namespace+"_connections",
		"Open IMAP connections by state (not_authenticated, authenticated, selected, idle) and TLS (yes, no).",
		[]string{"state", "tls"}, nil)
)

// watchCollector reads watch.Stats at scrape time.
type watchCollector struct {
	stats func() watch.Stats
}

func (c *watchCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{foldersDesc, watchesDesc, eventsDesc, overflowsDesc, rescansDesc} {
		ch <- d
	}
}

func (c *watchCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.stats()
	ch <- prometheus.MustNewConstMetric(foldersDesc, prometheus.GaugeValue, float64(st.Folders-st.PolledFolders), "inotify")
	ch <- prometheus.MustNewConstMetric(foldersDesc, prometheus.GaugeValue, float64(st.PolledFolders), "polled")
	ch <- prometheus.MustNewConstMetric(watchesDesc, prometheus.GaugeValue, float64(st.Watches))
	ch <- prometheus.MustNewConstMetric(eventsDesc, prometheus.CounterValue, float64(st.Events))
	ch <- prometheus.MustNewConstMetric(overflowsDesc, prometheus.CounterValue, float64(st.Overflows))
	ch <- prometheus.MustNewConstMetric(rescansDesc, prometheus.CounterValue, float64(st.Rescans))
}

// connCollector counts connections at scrape time.
type connCollector struct {
	count func(add func(state, tls string))
}

func (c *connCollector) Describe(ch chan<- *prometheus.Desc) { ch <- connsDesc }

func (c *connCollector) Collect(ch chan<- prometheus.Metric) {
	type key struct{ state, tls string }
	n := map[key]int{}
	// Every series exists from the start, so that a dashboard sees 0.
	for _, s := range []string{"not_authenticated", "authenticated", "selected", "idle"} {
		n[key{s, "no"}], n[key{s, "yes"}] = 0, 0
	}
	c.count(func(state, tls string) { n[key{state, tls}]++ })
	for k, v := range n {
		ch <- prometheus.MustNewConstMetric(connsDesc, prometheus.GaugeValue, float64(v), k.state, k.tls)
	}
}
