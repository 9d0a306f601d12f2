// Package batcher groups a stream of items into batches bounded by count,
// bytes and age, and hands each batch to a flush function.
//
// It knows nothing about NATS or SQL: the worker feeds it deliveries and its
// flush function enriches, commits and acks. A batch is flushed when it holds
// MaxMessages items (reason "size"), when the next item would take it past
// MaxBytes ("bytes"), MaxWait after its first item arrived ("time"), when no
// item arrived for MaxIdle ("idle"; off unless set), or when the input
// channel is closed ("shutdown").
//
// Concurrency: Run is called once and owns the batch; the flush function is
// called from Run's goroutine, one batch at a time, and receives ownership of
// the slice. A flush function that hands batches to other goroutines gets
// concurrency and backpressure for free: while it blocks, Run stops reading.
package batcher

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// FlushReason says why a batch was flushed; it is a metric label.
type FlushReason string

// The flush reasons.
const (
	FlushSize     FlushReason = "size"
	FlushBytes    FlushReason = "bytes"
	FlushTime     FlushReason = "time"
	FlushIdle     FlushReason = "idle"
	FlushShutdown FlushReason = "shutdown"
)

// FlushFunc receives each batch. An error stops the batcher: the flush
// function is expected to handle retryable failures itself.
type FlushFunc[T any] func(ctx context.Context, batch []T, reason FlushReason) error

// Defaults of Config.
const (
	// DefaultMaxMessages is the batch size.
	DefaultMaxMessages = 100
	// DefaultMaxBytes is the batch's payload bound.
	DefaultMaxBytes = 1 << 20
	// DefaultMaxWait is the longest a batch stays open.
	DefaultMaxWait = 5 * time.Second
	// DefaultMaxIdle is the quiet time that closes a batch early, as the
	// worker uses it (a zero MaxIdle disables it).
	DefaultMaxIdle = 100 * time.Millisecond
	// DefaultDrainTimeout bounds the shutdown flush; the worker's grace
	// period defaults to it too.
	DefaultDrainTimeout = 25 * time.Second
)

// DefaultConfig returns the worker's default batch bounds.
func DefaultConfig() Config {
	return Config{MaxMessages: DefaultMaxMessages, MaxBytes: DefaultMaxBytes, MaxWait: DefaultMaxWait,
		MaxIdle: DefaultMaxIdle, DrainTimeout: DefaultDrainTimeout}
}

// Config bounds a batch. A zero field that has no meaning (all but MaxIdle
// and Clock) takes its Default* in New; Validate rejects it.
type Config struct {
	// MaxMessages flushes at this many items. Default DefaultMaxMessages.
	MaxMessages int
	// MaxBytes flushes before the batch's payloads would exceed this size.
	// Default DefaultMaxBytes. An item larger than MaxBytes is flushed on its own.
	MaxBytes int
	// MaxWait flushes this long after the batch's first item. Default DefaultMaxWait.
	MaxWait time.Duration
	// MaxIdle, when positive, flushes a batch once no item arrived for
	// between MaxIdle and twice that: the input has gone quiet (a backlog
	// drained, or a trickle), so waiting out MaxWait would only add latency.
	// It is checked every MaxIdle by one timer per batch, not per item.
	// Zero disables it (DefaultConfig sets DefaultMaxIdle).
	MaxIdle time.Duration
	// DrainTimeout bounds the final "shutdown" flush, which runs on a context
	// detached from Run's (already cancelled) one. Default DefaultDrainTimeout.
	DrainTimeout time.Duration
	// Clock supplies timers; nil means the real clock. Tests inject a fake.
	Clock Clock
}

// Validate reports a Config that cannot work, naming the field and value.
func (c Config) Validate() error {
	switch {
	case c.MaxMessages < 1:
		return fmt.Errorf("batcher: MaxMessages must be ≥ 1, got %d", c.MaxMessages)
	case c.MaxBytes < 1:
		return fmt.Errorf("batcher: MaxBytes must be ≥ 1, got %d", c.MaxBytes)
	case c.MaxWait <= 0:
		return fmt.Errorf("batcher: MaxWait must be > 0, got %s", c.MaxWait)
	case c.MaxIdle < 0:
		return fmt.Errorf("batcher: MaxIdle must be ≥ 0, got %s", c.MaxIdle)
	}
	return nil
}

// Clock makes timers. It exists so tests can drive time by hand.
type Clock interface {
	NewTimer(d time.Duration) Timer
}

// Timer is the part of *time.Timer the batcher uses.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
}

type realClock struct{}

type realTimer struct{ t *time.Timer }

func (realClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }
func (r realTimer) C() <-chan time.Time          { return r.t.C }
func (r realTimer) Stop() bool                   { return r.t.Stop() }

// Batcher groups items of type T into batches. Create it with New.
type Batcher[T any] struct {
	cfg     Config
	flush   FlushFunc[T]
	sizeOf  func(T) int
	log     *zap.Logger
	metrics *metrics
}

type metrics struct {
	size    prometheus.Histogram
	bytes   prometheus.Histogram
	flushes *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		size: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "newsflow_batch_size",
			Help:    "Messages per flushed batch.",
			Buckets: []float64{1, 5, 10, 25, 50, 100, 250, 500, 1000},
		}),
		bytes: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "newsflow_batch_bytes",
			Help:    "Payload bytes per flushed batch.",
			Buckets: prometheus.ExponentialBuckets(1024, 4, 8),
		}),
		flushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "newsflow_batch_flushes_total",
			Help: "Batches flushed, by reason: size, bytes, time, idle or shutdown.",
		}, []string{"reason"}),
	}
	for _, r := range []FlushReason{FlushSize, FlushBytes, FlushTime, FlushIdle, FlushShutdown} {
		m.flushes.WithLabelValues(string(r))
	}
	if reg != nil {
		reg.MustRegister(m.size, m.bytes, m.flushes)
	}
	return m
}

// New returns a Batcher that calls flush with each batch; sizeOf gives an
// item's payload size in bytes. reg may be nil.
func New[T any](cfg Config, flush FlushFunc[T], sizeOf func(T) int, log *zap.Logger, reg prometheus.Registerer) (*Batcher[T], error) {
	if log == nil {
		log = zap.NewNop()
	}
	cfg.MaxMessages = cmp.Or(cfg.MaxMessages, DefaultMaxMessages)
	cfg.MaxBytes = cmp.Or(cfg.MaxBytes, DefaultMaxBytes)
	cfg.MaxWait = cmp.Or(cfg.MaxWait, DefaultMaxWait)
	cfg.DrainTimeout = cmp.Or(cfg.DrainTimeout, DefaultDrainTimeout)
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if flush == nil || sizeOf == nil {
		return nil, fmt.Errorf("batcher: flush and sizeOf are required")
	}
	return &Batcher[T]{cfg: cfg, flush: flush, sizeOf: sizeOf, log: log.Named("batcher"), metrics: newMetrics(reg)}, nil
}

// Run reads items from in until it is closed, flushing batches as they fill
// or age, then flushes what remains with reason "shutdown" and returns. It
// does not stop when ctx is cancelled — the writer of in decides when input
// ends, so nothing already fetched is dropped — but ctx is passed to flushes.
func (b *Batcher[T]) Run(ctx context.Context, in <-chan T) error {
	var (
		batch     []T
		bytes     int
		timer     Timer
		timeout   <-chan time.Time
		idleTimer Timer // re-armed every MaxIdle while a batch is open
		idleCheck <-chan time.Time
		arrived   bool // an item arrived since the last idle check
	)
	stopTimer := func() {
		if timer != nil {
			timer.Stop()
			timer, timeout = nil, nil
		}
		if idleTimer != nil {
			idleTimer.Stop()
			idleTimer, idleCheck = nil, nil
		}
	}
	defer stopTimer()
	flush := func(ctx context.Context, reason FlushReason) error {
		stopTimer()
		if len(batch) == 0 {
			return nil
		}
		out, n := batch, bytes
		batch, bytes = make([]T, 0, b.cfg.MaxMessages), 0
		b.metrics.size.Observe(float64(len(out)))
		b.metrics.bytes.Observe(float64(n))
		b.metrics.flushes.WithLabelValues(string(reason)).Inc()
		if err := b.flush(ctx, out, reason); err != nil {
			return fmt.Errorf("batcher: flush %d messages (%s): %w", len(out), reason, err)
		}
		return nil
	}
	batch = make([]T, 0, b.cfg.MaxMessages)
	for {
		select {
		case item, ok := <-in:
			if !ok {
				// Upstream drained; ctx may be cancelled already, so the last
				// flush gets its own deadline.
				dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.cfg.DrainTimeout)
				defer cancel()
				return flush(dctx, FlushShutdown)
			}
			size := b.sizeOf(item)
			if len(batch) > 0 && bytes+size > b.cfg.MaxBytes {
				if err := flush(ctx, FlushBytes); err != nil {
					return err
				}
			}
			batch = append(batch, item)
			bytes += size
			arrived = true
			if len(batch) == 1 {
				timer = b.cfg.Clock.NewTimer(b.cfg.MaxWait)
				timeout = timer.C()
				if b.cfg.MaxIdle > 0 {
					idleTimer, arrived = b.cfg.Clock.NewTimer(b.cfg.MaxIdle), false
					idleCheck = idleTimer.C()
				}
			}
			switch {
			case len(batch) >= b.cfg.MaxMessages:
				if err := flush(ctx, FlushSize); err != nil {
					return err
				}
			case bytes >= b.cfg.MaxBytes:
				if err := flush(ctx, FlushBytes); err != nil {
					return err
				}
			}
		case <-timeout:
			timer, timeout = nil, nil
			if err := flush(ctx, FlushTime); err != nil {
				return err
			}
		case <-idleCheck:
			idleTimer, idleCheck = nil, nil
			if !arrived {
				if err := flush(ctx, FlushIdle); err != nil {
					return err
				}
				continue
			}
			arrived = false
			idleTimer = b.cfg.Clock.NewTimer(b.cfg.MaxIdle)
			idleCheck = idleTimer.C()
		}
	}
}
