package telemetry

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Lag is one consumer's backlog as `worker lag --json` prints it (one object
// per line) and the Poller exports it.
type Lag struct {
	// Stream and Consumer name the consumer.
	Stream   string `json:"stream"`
	Consumer string `json:"consumer"`
	// NumPending counts messages matching the consumer not yet delivered.
	NumPending uint64 `json:"num_pending"`
	// NumAckPending counts messages delivered and not yet acked.
	NumAckPending uint64 `json:"num_ack_pending"`
	// NumRedelivered counts unacked messages delivered more than once.
	NumRedelivered uint64 `json:"num_redelivered"`
	// NumWaiting counts waiting pull requests (roughly: idle fetchers).
	NumWaiting uint64 `json:"num_waiting"`
	// OldestUnackedAgeSeconds is the age of the oldest message not yet acked:
	// the first stream message above the ack floor. 0 when nothing is pending.
	OldestUnackedAgeSeconds float64 `json:"oldest_unacked_age_seconds"`
	// RatePerSecond is the smoothed processing rate: acked messages per
	// second, from the movement of the acked position between samples. 0
	// until two samples exist.
	RatePerSecond float64 `json:"rate_per_second"`
	// ArrivalRatePerSecond is the smoothed rate at which the consumer's
	// backlog receives messages (processing rate + backlog growth).
	ArrivalRatePerSecond float64 `json:"arrival_rate_per_second"`
	// DrainETASeconds is Backlog / RatePerSecond, ignoring new arrivals: 0
	// when there is no backlog, -1 when there is one but no measured rate.
	DrainETASeconds float64 `json:"drain_eta_seconds"`
	// ReplicasHint is the number of workers that would keep up with arrivals
	// and drain the backlog within the target time, at the observed rate per
	// worker, within [MinReplicas, MaxReplicas]; MinReplicas when there is
	// no backlog.
	ReplicasHint int `json:"replicas_hint"`
	// Workers is the worker count the hint divides the rate by: the
	// configured count, else the live workers of the consumer in the worker
	// registry (0 when none heartbeats).
	Workers int `json:"workers"`
	// AckFloor is the stream sequence below which everything is acked.
	AckFloor uint64 `json:"ack_floor"`
	// DiscardedUndelivered counts messages the stream has removed by its
	// limits (max bytes, max age) that the consumer never delivered: the
	// sequences between its last delivered one and the stream's first. The
	// consumer skips them when it gets there; workers count them in
	// newsflow_messages_discarded_by_stream_total.
	DiscardedUndelivered uint64 `json:"discarded_undelivered"`
	// SampledAt is when the sample was taken.
	SampledAt time.Time `json:"sampled_at"`
}

// Backlog is the number of messages not yet acked: pending plus ack pending.
func (l Lag) Backlog() uint64 { return l.NumPending + l.NumAckPending }

// Defaults of LagConfig.
const (
	// DefaultLagTarget is the drain target of the replica hint.
	DefaultLagTarget = 5 * time.Minute
	// DefaultRateWindow is the time constant of the rate smoothing.
	DefaultRateWindow = 30 * time.Second
	// DefaultMinReplicas is the replica hint when there is no backlog.
	DefaultMinReplicas = 1
)

// LagConfig says which consumers a LagMeter samples and how it estimates.
type LagConfig struct {
	// Stream is the stream whose consumers are sampled. Required.
	Stream string
	// Consumer, when set, limits sampling to that consumer. Default: all.
	Consumer string
	// Target is the time within which the replica hint aims to drain the
	// backlog. Default DefaultLagTarget (5m).
	Target time.Duration
	// MaxReplicas caps the replica hint; set it to what the LLM rate limit
	// allows (workers beyond it only collect 429s). 0 means no cap.
	MaxReplicas int
	// MinReplicas is the replica hint when there is no backlog and its
	// floor otherwise. Default DefaultMinReplicas (1).
	MinReplicas int
	// Workers is the number of running workers, when known. 0 means count
	// the consumer's live workers in the registry bucket.
	Workers int
	// Registry is the worker registry's key-value bucket. Default
	// DefaultRegistryBucket.
	Registry string
	// RateWindow is the time constant of the exponential smoothing of the
	// rates. Default DefaultRateWindow (30s).
	RateWindow time.Duration
}

// Validate reports a config the meter cannot use.
func (c LagConfig) Validate() error {
	switch {
	case c.Stream == "":
		return errors.New("telemetry: lag: need a Stream")
	case c.Target < 0 || c.RateWindow < 0:
		return fmt.Errorf("telemetry: lag: need Target ≥ 0 and RateWindow ≥ 0, got %s and %s", c.Target, c.RateWindow)
	case c.MaxReplicas < 0 || c.Workers < 0:
		return fmt.Errorf("telemetry: lag: need MaxReplicas ≥ 0 and Workers ≥ 0, got %d and %d", c.MaxReplicas, c.Workers)
	case c.MinReplicas < 1:
		return fmt.Errorf("telemetry: lag: need MinReplicas ≥ 1, got %d", c.MinReplicas)
	case c.MaxReplicas > 0 && c.MinReplicas > c.MaxReplicas:
		return fmt.Errorf("telemetry: lag: need MinReplicas ≤ MaxReplicas, got %d and %d", c.MinReplicas, c.MaxReplicas)
	}
	return nil
}

// LagMeter samples the consumers of one stream. Rates need two samples, so
// keep one meter and sample it at a steady interval.
type LagMeter struct {
	js  jetstream.JetStream
	cfg LagConfig
	now func() time.Time

	mu    sync.Mutex
	state map[string]*rateState
	live  map[string]int // live workers by consumer, from the last registry read
}

// rateState is one consumer's memory between samples.
type rateState struct {
	at       time.Time
	position uint64 // acked position (see ackedPosition)
	backlog  uint64
	rate     float64
	arrival  float64
	measured bool
}

// NewLagMeter returns a meter of cfg.Stream's consumers.
func NewLagMeter(js jetstream.JetStream, cfg LagConfig) (*LagMeter, error) {
	cfg.Target = cmp.Or(cfg.Target, DefaultLagTarget)
	cfg.RateWindow = cmp.Or(cfg.RateWindow, DefaultRateWindow)
	cfg.MinReplicas = cmp.Or(cfg.MinReplicas, DefaultMinReplicas)
	cfg.Registry = cmp.Or(cfg.Registry, DefaultRegistryBucket)
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &LagMeter{js: js, cfg: cfg, now: time.Now, state: map[string]*rateState{}, live: map[string]int{}}, nil
}

// Sample reads the state of the stream's consumers (or the configured one)
// and returns their lag, sorted by consumer name.
func (m *LagMeter) Sample(ctx context.Context) ([]Lag, error) {
	stream, err := m.js.Stream(ctx, m.cfg.Stream)
	if err != nil {
		return nil, fmt.Errorf("telemetry: lag: stream %s: %w", m.cfg.Stream, err)
	}
	var infos []*jetstream.ConsumerInfo
	if m.cfg.Consumer != "" {
		c, err := stream.Consumer(ctx, m.cfg.Consumer)
		if err != nil {
			return nil, fmt.Errorf("telemetry: lag: consumer %s: %w", m.cfg.Consumer, err)
		}
		info, err := c.Info(ctx)
		if err != nil {
			return nil, fmt.Errorf("telemetry: lag: consumer %s info: %w", m.cfg.Consumer, err)
		}
		infos = append(infos, info)
	} else {
		l := stream.ListConsumers(ctx)
		for info := range l.Info() {
			infos = append(infos, info)
		}
		if err := l.Err(); err != nil {
			return nil, fmt.Errorf("telemetry: lag: list consumers of %s: %w", m.cfg.Stream, err)
		}
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Name < infos[j].Name })
	m.countLive(ctx)

	out := make([]Lag, 0, len(infos))
	seen := make(map[string]bool, len(infos))
	for _, info := range infos {
		lag, err := m.sampleOne(ctx, stream, info)
		if err != nil {
			return nil, err
		}
		seen[info.Name] = true
		out = append(out, lag)
	}
	if m.cfg.Consumer == "" {
		m.mu.Lock()
		for name := range m.state {
			if !seen[name] {
				delete(m.state, name)
			}
		}
		m.mu.Unlock()
	}
	return out, nil
}

// countLive reads the registry once and records each consumer's live
// workers. When the registry cannot be read the last counts stay.
func (m *LagMeter) countLive(ctx context.Context) {
	if m.cfg.Workers > 0 {
		return
	}
	entries, err := List(ctx, m.js, m.cfg.Registry)
	if err != nil {
		return
	}
	live := liveByConsumer(entries, m.cfg.Stream)
	m.mu.Lock()
	m.live = live
	m.mu.Unlock()
}

func (m *LagMeter) sampleOne(ctx context.Context, stream jetstream.Stream, info *jetstream.ConsumerInfo) (Lag, error) {
	now := m.now()
	lag := Lag{
		Stream:         m.cfg.Stream,
		Consumer:       info.Name,
		NumPending:     info.NumPending,
		NumAckPending:  uint64(max(info.NumAckPending, 0)),
		NumRedelivered: uint64(max(info.NumRedelivered, 0)),
		NumWaiting:     uint64(max(info.NumWaiting, 0)),
		AckFloor:       info.AckFloor.Stream,
		SampledAt:      now,
	}
	if first := stream.CachedInfo().State.FirstSeq; first > info.Delivered.Stream+1 {
		lag.DiscardedUndelivered = first - 1 - info.Delivered.Stream
	}
	if lag.Backlog() > 0 {
		age, err := oldestUnackedAge(ctx, stream, info, now)
		if err != nil {
			return Lag{}, fmt.Errorf("telemetry: lag: oldest unacked message of %s: %w", info.Name, err)
		}
		lag.OldestUnackedAgeSeconds = age.Seconds()
	}
	m.estimate(&lag, ackedPosition(info), now)
	return lag, nil
}

// ackedPosition is a count-like position that grows by one per acked
// message (for a consumer of every subject on a stream without deleted
// messages): the ack floor, or — when acks above a slow or retried message
// run ahead of it — the delivered stream sequence minus what is still ack
// pending. Using the floor alone would report a rate of 0 for as long as one
// message waits in its retry backoff.
func ackedPosition(info *jetstream.ConsumerInfo) uint64 {
	pos := info.AckFloor.Stream
	if ap := uint64(max(info.NumAckPending, 0)); info.Delivered.Stream > ap {
		pos = max(pos, info.Delivered.Stream-ap)
	}
	return pos
}

// oldestUnackedAge is the age of the first message the consumer has not
// acked: the first message matching its filter at or above the ack floor
// plus one. It uses the server's clock when the server reports it.
func oldestUnackedAge(ctx context.Context, stream jetstream.Stream, info *jetstream.ConsumerInfo, now time.Time) (time.Duration, error) {
	filter := ">"
	switch {
	case info.Config.FilterSubject != "":
		filter = info.Config.FilterSubject
	case len(info.Config.FilterSubjects) == 1:
		filter = info.Config.FilterSubjects[0]
	}
	// next_by_subj: the first message at or after the sequence on the
	// subject, so deleted or purged sequences are skipped.
	msg, err := stream.GetMsg(ctx, info.AckFloor.Stream+1, jetstream.WithGetMsgSubject(filter))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if !info.TimeStamp.IsZero() {
		now = info.TimeStamp // the server's clock, as is the message time
	}
	return max(now.Sub(msg.Time), 0), nil
}

// estimate fills the rates, drain ETA, worker count and replica hint of lag
// from the change since the consumer's previous sample.
func (m *LagMeter) estimate(lag *Lag, position uint64, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.state[lag.Consumer]
	backlog := lag.Backlog()
	switch {
	case st == nil || position < st.position: // new, or recreated / reset
		st = &rateState{}
		m.state[lag.Consumer] = st
	default:
		if dt := now.Sub(st.at).Seconds(); dt > 0 {
			rate := float64(position-st.position) / dt
			arrival := max(rate+(float64(backlog)-float64(st.backlog))/dt, 0)
			if !st.measured {
				st.rate, st.arrival, st.measured = rate, arrival, true
			} else {
				alpha := 1 - math.Exp(-dt/m.cfg.RateWindow.Seconds())
				st.rate += alpha * (rate - st.rate)
				st.arrival += alpha * (arrival - st.arrival)
			}
		}
	}
	st.at, st.position, st.backlog = now, position, backlog

	// Workers: configured, else the live count from the registry.
	lag.Workers = m.live[lag.Consumer]
	if m.cfg.Workers > 0 {
		lag.Workers = m.cfg.Workers
	}

	lag.RatePerSecond = st.rate
	lag.ArrivalRatePerSecond = st.arrival
	lag.DrainETASeconds = DrainETA(backlog, st.rate)
	lag.ReplicasHint = ReplicasHint(backlog, st.rate, st.arrival, lag.Workers, m.cfg.Target, m.cfg.MinReplicas, m.cfg.MaxReplicas)
}

// hintTolerance is the fraction of a worker the replica hint ignores.
const hintTolerance = 0.1

// DrainETA is the seconds to drain backlog at rate messages per second: 0
// without a backlog, -1 when there is one and the rate is 0 (unknown or
// stalled).
func DrainETA(backlog uint64, rate float64) float64 {
	switch {
	case backlog == 0:
		return 0
	case rate <= 0:
		return -1
	}
	return float64(backlog) / rate
}

// ReplicasHint is the number of workers needed to keep up with arrivals and
// also drain backlog within target, when workers together process rate
// messages per second:
//
//	ceil((arrival + backlog/target) / (rate/workers))
//
// less a tolerance of 0.1 worker, clamped to [minReplicas, maxReplicas]
// (maxReplicas 0: no cap). With no backlog it is minReplicas: the workers
// keep up, and a smoothed arrival rate of traffic that has stopped must not
// hold replicas up. Without a measured rate it keeps the current worker
// count: more workers will not help a stall (a dependency down), and
// nothing says how many would be enough.
func ReplicasHint(backlog uint64, rate, arrival float64, workers int, target time.Duration, minReplicas, maxReplicas int) int {
	workers = max(workers, 1)
	minReplicas = max(minReplicas, 1)
	var hint int
	switch {
	case backlog == 0:
		hint = minReplicas
	case rate <= 0:
		hint = workers
	default:
		perWorker := rate / float64(workers)
		need := arrival
		if target > 0 {
			need += float64(backlog) / target.Seconds()
		}
		// A tolerance, like the HPA's, so that the in-flight batches of a
		// steady state (a small backlog that never drains) do not ask for
		// one more worker on every evaluation.
		hint = int(math.Ceil(need/perWorker - hintTolerance))
	}
	hint = max(hint, minReplicas)
	if maxReplicas > 0 {
		hint = min(hint, maxReplicas)
	}
	return hint
}
