package worker

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	commitSeconds prometheus.Histogram
	endToEnd      prometheus.Histogram
	inFlight      prometheus.Gauge
	retries       prometheus.Counter
	splits        prometheus.Counter
	enrichFailed  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "newsflow_batch_commit_seconds",
			Help:    "Time to commit one batch in one database transaction.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		endToEnd: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "newsflow_publish_to_commit_seconds",
			Help:    "Time from a message's arrival in JetStream to the commit of its batch.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "newsflow_batches_in_flight",
			Help: "Batches being enriched or committed right now.",
		}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "newsflow_batch_commit_retries_total",
			Help: "Commit attempts that failed for a retryable reason (database down) and were retried.",
		}),
		splits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "newsflow_batch_splits_total",
			Help: "Batches split in two to isolate a message the database rejects.",
		}),
		enrichFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "newsflow_enrich_failed_messages_total",
			Help: "Messages naked because the LLM could not enrich their story.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.commitSeconds, m.endToEnd, m.inFlight, m.retries, m.splits, m.enrichFailed)
	}
	return m
}
