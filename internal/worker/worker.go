// Package worker is the worker's pipeline: it wires the stages together —
// consumer → batcher → enrich → store → ack — and owns what happens between
// them: several batches in flight, commit retries while the database is down,
// splitting a batch to find the message that makes it fail, waiting out an LLM
// outage, and the shutdown drain.
//
// It is the composition root's logic, kept out of cmd/worker so it can be
// tested; the stages themselves do not know about each other.
//
// Concurrency: Run is called once. It runs the consumer's fetch loop and the
// batcher in their own goroutines and Config.Committers goroutines that each
// take one batch at a time through enrichment, commit and ack. While every
// committer is busy (for instance retrying a commit against a dead database)
// the batcher blocks, the consumer's output fills and fetching stops; the
// consumer keeps every held message alive with in-progress acks meanwhile.
package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"newsflow/internal/backoff"
	"newsflow/internal/batcher"
	"newsflow/internal/consumer"
	"newsflow/internal/news"
	"newsflow/internal/tracing"
)

// Consumer is what the pipeline needs of the JetStream stage.
type Consumer interface {
	Run(ctx context.Context, out chan<- *consumer.Delivery) error
	Ack(ds []*consumer.Delivery)
	NakAll(ds []*consumer.Delivery)
	Retry(ctx context.Context, d *consumer.Delivery, cause error)
	DeadLetter(ctx context.Context, d *consumer.Delivery, reason error) error
	// DeadLettered counts every dead letter published (any reason).
	DeadLettered() int64
	// HandedBack counts deliveries handed back without delay (NakAll, shutdown).
	HandedBack() int64
	// Held counts deliveries handed out and not yet settled.
	Held() int
}

// Store commits one batch of articles in one transaction, idempotently.
type Store interface {
	Commit(ctx context.Context, rows []news.Article) (inserted int, err error)
}

// Enricher fills in the Enrichment of each row; see enrich.Enricher.
type Enricher interface {
	Enrich(ctx context.Context, rows []news.Article) []error
}

// Stories sets the StoryID of every row (see story.Identifier); it never
// fails, degrading by itself when its index is unreachable.
type Stories interface {
	Assign(ctx context.Context, rows []news.Article)
}

// Gate blocks while a dependency is known to be down (the LLM's circuit
// breaker), so the pipeline waits instead of failing messages.
type Gate interface {
	WaitReady(ctx context.Context) error
}

// Defaults of Config.
const (
	DefaultCommitters    = 4
	DefaultCommitTimeout = 10 * time.Second
	DefaultRetryMin      = 100 * time.Millisecond
	DefaultRetryMax      = 30 * time.Second
	// DefaultDrainTimeout is the grace period of a shutdown: the batcher's.
	DefaultDrainTimeout = batcher.DefaultDrainTimeout
)

// Config configures the pipeline. No field has a meaning at zero: New fills
// a zero with its Default* and Validate rejects it.
type Config struct {
	// Batch bounds each batch (see batcher.Config for defaults).
	Batch batcher.Config
	// Committers is how many batches are enriched and committed at once.
	// Default DefaultCommitters.
	Committers int
	// CommitTimeout bounds one commit attempt. Default DefaultCommitTimeout.
	CommitTimeout time.Duration
	// RetryMin and RetryMax bound the capped exponential backoff between
	// commit (or enrichment) attempts while a dependency is down.
	// Defaults DefaultRetryMin and DefaultRetryMax.
	RetryMin, RetryMax time.Duration
	// DrainTimeout bounds the shutdown: after the context is cancelled, work
	// still unfinished this much later is handed back to JetStream (nak).
	// Default DefaultDrainTimeout.
	DrainTimeout time.Duration
	// Buffer is the capacity of the channel between consumer and batcher.
	// Default Batch.MaxMessages.
	Buffer int
	// Stories assigns story ids before enrichment; nil: the story id is
	// the content hash (exact duplicates only).
	Stories Stories
	// TracerProvider traces the batches (see trace.go). Default nil: the
	// global provider when tracing.Setup turned tracing on, else none.
	TracerProvider trace.TracerProvider
}

// Validate reports the first invalid field, naming it and its value.
func (c Config) Validate() error {
	switch {
	case c.Committers < 1:
		return fmt.Errorf("worker: Committers must be ≥ 1, got %d", c.Committers)
	case c.CommitTimeout <= 0:
		return fmt.Errorf("worker: CommitTimeout must be > 0, got %s", c.CommitTimeout)
	case c.RetryMin <= 0 || c.RetryMax < c.RetryMin:
		return fmt.Errorf("worker: need 0 < RetryMin ≤ RetryMax, got %s and %s", c.RetryMin, c.RetryMax)
	case c.DrainTimeout <= 0:
		return fmt.Errorf("worker: DrainTimeout must be > 0, got %s", c.DrainTimeout)
	}
	return c.Batch.Validate()
}

func (c Config) withDefaults() Config {
	c.Batch.MaxMessages = cmp.Or(c.Batch.MaxMessages, batcher.DefaultMaxMessages)
	c.Batch.MaxBytes = cmp.Or(c.Batch.MaxBytes, batcher.DefaultMaxBytes)
	c.Batch.MaxWait = cmp.Or(c.Batch.MaxWait, batcher.DefaultMaxWait)
	c.Committers = cmp.Or(c.Committers, DefaultCommitters)
	c.CommitTimeout = cmp.Or(c.CommitTimeout, DefaultCommitTimeout)
	c.RetryMin = cmp.Or(c.RetryMin, DefaultRetryMin)
	c.RetryMax = cmp.Or(c.RetryMax, DefaultRetryMax)
	c.DrainTimeout = cmp.Or(c.DrainTimeout, DefaultDrainTimeout)
	c.Batch.DrainTimeout = cmp.Or(c.Batch.DrainTimeout, c.DrainTimeout)
	c.Buffer = cmp.Or(c.Buffer, c.Batch.MaxMessages)
	return c
}

// Totals are the pipeline's running counts since start.
type Totals struct {
	// Batches counts committed transactions.
	Batches atomic.Int64
	// Messages counts messages committed and acked.
	Messages atomic.Int64
	// Inserted counts rows the database did not have yet.
	Inserted atomic.Int64
	// Retried counts failed commit attempts that were retried.
	Retried atomic.Int64
	// DeadLettered counts the messages the consumer dead-lettered, for
	// every reason (invalid, poison rows, out of deliveries); Totals
	// refreshes it from the consumer.
	DeadLettered atomic.Int64
	// FirstFetch (when the first batch was handed on) and LastCommit are
	// unix nanos, 0 until they happen.
	FirstFetch, LastCommit atomic.Int64
}

// Worker runs the pipeline. Create it with New.
type Worker struct {
	cfg      Config
	cons     Consumer
	store    Store
	enricher Enricher // nil: no enrichment
	gate     Gate     // nil: never wait
	log      *zap.Logger
	reg      prometheus.Registerer
	m        *metrics
	tracer   trace.Tracer // nil: batches are not traced
	totals   Totals
	warnings rate.Sometimes // a dependency outage makes every committer fail in a loop
}

// New returns a Worker. enricher and gate may be nil; reg may be nil.
func New(cfg Config, cons Consumer, store Store, enricher Enricher, gate Gate, log *zap.Logger, reg prometheus.Registerer) (*Worker, error) {
	if log == nil {
		log = zap.NewNop()
	}
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cons == nil || store == nil {
		return nil, errors.New("worker: a consumer and a store are required")
	}
	return &Worker{
		cfg: cfg, cons: cons, store: store, enricher: enricher, gate: gate,
		log: log.Named("worker"), reg: reg, m: newMetrics(reg), tracer: tracing.Tracer(cfg.TracerProvider),
		warnings: rate.Sometimes{Interval: time.Second},
	}, nil
}

// Totals returns the running counts.
func (w *Worker) Totals() *Totals {
	w.totals.DeadLettered.Store(w.cons.DeadLettered())
	return &w.totals
}

type batch struct {
	ds     []*consumer.Delivery
	reason batcher.FlushReason
}

// Run consumes until ctx is cancelled, then drains: the consumer stops
// fetching and hands back what it prefetched, the open batch is flushed,
// committed and acked, and Run returns once every batch in flight is settled
// or DrainTimeout has passed (unfinished work is then naked). It returns the
// consumer's error if the NATS connection closed for good.
func (w *Worker) Run(ctx context.Context) error {
	// Work runs on a context of its own so that a SIGTERM does not abort
	// commits in flight; it ends DrainTimeout after ctx does.
	handedBack := w.cons.HandedBack()
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	stopDeadline := context.AfterFunc(ctx, func() {
		w.log.Info("drain begin", zap.Duration("grace", w.cfg.DrainTimeout))
		time.AfterFunc(w.cfg.DrainTimeout, cancelWork)
	})
	defer stopDeadline()

	deliveries := make(chan *consumer.Delivery, w.cfg.Buffer)
	batches := make(chan batch)
	consErr := make(chan error, 1)
	go func() { consErr <- w.cons.Run(ctx, deliveries) }()

	var committers sync.WaitGroup
	for range w.cfg.Committers {
		committers.Go(func() {
			for b := range batches {
				w.process(work, b)
			}
		})
	}

	bt, err := batcher.New(w.cfg.Batch, func(ctx context.Context, ds []*consumer.Delivery, reason batcher.FlushReason) error {
		if w.totals.FirstFetch.Load() == 0 {
			w.totals.FirstFetch.CompareAndSwap(0, time.Now().UnixNano())
		}
		select {
		case batches <- batch{ds, reason}:
		case <-work.Done():
			w.cons.NakAll(ds)
		}
		return nil
	}, func(d *consumer.Delivery) int { return d.Size }, w.log, w.reg)
	if err != nil {
		close(batches)
		return err
	}
	batchErr := bt.Run(work, deliveries)
	close(batches)
	committers.Wait()
	err = errors.Join(<-consErr, batchErr)
	// Handed back during this Run, plus anything still unsettled (it comes
	// back after the ack wait): what another worker or a restart will get.
	left := w.cons.HandedBack() - handedBack + int64(w.cons.Held())
	level := zap.InfoLevel
	if left > 0 {
		level = zap.WarnLevel
	}
	w.log.Log(level, "drain end", zap.Int64("messages", w.totals.Messages.Load()), zap.Int64("batches", w.totals.Batches.Load()),
		zap.Int64("unacked_left_for_redelivery", left))
	return err
}

// process takes one batch through enrichment, commit and ack. It settles
// every delivery of the batch exactly once.
func (w *Worker) process(ctx context.Context, b batch) {
	w.m.inFlight.Inc()
	defer w.m.inFlight.Dec()
	ctx, span := w.startProcess(ctx, b)
	defer span.End()
	ds := b.ds
	rows := make([]news.Article, len(ds))
	for i, d := range ds {
		rows[i] = news.Article{Message: d.Message, StreamSeq: d.StreamSeq, ContentHash: d.Message.ContentHash()}
		rows[i].StoryID = rows[i].ContentHash
	}
	if w.cfg.Stories != nil {
		sctx, sspan := tracing.Child(ctx, "story.lookup")
		w.cfg.Stories.Assign(sctx, rows)
		if sspan.IsRecording() {
			sspan.SetAttributes(tracing.NewsflowRows.Int(len(rows)), tracing.NewsflowStories.Int(distinctStories(rows)))
		}
		sspan.End()
	}
	if w.enricher != nil {
		if ds, rows = w.enrich(ctx, ds, rows); len(ds) == 0 {
			return
		}
	}
	w.commit(ctx, ds, rows)
}

// enrich enriches rows, holding those whose error classify says is a
// dependency outage (breaker open, 5xx, a rejected API key) and retrying
// them with backoff, and returns the deliveries and rows that are ready to
// commit. Stories that failed themselves are handed back here (Retry).
func (w *Worker) enrich(ctx context.Context, ds []*consumer.Delivery, rows []news.Article) ([]*consumer.Delivery, []news.Article) {
	var (
		doneDs   = make([]*consumer.Delivery, 0, len(ds))
		doneRows = make([]news.Article, 0, len(rows))
	)
	for attempt := 0; ; attempt++ {
		if w.gate != nil {
			if err := w.gate.WaitReady(ctx); err != nil {
				w.cons.NakAll(ds)
				return doneDs, doneRows
			}
		}
		ectx, span := tracing.Child(ctx, "enrich")
		errs := w.enricher.Enrich(ectx, rows)
		var retryDs []*consumer.Delivery
		var retryRows []news.Article
		var lastErr error
		for i := range rows {
			switch err := errAt(errs, i); classify(err) {
			case ack:
				doneDs, doneRows = append(doneDs, ds[i]), append(doneRows, rows[i])
			case retryLater, deadLetter: // the story failed: the consumer's backoff, then its dead-letter rule
				w.m.enrichFailed.Inc()
				event(ctx, "retry", ds[i], err)
				w.cons.Retry(settleCtx(ctx), ds[i], err)
			case holdWhileDown:
				retryDs, retryRows, lastErr = append(retryDs, ds[i]), append(retryRows, rows[i]), err
			}
		}
		if span.IsRecording() {
			span.SetAttributes(tracing.NewsflowRows.Int(len(rows)), tracing.NewsflowAttempt.Int(attempt),
				tracing.NewsflowRowsFailed.Int(countErrs(errs)))
			tracing.Fail(span, lastErr)
		}
		span.End()
		if len(retryDs) == 0 {
			return doneDs, doneRows
		}
		if ctx.Err() != nil {
			w.cons.NakAll(retryDs)
			return doneDs, doneRows
		}
		wait := w.retryDelay(attempt)
		w.warn("enrichment failed, retrying", zap.Int("batch_size", len(retryDs)), zap.Duration("retry_in", wait), zap.Error(lastErr))
		if backoff.Sleep(ctx, wait) != nil {
			w.cons.NakAll(retryDs)
			return doneDs, doneRows
		}
		ds, rows = retryDs, retryRows
	}
}

func countErrs(errs []error) int {
	n := 0
	for _, err := range errs {
		if err != nil {
			n++
		}
	}
	return n
}

func errAt(errs []error, i int) error {
	if errs == nil {
		return nil
	}
	return errs[i]
}

// commit commits rows in one transaction and acks their deliveries. While
// the database is unreachable it retries with capped exponential backoff
// (the consumer keeps the messages alive meanwhile); when the data makes the
// transaction fail it splits the batch in halves until it finds the poison
// rows, dead-letters them and commits the rest.
func (w *Worker) commit(ctx context.Context, ds []*consumer.Delivery, rows []news.Article) {
	for attempt := 0; ; attempt++ {
		now := time.Now()
		for i := range rows {
			rows[i].IngestedAt = now
		}
		cctx, span := tracing.Child(ctx, "commit")
		cctx, cancel := context.WithTimeout(cctx, w.cfg.CommitTimeout)
		n, err := w.store.Commit(cctx, rows)
		cancel()
		if span.IsRecording() {
			span.SetAttributes(tracing.NewsflowRows.Int(len(rows)), tracing.NewsflowAttempt.Int(attempt), tracing.NewsflowInserted.Int(n))
			tracing.Fail(span, err)
		}
		span.End()
		if err == nil {
			done := time.Now()
			batchSpan := trace.SpanFromContext(ctx)
			tracing.Observe(w.m.commitSeconds, done.Sub(now).Seconds(), batchSpan)
			for _, d := range ds {
				tracing.Observe(w.m.endToEnd, done.Sub(d.Timestamp).Seconds(), batchSpan)
			}
			_, ack := tracing.Child(ctx, "ack")
			w.cons.Ack(ds)
			ack.End()
			w.logCommitted(ctx, ds)
			w.totals.Batches.Add(1)
			w.totals.Messages.Add(int64(len(ds)))
			w.totals.Inserted.Add(int64(n))
			w.totals.LastCommit.Store(done.UnixNano())
			return
		}
		if classify(err) == deadLetter {
			if len(rows) == 1 {
				w.log.Error("dead-lettering poison message", zap.String("msg_id", ds[0].Message.ID),
					zap.Uint64("stream_seq", ds[0].StreamSeq), zap.Error(err))
				event(ctx, tracing.NewsflowDeadLetterEvent, ds[0], err)
				_ = w.cons.DeadLetter(settleCtx(ctx), ds[0], err) // on failure it naks: never lost
				return
			}
			w.m.splits.Inc()
			half := len(rows) / 2
			w.commit(ctx, ds[:half], rows[:half])
			w.commit(ctx, ds[half:], rows[half:])
			return
		}
		if ctx.Err() != nil {
			w.cons.NakAll(ds)
			return
		}
		w.totals.Retried.Add(1)
		w.m.retries.Inc()
		wait := w.retryDelay(attempt)
		w.warn("commit failed, retrying", zap.Int("batch_size", len(rows)), zap.Duration("retry_in", wait), zap.Error(err))
		if backoff.Sleep(ctx, wait) != nil {
			w.cons.NakAll(ds)
			return
		}
	}
}

// settleCtx gives a dead-letter publish a few seconds even when ctx has
// ended, so that a message is dead-lettered rather than left to time out.
func settleCtx(ctx context.Context) context.Context {
	c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	context.AfterFunc(c, cancel)
	return c
}

// retryDelay is the wait before retry attempt+1 of a commit or an
// enrichment while a dependency is down.
func (w *Worker) retryDelay(attempt int) time.Duration {
	return backoff.Delay(attempt, w.cfg.RetryMin, w.cfg.RetryMax)
}

// warn logs at most one warning per second: a dependency outage makes every
// committer fail in a loop.
func (w *Worker) warn(msg string, fields ...zap.Field) {
	w.warnings.Do(func() { w.log.Warn(msg, fields...) })
}

// distinctStories counts the story ids among rows (for the story.lookup span).
func distinctStories(rows []news.Article) int {
	seen := make(map[news.Hash]struct{}, len(rows))
	for i := range rows {
		seen[rows[i].StoryID] = struct{}{}
	}
	return len(seen)
}
