package console

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"newsflow/internal/cache"
	"newsflow/internal/consumer"
	"newsflow/internal/enrich"
	"newsflow/internal/llm"
	"newsflow/internal/telemetry"
)

// Defaults of the Sampler.
const (
	// DefaultInterval is how often the Sampler reads the registry.
	DefaultInterval = 2 * time.Second
	// DefaultWindow is how much history the Sampler keeps.
	DefaultWindow = 15 * time.Minute
)

// States of the breaker and of Redis in a Sample.
// They are the worker registry's, so a Sample and a Worker read alike.
const (
	StateNone     = telemetry.StateNone     // not configured
	StateOK       = telemetry.StateOK       // Redis reachable
	StateDegraded = telemetry.StateDegraded // Redis unreachable: in-process cache only
	StateClosed   = telemetry.StateClosed   // breaker closed: LLM calls flow
	StateOpen     = telemetry.StateOpen     // breaker open: LLM failing, batches held
)

// Sample is the worker's state at one moment. Totals count since the
// worker started; rates are over the interval before At. A figure whose
// metric the registry does not have is 0 (see HasLag, Breaker, Redis).
type Sample struct {
	// At is when the sample was taken.
	At time.Time `json:"at"`
	// Committed counts messages acked after their batch committed.
	Committed float64 `json:"committed"`
	// CommittedPerSecond is Committed's rate since the previous sample.
	CommittedPerSecond float64 `json:"committed_per_second"`
	// HasLag says whether lag figures exist (the lag poller runs).
	HasLag bool `json:"has_lag"`
	// LagMessages is the backlog: pending plus ack pending, summed over consumers.
	LagMessages float64 `json:"lag_messages"`
	// LagSeconds is the age of the oldest unacked message (the largest over consumers).
	LagSeconds float64 `json:"lag_seconds"`
	// DrainETASeconds is the time to drain the backlog at the current rate;
	// -1 when there is a backlog and no rate.
	DrainETASeconds float64 `json:"drain_eta_seconds"`
	// ReplicasHint is the number of workers the lag poller suggests.
	ReplicasHint float64 `json:"replicas_hint"`
	// LLMCalls counts LLM call attempts; LLMCallsSaved the calls the cache
	// and in-batch deduplication made unnecessary.
	LLMCalls      float64 `json:"llm_calls"`
	LLMCallsSaved float64 `json:"llm_calls_saved"`
	// CacheHits counts cache hits by tier (memory, redis); CacheMisses the misses.
	CacheHits   map[string]float64 `json:"cache_hits"`
	CacheMisses float64            `json:"cache_misses"`
	// DeadLetters counts messages this worker dead-lettered.
	DeadLetters float64 `json:"dead_letters"`
	// Held counts messages in the pipeline not yet acked.
	Held float64 `json:"held"`
	// Breaker is closed, open, or none (no LLM client).
	Breaker string `json:"breaker"`
	// Redis is ok, degraded, or none (not configured).
	Redis string `json:"redis"`
}

// HitRatio is the fraction of cache lookups tier answered, in [0, 1]; 0
// when there was no lookup.
func (s Sample) HitRatio(tier string) float64 {
	total := s.CacheMisses
	for _, v := range s.CacheHits {
		total += v
	}
	if total == 0 {
		return 0
	}
	return s.CacheHits[tier] / total
}

// Sampler reads a registry at a steady interval and keeps the samples of the
// last window in a ring buffer. Safe for concurrent use.
type Sampler struct {
	g        prometheus.Gatherer
	interval time.Duration
	window   time.Duration // interval × the ring's capacity
	now      func() time.Time

	mu   sync.Mutex
	ring []Sample // capacity window/interval; ring[next] is the oldest once full
	next int
	subs map[chan Sample]struct{}
}

// NewSampler returns a sampler of g every interval (DefaultInterval when 0)
// keeping window of history (DefaultWindow when 0).
func NewSampler(g prometheus.Gatherer, interval, window time.Duration) (*Sampler, error) {
	interval, window = cmp.Or(interval, DefaultInterval), cmp.Or(window, DefaultWindow)
	if interval < 0 || window < interval {
		return nil, fmt.Errorf("console: sampler: need interval > 0 and window ≥ interval, got %s and %s", interval, window)
	}
	n := int(window / interval)
	return &Sampler{g: g, interval: interval, window: time.Duration(n) * interval, now: time.Now, ring: make([]Sample, 0, n), subs: map[chan Sample]struct{}{}}, nil
}

// Interval is the time between samples.
func (s *Sampler) Interval() time.Duration { return s.interval }

// Window is the time the history spans when full.
func (s *Sampler) Window() time.Duration { return s.window }

// Run samples at once and then every interval until ctx is done. A failed
// gather skips that sample.
func (s *Sampler) Run(ctx context.Context) {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		_ = s.SampleNow()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// SampleNow reads the registry once, stores the sample and sends it to the
// subscribers.
func (s *Sampler) SampleNow() error {
	mfs, err := s.g.Gather()
	if err != nil && len(mfs) == 0 {
		return fmt.Errorf("console: gather metrics: %w", err)
	}
	smp, committed, ackRate := fromFamilies(mfs)
	smp.At = s.now()

	s.mu.Lock()
	defer s.mu.Unlock()
	if !committed {
		// No pipeline in this process (a standalone console): the lag
		// poller's smoothed ack rate is the fleet's throughput.
		smp.CommittedPerSecond = ackRate
	} else if prev, ok := s.lastLocked(); ok {
		if dt := smp.At.Sub(prev.At).Seconds(); dt > 0 && smp.Committed >= prev.Committed {
			smp.CommittedPerSecond = (smp.Committed - prev.Committed) / dt
		}
	}
	if len(s.ring) < cap(s.ring) {
		s.ring = append(s.ring, smp)
	} else {
		s.ring[s.next] = smp
		s.next = (s.next + 1) % len(s.ring)
	}
	for c := range s.subs {
		select {
		case c <- smp:
		default: // a slow reader misses a sample rather than stalling the sampler
		}
	}
	return nil
}

func (s *Sampler) lastLocked() (Sample, bool) {
	switch {
	case len(s.ring) == 0:
		return Sample{}, false
	case len(s.ring) < cap(s.ring):
		return s.ring[len(s.ring)-1], true
	}
	return s.ring[(s.next+len(s.ring)-1)%len(s.ring)], true
}

// History returns the samples kept, oldest first.
func (s *Sampler) History() []Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Sample, 0, len(s.ring))
	if len(s.ring) < cap(s.ring) {
		return append(out, s.ring...)
	}
	out = append(out, s.ring[s.next:]...)
	return append(out, s.ring[:s.next]...)
}

// Last returns the newest sample, and false before the first.
func (s *Sampler) Last() (Sample, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastLocked()
}

// Subscribe returns a channel receiving each new sample (a reader that
// falls behind misses samples) and a function that ends the subscription.
func (s *Sampler) Subscribe() (<-chan Sample, func()) {
	c := make(chan Sample, 4)
	s.mu.Lock()
	s.subs[c] = struct{}{}
	s.mu.Unlock()
	return c, func() {
		s.mu.Lock()
		delete(s.subs, c)
		s.mu.Unlock()
	}
}

// fromFamilies picks the console's figures out of gathered metrics; it
// reports whether the committed counter exists and the lag poller's ack
// rate.
func fromFamilies(mfs []*dto.MetricFamily) (smp Sample, committed bool, ackRate float64) {
	smp = Sample{Breaker: StateNone, Redis: StateNone, CacheHits: map[string]float64{}}
	redisPool := false
	for _, mf := range mfs {
		ms := mf.GetMetric()
		switch mf.GetName() {
		case consumer.MetricProcessed:
			smp.Committed, committed = sum(ms), true
		case telemetry.MetricAckRate:
			ackRate = sum(ms)
		case telemetry.MetricPending, telemetry.MetricAckPending:
			smp.HasLag = true
			smp.LagMessages += sum(ms)
		case telemetry.MetricOldestUnackedAge:
			smp.LagSeconds = maxOf(ms)
		case telemetry.MetricDrainETA:
			smp.DrainETASeconds = maxOf(ms)
		case telemetry.MetricReplicasHint:
			smp.ReplicasHint = maxOf(ms)
		case llm.MetricCalls:
			smp.LLMCalls = sum(ms)
		case enrich.MetricCallsSaved:
			smp.LLMCallsSaved = sum(ms)
		case cache.MetricHits:
			for _, m := range ms {
				smp.CacheHits[label(m, cache.LabelTier)] += value(m)
			}
		case cache.MetricMisses:
			smp.CacheMisses = sum(ms)
		case consumer.MetricDeadLettered:
			smp.DeadLetters = sum(ms)
		case consumer.MetricHeld:
			smp.Held = sum(ms)
		case llm.MetricBreakerOpen:
			smp.Breaker = StateClosed
			if sum(ms) > 0 {
				smp.Breaker = StateOpen
			}
		case cache.MetricRedisDegraded:
			if sum(ms) > 0 {
				smp.Redis = StateDegraded
			}
		case cache.MetricRedisPoolTotalConns:
			redisPool = true
		}
	}
	if redisPool && smp.Redis == StateNone {
		smp.Redis = StateOK
	}
	return smp, committed, ackRate
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return 0
}

func sum(ms []*dto.Metric) float64 {
	var t float64
	for _, m := range ms {
		t += value(m)
	}
	return t
}

func maxOf(ms []*dto.Metric) float64 {
	if len(ms) == 0 {
		return 0
	}
	v := math.Inf(-1)
	for _, m := range ms {
		v = max(v, value(m))
	}
	return v
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
