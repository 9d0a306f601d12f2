package console

import (
	"strconv"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"newsflow/internal/cache"
	"newsflow/internal/consumer"
	"newsflow/internal/enrich"
	"newsflow/internal/telemetry"
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
	for _, n := range []string{consumer.MetricProcessed, enrich.MetricCallsSaved, cache.MetricMisses} {
		reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: n, Help: "h"}))
	}
	hits := prometheus.NewCounterVec(prometheus.CounterOpts{Name: cache.MetricHits, Help: "h"}, []string{cache.LabelTier})
	hits.WithLabelValues("memory").Add(3)
	hits.WithLabelValues("redis").Add(2)
	reg.MustRegister(hits)
	for _, n := range []string{telemetry.MetricPending, telemetry.MetricAckPending, telemetry.MetricOldestUnackedAge,
		telemetry.MetricDrainETA, telemetry.MetricReplicasHint, telemetry.MetricAckRate} {
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
