package feed

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the poller's Prometheus metrics, prefix newsflow_feed_.
type metrics struct {
	p         *Poller
	polls     *prometheus.CounterVec
	items     prometheus.Counter
	bytes     prometheus.Counter
	duration  prometheus.Histogram
	conflicts prometheus.Counter
	feeds     *prometheus.Desc
	stalest   *prometheus.Desc
}

func newMetrics(p *Poller) *metrics {
	m := &metrics{
		p: p,
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "newsflow_feed_polls_total",
			Help: "Feed polls by this replica, by outcome (new, unchanged, not_modified, error)."}, []string{"outcome"}),
		items: prometheus.NewCounter(prometheus.CounterOpts{Name: "newsflow_feed_items_published_total",
			Help: "Feed items published (stored by JetStream) by this replica."}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "newsflow_feed_fetched_bytes_total",
			Help: "Bytes read off the wire by feed fetches (compressed size)."}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "newsflow_feed_poll_duration_seconds",
			Help: "Duration of one poll: fetch, parse and publish.", Buckets: prometheus.ExponentialBuckets(0.01, 2.5, 10)}),
		conflicts: prometheus.NewCounter(prometheus.CounterOpts{Name: "newsflow_feed_lease_conflicts_total",
			Help: "Polls not made because another replica held or took the feed's lease."}),
		feeds: prometheus.NewDesc("newsflow_feed_feeds",
			"Feeds of this replica's list by state (new: never polled, ok, failing, polling: leased by a replica), as last read.", []string{"state"}, nil),
		stalest: prometheus.NewDesc("newsflow_feed_stalest_success_age_seconds",
			"Age of the oldest last success among this replica's feeds (a never-successful feed counts from when it was added).", nil, nil),
	}
	for _, o := range []Outcome{OutcomeNew, OutcomeUnchanged, OutcomeNotModified, OutcomeError} {
		m.polls.WithLabelValues(string(o))
	}
	return m
}

func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	m.polls.Describe(ch)
	ch <- m.items.Desc()
	ch <- m.bytes.Desc()
	ch <- m.duration.Desc()
	ch <- m.conflicts.Desc()
	ch <- m.feeds
	ch <- m.stalest
}

func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	m.polls.Collect(ch)
	ch <- m.items
	ch <- m.bytes
	ch <- m.duration
	ch <- m.conflicts
	now := time.Now()
	counts := map[string]int{"new": 0, "ok": 0, "failing": 0, "polling": 0}
	var stalest time.Duration
	m.p.mu.Lock()
	for _, s := range m.p.sources {
		st := m.p.view[s.URL]
		switch {
		case st == nil || st.LastPoll.IsZero():
			counts["new"]++
		case st.Leased(now):
			counts["polling"]++
		case st.Errors > 0:
			counts["failing"]++
		default:
			counts["ok"]++
		}
		if st != nil {
			since := st.LastSuccess
			if since.IsZero() {
				since = st.Added
			}
			stalest = max(stalest, now.Sub(since))
		}
	}
	m.p.mu.Unlock()
	for k, v := range counts {
		ch <- prometheus.MustNewConstMetric(m.feeds, prometheus.GaugeValue, float64(v), k)
	}
	ch <- prometheus.MustNewConstMetric(m.stalest, prometheus.GaugeValue, stalest.Seconds())
}
