package console

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"newsflow/internal/cache"
	"newsflow/internal/consumer"
	"newsflow/internal/llm"
)

// TestSampler_RingAndRates: the ring keeps the newest window/interval
// samples, oldest first, and the committed rate is the counter's growth
// over the time between samples.
func TestSampler_RingAndRates(t *testing.T) {
	reg := prometheus.NewRegistry()
	processed := prometheus.NewCounter(prometheus.CounterOpts{Name: consumer.MetricProcessed, Help: "h"})
	hits := prometheus.NewCounterVec(prometheus.CounterOpts{Name: cache.MetricHits, Help: "h"}, []string{cache.LabelTier})
	misses := prometheus.NewCounter(prometheus.CounterOpts{Name: cache.MetricMisses, Help: "h"})
	breaker := prometheus.NewGauge(prometheus.GaugeOpts{Name: llm.MetricBreakerOpen, Help: "h"})
	degraded := prometheus.NewGauge(prometheus.GaugeOpts{Name: cache.MetricRedisDegraded, Help: "h"})
	reg.MustRegister(processed, hits, misses, breaker, degraded)

	s, err := NewSampler(reg, 2*time.Second, 10*time.Second) // 5 samples
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1000, 0)
	s.now = func() time.Time { return at }
	for i := range 7 {
		processed.Add(100) // 50 msg/s over 2 s
		if err := s.SampleNow(); err != nil {
			t.Fatal(err)
		}
		if i == 5 {
			breaker.Set(1)
			degraded.Set(1)
		}
		at = at.Add(2 * time.Second)
	}
	h := s.History()
	if len(h) != 5 {
		t.Fatalf("%d samples kept, want 5", len(h))
	}
	for i, smp := range h {
		if want := float64(300 + 100*i); smp.Committed != want {
			t.Errorf("sample %d committed %v, want %v (oldest first)", i, smp.Committed, want)
		}
		if smp.CommittedPerSecond != 50 {
			t.Errorf("sample %d rate %v, want 50", i, smp.CommittedPerSecond)
		}
	}
	if last, _ := s.Last(); last.Committed != 700 || last.Breaker != StateOpen || last.Redis != StateDegraded {
		t.Errorf("last = %+v, want 700 committed, breaker open, redis degraded", last)
	}
	if h[0].Breaker != StateClosed || h[0].Redis != StateNone {
		t.Errorf("first kept: breaker %s redis %s, want closed and none (no Redis pool metrics)", h[0].Breaker, h[0].Redis)
	}

	hits.WithLabelValues("memory").Add(6)
	hits.WithLabelValues("redis").Add(2)
	misses.Add(2)
	_ = s.SampleNow()
	last, _ := s.Last()
	if last.HitRatio("memory") != 0.6 || last.HitRatio("redis") != 0.2 || (Sample{}).HitRatio("memory") != 0 {
		t.Errorf("hit ratios %v %v, want 0.6 and 0.2", last.HitRatio("memory"), last.HitRatio("redis"))
	}
	if _, err := NewSampler(reg, time.Minute, time.Second); err == nil {
		t.Error("window shorter than the interval: no error")
	}
}

func TestFormat(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{formatCount(12), "12"}, {formatCount(12.34), "12.3"}, {formatCount(12345), "12.3k"}, {formatCount(4.5e6), "4.5M"},
		{formatSeconds(-1), "unknown"}, {formatSeconds(0.25), "250 ms"}, {formatSeconds(42), "42 s"},
		{formatSeconds(185), "3 min 5 s"}, {formatSeconds(120), "2 min"}, {formatSeconds(7800), "2 h 10 min"}, {formatBytes(2048), "2.0 KiB"}, {formatBytes(12), "12 B"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
