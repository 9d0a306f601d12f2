package main

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"golang.org/x/time/rate"
)

// counts are the outcomes the summary line reports. Safe for concurrent use.
type counts struct {
	published  atomic.Int64 // stored by JetStream
	duplicates atomic.Int64 // acknowledged as duplicates (Nats-Msg-Id seen within the window)
	invalid    atomic.Int64 // rejected by validation, never published
	failed     atomic.Int64 // not acknowledged after all retries
}

// pending is one message published and not yet settled.
type pending struct {
	msg      *nats.Msg
	id       string // Nats-Msg-Id, "" when none
	where    string // origin for error messages, e.g. "news.jsonl:12"
	future   jetstream.PubAckFuture
	attempts int // failed attempts so far
}

// publisher publishes asynchronously with at most maxInflight unacknowledged
// messages, retrying transient failures with backoff, and settles every
// message into counts: none is dropped silently.
//
// publish is called from one goroutine; a collector goroutine waits for the
// acknowledgements in order. close waits until every message is settled.
type publisher struct {
	js         jetstream.JetStream
	maxRetries int
	counts     *counts
	log        *zap.Logger
	warnEvery  rate.Sometimes // retries can come in floods; log a few
	errEvery   rate.Sometimes

	ctx     context.Context // for retry backoff; cancelling it fails pending retries
	pending chan *pending
	done    chan struct{}
}

func newPublisher(ctx context.Context, js jetstream.JetStream, maxInflight, maxRetries int, c *counts, log *zap.Logger) *publisher {
	p := &publisher{
		js:         js,
		maxRetries: maxRetries,
		counts:     c,
		log:        log,
		warnEvery:  rate.Sometimes{First: 3, Interval: 5 * time.Second},
		errEvery:   rate.Sometimes{First: 10, Interval: 5 * time.Second},
		ctx:        ctx,
		pending:    make(chan *pending, maxInflight),
		done:       make(chan struct{}),
	}
	go p.collect()
	return p
}

// publish sends data to subject with Nats-Msg-Id id (none if id is ""). It
// blocks while maxInflight messages await their acknowledgement. The outcome
// lands in counts; publish returns an error only when ctx ends.
func (p *publisher) publish(ctx context.Context, subject string, data []byte, id, where string) error {
	m := &nats.Msg{Subject: subject, Data: data}
	if strings.ContainsAny(id, "\r\n") {
		id = "" // would break the header block; such a message just gets no dedupe
	}
	if id != "" {
		m.Header = nats.Header{jetstream.MsgIDHeader: []string{id}}
	}
	pd := &pending{msg: m, id: id, where: where}
	if err := p.send(ctx, pd); err != nil {
		p.fail(pd, err)
		return ctx.Err()
	}
	p.pending <- pd // the collector always drains: futures resolve or time out
	return nil
}

// send publishes pd.msg, waiting out backpressure and retrying transient
// errors of the publish call itself.
func (p *publisher) send(ctx context.Context, pd *pending) error {
	for {
		f, err := p.js.PublishMsgAsync(pd.msg)
		if err == nil {
			pd.future = f
			return nil
		}
		if errors.Is(err, jetstream.ErrTooManyStalledMsgs) && ctx.Err() == nil {
			continue // maxInflight reached: wait for acknowledgements, this is no failure
		}
		if !p.retry(ctx, pd, err) {
			return err
		}
	}
}

// retry counts a failed attempt and, if err is transient and attempts
// remain, sleeps the backoff and reports true.
func (p *publisher) retry(ctx context.Context, pd *pending, err error) bool {
	pd.attempts++
	if !retryable(err) || pd.attempts > p.maxRetries || ctx.Err() != nil {
		return false
	}
	d := backoff(pd.attempts)
	p.warnEvery.Do(func() {
		p.log.Warn("publish retry", zap.String("msg_id", pd.id), zap.String("subject", pd.msg.Subject),
			zap.Int("attempt", pd.attempts), zap.Duration("retry_in", d), zap.Error(err))
	})
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// collect settles pending messages in publish order.
func (p *publisher) collect() {
	defer close(p.done)
	for pd := range p.pending {
		p.settle(pd)
	}
}

// settle waits for pd's acknowledgement, publishing it again after a
// transient error, and counts the outcome.
func (p *publisher) settle(pd *pending) {
	for {
		select {
		case ack := <-pd.future.Ok():
			if ack.Duplicate {
				p.counts.duplicates.Add(1)
			} else {
				p.counts.published.Add(1)
			}
			return
		case err := <-pd.future.Err():
			if !p.retry(p.ctx, pd, err) {
				p.fail(pd, err)
				return
			}
			if err := p.send(p.ctx, pd); err != nil {
				p.fail(pd, err)
				return
			}
		}
	}
}

func (p *publisher) fail(pd *pending, err error) {
	p.counts.failed.Add(1)
	p.errEvery.Do(func() {
		p.log.Error("publish failed", zap.String("msg_id", pd.id), zap.String("subject", pd.msg.Subject),
			zap.String("origin", pd.where), zap.Int("attempts", pd.attempts), zap.Error(err))
	})
}

// close waits until every published message is settled.
func (p *publisher) close() {
	close(p.pending)
	<-p.done
}

// retryable reports whether publishing again may succeed.
func retryable(err error) bool {
	var apiErr *jetstream.APIError
	switch {
	case errors.Is(err, jetstream.ErrAsyncPublishTimeout),
		errors.Is(err, jetstream.ErrNoStreamResponse),
		errors.Is(err, jetstream.ErrTooManyStalledMsgs),
		errors.Is(err, nats.ErrNoResponders),
		errors.Is(err, nats.ErrTimeout),
		errors.Is(err, nats.ErrDisconnected),
		errors.Is(err, nats.ErrConnectionReconnecting):
		return true
	case errors.As(err, &apiErr):
		return apiErr.Code == 503 // JetStream temporarily unavailable
	}
	return false
}

// backoff is the wait before retry n (1-based): 100ms doubling to 3.2s.
func backoff(n int) time.Duration {
	return 100 * time.Millisecond << min(n-1, 5)
}
