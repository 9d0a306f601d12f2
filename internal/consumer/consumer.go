package consumer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"newsflow/internal/news"
	"newsflow/internal/stream"
)

// Delivery is one valid message handed to the pipeline, with its place in
// the stream. The pipeline settles it exactly once, with Ack, Retry,
// DeadLetter or NakAll.
type Delivery struct {
	// Message is the decoded, validated message. PublishedAt is the
	// JetStream time when the publisher did not set it.
	Message news.Message
	// StreamSeq is the message's sequence in the stream.
	StreamSeq uint64
	// NumDelivered counts deliveries of this message, 1 on the first.
	NumDelivered uint64
	// Timestamp is when JetStream stored the message.
	Timestamp time.Time
	// Subject is the subject the message was published to.
	Subject string
	// Size is the payload size in bytes.
	Size int

	msg      jetstream.Msg
	received time.Time // when Run received it from the subscription
	touched  int64     // unix nanos of the last delivery or InProgress; guarded by keeper.mu
}

// Header returns the message's headers (nil when it has none), for the
// trace context its publisher put there.
func (d *Delivery) Header() nats.Header {
	if d.msg == nil {
		return nil
	}
	return d.msg.Headers()
}

// Consumer fetches from the durable pull consumer and settles deliveries.
// Create it with New; see the package doc for its concurrency contract.
type Consumer struct {
	cfg    Config
	js     jetstream.JetStream
	stream jetstream.Stream
	cons   jetstream.Consumer
	log    *zap.Logger
	m      *metrics

	keep      keeper
	closeOnce sync.Once
	stopKeep  chan struct{}
	keepDone  chan struct{}

	errLog   limiter // rate-limits errors that repeat per message
	discards discards

	deadLettered atomic.Int64 // dead letters published (every reason)
	handedBack   atomic.Int64 // deliveries naked without delay (NakAll, shutdown)
}

// New ensures the stream, the dead-letter stream and the durable pull
// consumer (explicit acks, shared by every worker using the same Durable),
// registers the metrics on reg (nil: a private registry) and starts the
// keep-alive ticker, which Close stops.
func New(ctx context.Context, js jetstream.JetStream, cfg Config, log *zap.Logger, reg prometheus.Registerer) (*Consumer, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	st, _, err := stream.Ensure(ctx, js, cfg.Stream, cfg.UpdateStreams, log)
	if err != nil {
		return nil, err
	}
	if _, _, err := stream.Ensure(ctx, js, cfg.dlq().Config(cfg.Stream), cfg.UpdateStreams, log); err != nil {
		return nil, err
	}
	c := &Consumer{
		cfg:      cfg,
		js:       js,
		stream:   st,
		log:      log.Named("consumer").With(zap.String("stream", cfg.Stream.Name), zap.String("consumer", cfg.Durable)),
		stopKeep: make(chan struct{}),
		keepDone: make(chan struct{}),
		errLog:   newLimiter(),
	}
	c.keep.held = make(map[*Delivery]struct{})
	existed := consumerExists(ctx, st, cfg.Durable)
	if c.cons, err = c.ensureConsumer(ctx); err != nil {
		return nil, err
	}
	if c.m, err = newMetrics(reg, c.keep.count); err != nil {
		return nil, fmt.Errorf("consumer: register metrics: %w", err)
	}
	c.checkDiscards(ctx, !existed)
	go c.keepAlive()
	return c, nil
}

func (c *Consumer) ensureConsumer(ctx context.Context) (jetstream.Consumer, error) {
	cons, err := c.stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       c.cfg.Durable,
		Description:   "newsflow workers",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.cfg.AckWait,
		MaxDeliver:    c.cfg.MaxDeliver,
		MaxAckPending: c.cfg.MaxAckPending,
		ReplayPolicy:  jetstream.ReplayInstantPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("consumer: ensure durable %s on %s: %w", c.cfg.Durable, c.cfg.Stream.Name, err)
	}
	return cons, nil
}

// Info returns the durable consumer's current state (pending, ack pending,
// redelivered, waiting), for lag tooling.
func (c *Consumer) Info(ctx context.Context) (*jetstream.ConsumerInfo, error) {
	info, err := c.cons.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("consumer: info %s: %w", c.cfg.Durable, err)
	}
	return info, nil
}

// Close stops the keep-alive ticker. Deliveries still held after Close are
// no longer kept alive. Call it after Run returned and the pipeline settled
// what it got; it is safe to call more than once.
func (c *Consumer) Close() {
	c.closeOnce.Do(func() { close(c.stopKeep) })
	<-c.keepDone
}

// Run fetches messages until ctx is done and sends the valid ones on out.
// Invalid ones are dead-lettered and terminated. On ctx done it stops
// fetching, naks (without delay) everything fetched but not handed out,
// closes out and returns nil. It returns an error, after closing out, only
// when the connection is closed for good.
func (c *Consumer) Run(ctx context.Context, out chan<- *Delivery) error {
	defer close(out)
	c.log.Info("consumer start",
		zap.Strings("subjects", c.cfg.Stream.Subjects), zap.Duration("ack_wait", c.cfg.AckWait),
		zap.Int("max_deliver", c.cfg.MaxDeliver), zap.Int("max_ack_pending", c.cfg.MaxAckPending),
		zap.Int("fetch_batch", c.cfg.FetchBatch), zap.String("dlq_stream", c.cfg.DLQStream))
	r := runner{c: c, out: out, stall: time.NewTimer(time.Hour)}
	r.stall.Stop()
	defer r.stall.Stop()
	retry := time.Duration(0)
	for ctx.Err() == nil {
		if retry > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(retry):
			}
			if ctx.Err() != nil {
				break
			}
		}
		err := r.pump(ctx)
		if ctx.Err() == nil && len(r.backlog) > 0 {
			// Backpressure: stay off the server until the pipeline took the backlog.
			r.flushBacklog(ctx)
		}
		if ctx.Err() != nil {
			break
		}
		switch {
		case err == nil:
			retry = 0
		case errors.Is(err, jetstream.ErrConnectionClosed):
			c.NakAll(r.backlog) // no-op on a closed connection, but untracks
			return fmt.Errorf("consumer: fetch from %s: %w", c.cfg.Durable, err)
		default:
			retry = min(max(2*retry, 100*time.Millisecond), 5*time.Second)
			c.log.Warn("fetch interrupted, restarting", zap.Duration("retry_in", retry), zap.Error(err))
			if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) {
				ectx, cancel := context.WithTimeout(ctx, 10*time.Second)
				if cons, err := c.ensureConsumer(ectx); err != nil {
					c.log.Warn("recreate durable consumer", zap.Error(err))
				} else {
					c.cons = cons
				}
				cancel()
			}
		}
	}
	c.NakAll(r.backlog)
	r.backlog = nil
	c.log.Info("consumer stopped", zap.Uint64("naked_on_shutdown", r.nakedOnStop))
	return nil
}

// runner is Run's state.
type runner struct {
	c           *Consumer
	out         chan<- *Delivery
	stall       *time.Timer // fires when out blocked for AckWait/3
	backlog     []*Delivery // fetched, tracked, not yet handed out (backpressure)
	nakedOnStop uint64
}

// errSubscriptionClosed reports a subscription that ended without an error
// of its own, neither for shutdown nor for backpressure.
var errSubscriptionClosed = errors.New("subscription closed")

// pump runs one Consume subscription until it is closed: by ctx (shutdown),
// by backpressure, or by an error, which it returns.
//
// It consumes through a callback (Consume) rather than the Messages
// iterator: the iterator creates, arms and stops a heartbeat timer
// (time.AfterFunc) on every Next, where Consume re-arms one timer per
// subscription (README's Benchmarks; go run ./bench). Consume runs the
// callback on one goroutine per subscription, so
// handle is sequential, like the loop it replaced.
func (r *runner) pump(ctx context.Context) error {
	c := r.c
	p := &pull{r: r, ctx: ctx, stalled: make(chan struct{}, 1)}
	// The client pulls again by itself after a leadership change (at once)
	// and after two missed heartbeats; a short expiry keeps the latter near.
	cc, err := c.cons.Consume(p.handle, jetstream.PullMaxMessages(c.cfg.FetchBatch),
		jetstream.PullExpiry(c.cfg.PullExpiry), jetstream.PullHeartbeat(c.cfg.PullExpiry/5),
		jetstream.ConsumeErrHandler(p.onError))
	if err != nil {
		return err
	}
	closed := cc.Closed()
	stopAfter := context.AfterFunc(ctx, cc.Drain)
	defer stopAfter()
	select {
	case <-closed:
	case <-p.stalled:
		// Backpressure: stop fetching; Drain still hands the subscription's
		// buffer to the handler, which moves it into the tracked backlog.
		cc.Drain()
		<-closed
	}
	// Closed is closed after the last handler call returned; taking the
	// lock also covers a subscription that was already invalid when Closed
	// was asked for (the connection closed meanwhile).
	p.mu.Lock()
	p.finished = true
	stalled := p.isStalled
	p.mu.Unlock()
	if c.js.Conn().IsClosed() {
		return jetstream.ErrConnectionClosed
	}
	if stalled || ctx.Err() != nil {
		return nil
	}
	p.errMu.Lock()
	defer p.errMu.Unlock()
	return cmpErr(p.lastErr, errSubscriptionClosed)
}

// pull is the state of one pump: what the Consume callback shares with it.
type pull struct {
	r       *runner
	ctx     context.Context
	stalled chan struct{} // the handler signals here once, when out blocked for AckWait/3

	mu        sync.Mutex // held by the handler while it runs
	isStalled bool       // draining the buffer into the backlog; guarded by mu
	finished  bool       // pump is done with the subscription; guarded by mu

	errMu   sync.Mutex
	lastErr error // the last error the subscription reported; guarded by errMu
}

// onError receives the subscription's errors, terminal (the durable was
// deleted, the connection closed) or not (missed heartbeats, which Consume
// recovers from by pulling again), possibly from another goroutine than
// the handler's.
func (p *pull) onError(_ jetstream.ConsumeContext, err error) {
	p.errMu.Lock()
	p.lastErr = err
	p.errMu.Unlock()
	if c := p.r.c; c.errLog.allow() {
		c.log.Warn("fetch error", zap.Error(err))
	}
}

// handle is the Consume callback: it decodes one message and hands it to
// out, or, when out blocks for AckWait/3, stops the subscription and keeps
// the message (and the rest of the buffer) in the tracked backlog.
func (p *pull) handle(jm jetstream.Msg) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, c, ctx := p.r, p.r.c, p.ctx
	if p.finished { // cannot happen (see pump); never leave a message unsettled
		_ = jm.Nak()
		return
	}
	d := c.receive(ctx, jm)
	if d == nil {
		return // dead-lettered, or naked for a retry
	}
	switch {
	case ctx.Err() != nil: // shutting down: hand back what the subscription still buffers
		_ = jm.Nak()
		r.nakedOnStop++
		c.handedBack.Add(1)
		return
	case p.isStalled: // draining the buffer into the backlog: keep it alive now
		c.keep.track(d)
		r.backlog = append(r.backlog, d)
		if err := jm.InProgress(); err == nil {
			c.m.inProgress.Inc()
		}
		return
	}
	c.keep.track(d)
	select {
	case r.out <- d:
		return
	default:
	}
	r.stall.Reset(c.cfg.AckWait / 3)
	select {
	case r.out <- d:
		r.stall.Stop()
	case <-ctx.Done():
		r.stall.Stop()
		c.keep.untrack(d)
		_ = jm.Nak()
		r.nakedOnStop++
		c.handedBack.Add(1)
	case <-r.stall.C:
		// The pipeline is stuck (a dependency is down). Stop fetching and
		// move the subscription's buffer into the tracked backlog, so
		// nothing fetched waits unseen by the keep-alive.
		r.backlog = append(r.backlog, d)
		p.isStalled = true
		c.log.Warn("output blocked, pausing fetch", zap.Duration("duration", c.cfg.AckWait/3))
		p.stalled <- struct{}{}
	}
}

// flushBacklog hands the backlog to out in order, or until ctx is done.
func (r *runner) flushBacklog(ctx context.Context) {
	for i, d := range r.backlog {
		select {
		case r.out <- d:
			r.backlog[i] = nil
		case <-ctx.Done():
			r.backlog = r.backlog[i:]
			return
		}
	}
	r.c.log.Info("output unblocked, resuming fetch", zap.Int("batch_size", len(r.backlog)))
	r.backlog = r.backlog[:0]
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// receive turns a JetStream message into a Delivery, or dead-letters it and
// returns nil.
func (c *Consumer) receive(ctx context.Context, jm jetstream.Msg) *Delivery {
	c.m.fetched.Inc()
	now := time.Now()
	d := &Delivery{Subject: jm.Subject(), msg: jm, received: now, touched: now.UnixNano()}
	meta, err := jm.Metadata()
	if err != nil {
		// Not a JetStream message (cannot happen on a pull consumer); nothing to settle.
		if c.errLog.allow() {
			c.log.Error("message without JetStream metadata", zap.String("subject", d.Subject), zap.Error(err))
		}
		return nil
	}
	d.StreamSeq, d.NumDelivered, d.Timestamp = meta.Sequence.Stream, meta.NumDelivered, meta.Timestamp
	data := jm.Data()
	d.Size = len(data)
	// The payload is nats.go's own copy of the message, which nothing
	// writes to (a dead letter publishes it as is): the fields may share it.
	d.Message, err = news.DecodeShared(data, c.cfg.MaxMessageBytes)
	if err != nil {
		if ctx.Err() != nil {
			_ = jm.Nak() // shutting down: the next worker dead-letters it
			c.handedBack.Add(1)
			return nil
		}
		dctx, cancel := context.WithTimeout(ctx, c.cfg.AckWait/2)
		_ = c.deadLetter(dctx, d, err, reasonInvalid)
		cancel()
		return nil
	}
	if d.Message.PublishedAt.IsZero() {
		d.Message.PublishedAt = d.Timestamp.UTC()
	}
	if ce := c.log.Check(zap.DebugLevel, "message received"); ce != nil {
		ce.Write(zap.String("msg_id", d.Message.ID), zap.String("subject", d.Subject),
			zap.Uint64("stream_seq", d.StreamSeq), zap.Uint64("num_delivered", d.NumDelivered))
	}
	return d
}
