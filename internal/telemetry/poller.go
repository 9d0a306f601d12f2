package telemetry

import (
	"cmp"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// DefaultPollInterval is how often a Poller samples when its interval is 0.
const DefaultPollInterval = 5 * time.Second

// Names of the Poller's gauges that other packages read (the console's sampler).
const (
	MetricPending          = "newsflow_consumer_pending_messages"
	MetricAckPending       = "newsflow_consumer_ack_pending_messages"
	MetricOldestUnackedAge = "newsflow_oldest_unacked_age_seconds"
	MetricAckRate          = "newsflow_consumer_ack_rate_per_second"
	MetricDrainETA         = "newsflow_consumer_drain_eta_seconds"
	MetricReplicasHint     = "newsflow_replicas_hint"
)

// Poller samples a LagMeter at a steady interval and exports the result as
// gauges labelled by consumer: newsflow_consumer_pending_messages,
// newsflow_consumer_ack_pending_messages,
// newsflow_consumer_redelivered_messages, newsflow_consumer_waiting_pulls,
// newsflow_oldest_unacked_age_seconds, newsflow_consumer_ack_rate_per_second,
// newsflow_consumer_drain_eta_seconds, newsflow_consumer_live_workers and
// newsflow_replicas_hint.
type Poller struct {
	meter    *LagMeter
	interval time.Duration
	log      *zap.Logger

	pending, ackPending, redelivered, waiting *prometheus.GaugeVec
	age, rate, eta, hint, live                *prometheus.GaugeVec
	errors                                    prometheus.Counter

	mu   sync.Mutex
	last []Lag
}

// NewPoller returns a poller of m every interval (DefaultPollInterval when
// 0), registering its metrics on reg (nil: not registered).
func NewPoller(m *LagMeter, interval time.Duration, log *zap.Logger, reg prometheus.Registerer) (*Poller, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if interval < 0 {
		return nil, fmt.Errorf("telemetry: poller: need interval ≥ 0, got %s", interval)
	}
	gauge := func(name, help string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, []string{"consumer"})
	}
	p := &Poller{
		meter:       m,
		interval:    cmp.Or(interval, DefaultPollInterval),
		log:         log.Named("lag").With(zap.String("stream", m.cfg.Stream)),
		pending:     gauge(MetricPending, "Messages matching the consumer not yet delivered."),
		ackPending:  gauge(MetricAckPending, "Messages delivered to the consumer and not yet acked."),
		redelivered: gauge("newsflow_consumer_redelivered_messages", "Unacked messages delivered more than once."),
		waiting:     gauge("newsflow_consumer_waiting_pulls", "Pull requests waiting on the consumer."),
		age:         gauge(MetricOldestUnackedAge, "Age of the oldest message the consumer has not acked; 0 when none is pending."),
		rate:        gauge(MetricAckRate, "Smoothed rate at which the consumer's messages are acked."),
		eta:         gauge(MetricDrainETA, "Seconds to drain the backlog at the current rate; -1 when there is a backlog and no rate."),
		hint:        gauge(MetricReplicasHint, "Workers needed to keep up and drain the backlog within the target time; the minimum when there is no backlog."),
		live:        gauge("newsflow_consumer_live_workers", "Workers of the consumer heartbeating in the worker registry (or the configured count)."),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "newsflow_lag_poll_errors_total", Help: "Lag samples that failed.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{p.pending, p.ackPending, p.redelivered, p.waiting, p.age, p.rate, p.eta, p.hint, p.live, p.errors} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("telemetry: poller: register metrics: %w", err)
			}
		}
	}
	return p, nil
}

// Run samples at once and then every interval until ctx is done; it returns
// nil then. A failed sample is logged and counted, and the gauges keep
// their last values.
func (p *Poller) Run(ctx context.Context) error {
	t := time.NewTicker(p.interval)
	defer t.Stop()
	failures := 0
	for {
		if err := p.Poll(ctx); err != nil && ctx.Err() == nil {
			failures++
			// Log the first failure of a run of them and then every 12th, so
			// an outage does not flood the log.
			if failures%12 == 1 {
				p.log.Warn("sample consumer lag", zap.Int("failures", failures), zap.Error(err))
			}
		} else {
			failures = 0
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Poll takes one sample and updates the gauges.
func (p *Poller) Poll(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, max(p.interval, 2*time.Second))
	defer cancel()
	lags, err := p.meter.Sample(ctx)
	if err != nil {
		p.errors.Inc()
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	gone := map[string]bool{}
	for _, l := range p.last {
		gone[l.Consumer] = true
	}
	for _, l := range lags {
		delete(gone, l.Consumer)
		c := l.Consumer
		p.pending.WithLabelValues(c).Set(float64(l.NumPending))
		p.ackPending.WithLabelValues(c).Set(float64(l.NumAckPending))
		p.redelivered.WithLabelValues(c).Set(float64(l.NumRedelivered))
		p.waiting.WithLabelValues(c).Set(float64(l.NumWaiting))
		p.age.WithLabelValues(c).Set(l.OldestUnackedAgeSeconds)
		p.rate.WithLabelValues(c).Set(l.RatePerSecond)
		p.eta.WithLabelValues(c).Set(l.DrainETASeconds)
		p.hint.WithLabelValues(c).Set(float64(l.ReplicasHint))
		p.live.WithLabelValues(c).Set(float64(l.Workers))
	}
	for c := range gone {
		for _, g := range []*prometheus.GaugeVec{p.pending, p.ackPending, p.redelivered, p.waiting, p.age, p.rate, p.eta, p.hint, p.live} {
			g.DeleteLabelValues(c)
		}
	}
	p.last = lags
	return nil
}

// Last returns the most recent successful sample.
func (p *Poller) Last() []Lag {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Lag(nil), p.last...)
}
