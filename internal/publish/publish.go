// Package publish is the publishers' engine: it publishes messages to
// JetStream asynchronously within a bounded window, retries every failure
// that may be transient with the same Nats-Msg-Id until a time budget runs
// out, and settles each message into exactly one outcome of Counts. `publisher
// send`, `publisher gen` and `publisher feeds` share it.
//
// What it guarantees:
//   - A message is counted Published only when JetStream acknowledged it,
//     Duplicate only when its first attempt was acknowledged as a duplicate
//     (an id seen before in the input, within the stream's duplicate
//     window), and Failed only when the stream said it was not stored or a
//     last check at Close could not get it stored. A retry of a message the
//     stream had stored already (its acknowledgement was lost in a
//     disconnect) comes back as a duplicate and counts as Published and
//     Retried.
//   - Retries never block new publishes or each other: each message waiting
//     for a retry sleeps on its own, keeping its slot of the window.
//   - Disconnects, broken pipes, "no responders", timeouts, leadership
//     changes and 5xx API errors are retried; bad requests (4xx), a full
//     stream that discards new messages, an oversized payload and a closed
//     connection are not.
//
// Concurrency: Publish may be called from one goroutine or several; Flush
// and Close are called after the last Publish of a round returned, Close once. Counts may be read at any time.
package publish

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"newsflow/internal/tracing"
)

// Defaults of Config.
const (
	DefaultMaxInflight = 4096
	// DefaultRetryFor outlasts a JetStream leader election (a few seconds)
	// and a client's reconnect to another node, with room to spare.
	DefaultRetryFor   = 30 * time.Second
	DefaultAckTimeout = 5 * time.Second
)

// Config configures an Engine.
type Config struct {
	// MaxInflight bounds the messages published and not yet settled,
	// retries included. Default DefaultMaxInflight; at least 1.
	MaxInflight int
	// RetryFor is how long after its first attempt a message is retried.
	// When it runs out, the message is tried once more at Close, then
	// counted failed. Zero means no retries before that last check.
	// Default DefaultRetryFor.
	RetryFor time.Duration
	// AckTimeout is how long one attempt waits for JetStream's
	// acknowledgement before it is retried. Default DefaultAckTimeout.
	AckTimeout time.Duration
}

// DefaultConfig returns a Config with every default filled in.
func DefaultConfig() Config {
	return Config{MaxInflight: DefaultMaxInflight, RetryFor: DefaultRetryFor, AckTimeout: DefaultAckTimeout}
}

// Validate reports the first invalid field, naming it and its value.
func (c Config) Validate() error {
	switch {
	case c.MaxInflight < 1:
		return fmt.Errorf("publish: MaxInflight must be ≥ 1, got %d", c.MaxInflight)
	case c.RetryFor < 0:
		return fmt.Errorf("publish: RetryFor must be ≥ 0, got %s", c.RetryFor)
	case c.AckTimeout <= 0:
		return fmt.Errorf("publish: AckTimeout must be > 0, got %s", c.AckTimeout)
	}
	return nil
}

// Counts are the settled outcomes. Every message given to Publish ends in
// exactly one of Published, Duplicates and Failed; Retried counts those of
// them that needed more than one attempt; NotAttempted counts Publish calls
// refused because the context ended, plus what the caller added with
// AddNotAttempted.
type Counts struct {
	Published    int64 // stored by JetStream (by this run)
	Duplicates   int64 // dropped by JetStream on the first attempt: the id was in the input before
	Retried      int64 // needed more than one attempt (and are counted in Published, Duplicates or Failed)
	Failed       int64 // not stored: rejected, or still failing at the last check
	NotAttempted int64 // never published: the run was interrupted first
}

// Settled is Published + Duplicates + Failed.
func (c Counts) Settled() int64 { return c.Published + c.Duplicates + c.Failed }

// Engine publishes and settles messages. Create it with New.
type Engine struct {
	cfg   Config
	js    jetstream.JetStream
	log   *zap.Logger
	quit  chan struct{} // closed when New's context ends: retries stop waiting
	stop  func() bool
	slots chan struct{} // the window: one token per unsettled message

	mu       sync.Mutex
	inflight map[*nats.Msg]*pending // attempts awaiting their acknowledgement
	doubt    []*pending             // retry budget spent; checked once more by Close
	active   sync.WaitGroup         // messages neither settled nor in doubt

	published, duplicates, retried, failed, notAttempted atomic.Int64
	resent                                               atomic.Int64 // retry attempts made

	retryLog rate.Sometimes // retries come in floods; log a few
	failLog  rate.Sometimes
}

// pending is one message until it is settled.
type pending struct {
	msg      *nats.Msg
	id       string // Nats-Msg-Id, "" when none
	origin   string // for logs, e.g. "news.jsonl:12"
	first    time.Time
	attempts int // failed attempts so far
	final    bool
	hasSlot  bool
	span     trace.Span // the producer span, ended when the message settles; nil when not traced
}

// New returns an Engine publishing on nc. Cancelling ctx stops retries (the
// messages waiting for one go to Close's last check); in-flight attempts
// still settle.
func New(ctx context.Context, nc *nats.Conn, cfg Config, log *zap.Logger) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	e := &Engine{
		cfg:      cfg,
		log:      log.Named("publish"),
		quit:     make(chan struct{}),
		slots:    make(chan struct{}, cfg.MaxInflight),
		inflight: make(map[*nats.Msg]*pending, cfg.MaxInflight),
		retryLog: rate.Sometimes{First: 3, Interval: 5 * time.Second},
		failLog:  rate.Sometimes{First: 10, Interval: 5 * time.Second},
	}
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(cfg.MaxInflight),
		jetstream.WithPublishAsyncTimeout(cfg.AckTimeout),
		jetstream.WithPublishAsyncAckHandler(e.onAck),
		jetstream.WithPublishAsyncErrHandler(e.onErr))
	if err != nil {
		return nil, fmt.Errorf("publish: jetstream: %w", err)
	}
	e.js = js
	e.stop = context.AfterFunc(ctx, func() { close(e.quit) })
	return e, nil
}

// Publish sends data to subject with Nats-Msg-Id id (none when id is "" or
// holds a line break, which would break the header block). It blocks while
// MaxInflight messages are unsettled. The outcome lands in Counts; Publish
// returns an error only when ctx ended first, and then counts the message
// not attempted.
//
// When tracing is on (or ctx holds a recording span, which becomes the
// parent), each message gets a producer span, "send <subject>", whose
// context travels in the message's traceparent and tracestate headers; it
// ends when the message settles, with the outcome.
func (e *Engine) Publish(ctx context.Context, subject string, data []byte, id, origin string) error {
	if ctx.Err() != nil {
		e.notAttempted.Add(1)
		return ctx.Err()
	}
	select {
	case e.slots <- struct{}{}:
	case <-ctx.Done():
		e.notAttempted.Add(1)
		return ctx.Err()
	}
	m := &nats.Msg{Subject: subject, Data: data}
	if strings.ContainsAny(id, "\r\n") {
		id = ""
	}
	if id != "" {
		m.Header = nats.Header{jetstream.MsgIDHeader: []string{id}}
	}
	pd := &pending{msg: m, id: id, origin: origin, first: time.Now(), hasSlot: true}
	if tracing.Active(ctx) {
		pd.span = startSpan(ctx, m, id)
	}
	e.active.Add(1)
	e.send(pd)
	return nil
}

// AddNotAttempted counts n messages the caller never gave to Publish, for
// an interrupted run.
func (e *Engine) AddNotAttempted(n int64) { e.notAttempted.Add(n) }

// Counts returns the outcomes so far.
func (e *Engine) Counts() Counts {
	return Counts{
		Published:    e.published.Load(),
		Duplicates:   e.duplicates.Load(),
		Retried:      e.retried.Load(),
		Failed:       e.failed.Load(),
		NotAttempted: e.notAttempted.Load(),
	}
}

// Close waits until every published message is settled, as Flush does,
// stops the retries and returns the final counts. Each last attempt waits
// at most AckTimeout.
func (e *Engine) Close() Counts {
	c := e.Flush()
	e.stop()
	return c
}

// Flush waits until every message published so far is settled: it waits
// for the acknowledgements and retries, then publishes once more each
// message whose retry budget ran out (with its Nats-Msg-Id, so one the
// stream stored after all comes back a duplicate and counts as published),
// and returns the counts. The Engine stays usable, so a caller that
// publishes in rounds (publisher feeds, one poll at a time) learns each
// round's outcome from the difference of the counts; Publish must not run
// concurrently with Flush.
func (e *Engine) Flush() Counts {
	e.active.Wait()
	e.mu.Lock()
	doubt := e.doubt
	e.doubt = nil
	e.mu.Unlock()
	if len(doubt) > 0 {
		e.log.Info("checking messages whose retries ran out", zap.Int("messages", len(doubt)))
		for _, pd := range doubt {
			e.slots <- struct{}{}
			pd.hasSlot, pd.final = true, true
			e.active.Add(1)
			e.send(pd)
		}
		e.active.Wait()
	}
	return e.Counts()
}

// send makes one attempt; its outcome comes to onAck or onErr, or, when
// the publish call itself fails, to attemptFailed at once.
func (e *Engine) send(pd *pending) {
	e.mu.Lock()
	e.inflight[pd.msg] = pd
	e.mu.Unlock()
	if _, err := e.js.PublishMsgAsync(pd.msg); err != nil {
		// No callback follows a publish call that failed.
		if e.take(pd.msg) != nil {
			e.attemptFailed(pd, err)
		}
	}
}

// take removes and returns the attempt of m awaiting its outcome, or nil.
func (e *Engine) take(m *nats.Msg) *pending {
	e.mu.Lock()
	defer e.mu.Unlock()
	pd := e.inflight[m]
	delete(e.inflight, m)
	return pd
}

// onAck is JetStream's acknowledgement of an attempt. It runs on the
// connection's reply dispatcher and must not block.
func (e *Engine) onAck(_ jetstream.JetStream, m *nats.Msg, ack *jetstream.PubAck) {
	pd := e.take(m)
	if pd == nil {
		return
	}
	switch {
	case ack.Duplicate && pd.attempts == 0:
		e.duplicates.Add(1)
		if pd.span != nil && pd.span.IsRecording() {
			pd.span.SetAttributes(tracing.NewsflowDuplicate.Bool(true))
		}
	default:
		// A duplicate on a retry is our own earlier attempt, stored when
		// its acknowledgement was lost.
		e.published.Add(1)
	}
	if pd.attempts > 0 {
		e.retried.Add(1)
	}
	if pd.span != nil && pd.span.IsRecording() {
		pd.span.SetAttributes(tracing.NewsflowStreamSeq.Int64(int64(ack.Sequence)))
	}
	e.settle(pd)
}

// onErr is a failed attempt: an error reply, a timeout or a disconnect. It
// runs on the client's goroutines and must not block.
func (e *Engine) onErr(_ jetstream.JetStream, m *nats.Msg, err error) {
	if pd := e.take(m); pd != nil {
		e.attemptFailed(pd, err)
	}
}

// attemptFailed decides what follows a failed attempt: a retry after a
// backoff, the last check at Close, or failure. It does not block.
func (e *Engine) attemptFailed(pd *pending, err error) {
	pd.attempts++
	if pd.final || !Retryable(err) {
		e.fail(pd, err)
		return
	}
	d := backoff(pd.attempts)
	select {
	case <-e.quit:
		e.toDoubt(pd)
		return
	default:
	}
	if time.Since(pd.first)+d > e.cfg.RetryFor {
		e.toDoubt(pd)
		return
	}
	if pd.span != nil && pd.span.IsRecording() {
		pd.span.AddEvent("retry", trace.WithAttributes(tracing.NewsflowAttempt.Int(pd.attempts), tracing.NewsflowReason.String(err.Error())))
	}
	e.retryLog.Do(func() {
		e.log.Warn("publish retry", zap.String("msg_id", pd.id), zap.String("subject", pd.msg.Subject),
			zap.Int("attempt", pd.attempts), zap.Duration("retry_in", d), zap.Error(err))
	})
	go e.retryAfter(pd, d)
}

// retryAfter sleeps d, keeping pd's slot, and publishes pd again.
func (e *Engine) retryAfter(pd *pending, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		e.resent.Add(1)
		e.send(pd)
	case <-e.quit:
		e.toDoubt(pd)
	}
}

// toDoubt parks pd for Close's last check, freeing its slot.
func (e *Engine) toDoubt(pd *pending) {
	e.mu.Lock()
	e.doubt = append(e.doubt, pd)
	e.mu.Unlock()
	e.release(pd)
	e.active.Done()
}

func (e *Engine) fail(pd *pending, err error) {
	e.failed.Add(1)
	if pd.attempts > 1 {
		e.retried.Add(1)
	}
	if pd.span != nil {
		tracing.Fail(pd.span, err)
	}
	e.failLog.Do(func() {
		e.log.Error("publish failed", zap.String("msg_id", pd.id), zap.String("subject", pd.msg.Subject),
			zap.String("origin", pd.origin), zap.Int("attempts", pd.attempts), zap.Error(err))
	})
	e.settle(pd)
}

func (e *Engine) settle(pd *pending) {
	if pd.span != nil {
		if pd.span.IsRecording() {
			pd.span.SetAttributes(tracing.NewsflowRetries.Int(pd.attempts))
		}
		pd.span.End()
	}
	e.release(pd)
	e.active.Done()
}

// startSpan starts m's producer span and writes its context into m's
// headers. It is the one place where a published message is traced.
func startSpan(ctx context.Context, m *nats.Msg, id string) trace.Span {
	ctx, span := tracing.Start(ctx, "send "+m.Subject, trace.SpanKindProducer)
	if !span.IsRecording() && !span.SpanContext().IsValid() {
		return nil
	}
	if span.IsRecording() {
		span.SetAttributes(tracing.SystemNATS,
			tracing.MessagingOperationName.String("send"), tracing.MessagingOperationType.String("send"),
			tracing.MessagingDestinationName.String(m.Subject), tracing.MessagingMessageBodySize.Int(len(m.Data)))
		if id != "" {
			span.SetAttributes(tracing.MessagingMessageID.String(id))
		}
	}
	if m.Header == nil {
		m.Header = nats.Header{}
	}
	tracing.Inject(ctx, m.Header)
	return span
}

func (e *Engine) release(pd *pending) {
	if pd.hasSlot {
		pd.hasSlot = false
		<-e.slots
	}
}

// jsErrCodeStoreFailed is JetStream's "store failed" error code: the
// stream is full and discards new messages (or its store refused the
// message), which a retry within seconds does not change.
const jsErrCodeStoreFailed = 10077

// Retryable reports whether publishing again may store a message that
// failed with err. Everything is, except what the message, the stream or a
// closed connection rules out: a failure the client cannot classify may be
// a disconnect it reports in its own words (a broken pipe).
func Retryable(err error) bool {
	var apiErr *jetstream.APIError
	switch {
	case errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, jetstream.ErrConnectionClosed),
		errors.Is(err, jetstream.ErrJetStreamPublisherClosed),
		errors.Is(err, nats.ErrMaxPayload), errors.Is(err, nats.ErrBadSubject), errors.Is(err, nats.ErrInvalidMsg),
		errors.Is(err, jetstream.ErrAsyncPublishReplySubjectSet):
		return false
	case errors.As(err, &apiErr):
		return apiErr.Code >= 500 && apiErr.ErrorCode != jsErrCodeStoreFailed
	}
	return true
}

// backoff is the wait before retry n (1-based): 50ms doubling to 1s, less
// up to a quarter at random, so a window of retries does not fire at once.
func backoff(n int) time.Duration {
	d := 50 * time.Millisecond << min(n-1, 5)
	d = min(d, time.Second)
	return d - rand.N(d/4+1)
}
