package console

import (
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// BenchmarkSampler_SampleNow is the console's whole cost while nobody has it
// open: one gather of a registry shaped like a worker's (the Go and process
// collectors, ~60 series, 6 histograms) per DefaultInterval. The message
// path does not touch the console.
//
//	go test -run '^$' -bench SampleNow -benchmem ./internal/console
func BenchmarkSampler_SampleNow(b *testing.B) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for i := range 40 {
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: "newsflow_bench_counter_" + strconv.Itoa(i) + "_total", Help: "h"})
		c.Add(float64(i))
		reg.MustRegister(c)
	}
	for _, n := range []string{"newsflow_messages_processed_total", "newsflow_llm_calls_saved_total", "newsflow_cache_misses_total"} {
		reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: n, Help: "h"}))
	}
	hits := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "newsflow_cache_hits_total", Help: "h"}, []string{"tier"})
	hits.WithLabelValues("memory").Add(3)
	hits.WithLabelValues("redis").Add(2)
	reg.MustRegister(hits)
	for _, n := range []string{"newsflow_consumer_pending_messages", "newsflow_consumer_ack_pending_messages", "newsflow_oldest_unacked_age_seconds",
		"newsflow_consumer_drain_eta_seconds", "newsflow_replicas_hint", "newsflow_consumer_ack_rate_per_second"} {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: n, Help: "h"}, []string{"consumer"})
		g.WithLabelValues("news-workers").Set(1)
		reg.MustRegister(g)
	}
	for i := range 6 {
		h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "newsflow_bench_seconds_" + strconv.Itoa(i), Help: "h"})
		h.Observe(0.01)
		reg.MustRegister(h)
	}
	s, err := NewSampler(reg, 0, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.SampleNow(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/DefaultInterval.Seconds()/1e3, "µs-cpu/s-of-run")
}
