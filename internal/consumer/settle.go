package consumer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"newsflow/internal/stream"
)

// maxErrorHeader caps the Newsflow-Error header in bytes.
const maxErrorHeader = 1024

// backoff is the nak delay after the numDelivered-th delivery failed.
func (c *Consumer) backoff(numDelivered uint64) time.Duration {
	i := int(min(numDelivered, uint64(len(c.cfg.BackOff))))
	return c.cfg.BackOff[max(i-1, 0)]
}

// Ack acknowledges deliveries whose batch committed. Acks are sent without
// waiting for the server's confirmation; a lost ack means a redelivery,
// which the idempotent commit absorbs. Failures are counted and logged.
func (c *Consumer) Ack(ds []*Delivery) {
	c.keep.untrackAll(ds)
	var failed int
	var lastErr error
	for _, d := range ds {
		if err := d.msg.Ack(); err != nil {
			failed++
			lastErr = err
		}
	}
	c.m.processed.Add(float64(len(ds) - failed))
	if failed > 0 && c.errLog.allow() {
		c.log.Warn("ack failed", zap.Int("batch_size", len(ds)), zap.Int("failed", failed), zap.Error(lastErr))
	}
}

// NakAll hands deliveries back at once, without delay, for another worker
// or a later fetch. Their NumDelivered grows on redelivery.
func (c *Consumer) NakAll(ds []*Delivery) {
	c.keep.untrackAll(ds)
	c.handedBack.Add(int64(len(ds)))
	var lastErr error
	for _, d := range ds {
		if err := d.msg.Nak(); err != nil {
			lastErr = err
		}
	}
	if lastErr != nil && c.errLog.allow() {
		c.log.Warn("nak failed", zap.Int("batch_size", len(ds)), zap.Error(lastErr))
	}
}

// Retry hands a delivery back with the nak delay for its delivery count
// (BackOff), or dead-letters it when this was its last allowed delivery: a
// message is never dropped silently. ctx bounds the dead-letter publish;
// pass a live context during shutdown. The pipeline decides when to call it.
func (c *Consumer) Retry(ctx context.Context, d *Delivery, cause error) {
	if d.NumDelivered >= uint64(c.cfg.MaxDeliver) {
		_ = c.deadLetter(ctx, d, fmt.Errorf("gave up after %d deliveries: %w", d.NumDelivered, cause), reasonRetries)
		return
	}
	c.nakDelay(d, cause)
}

func (c *Consumer) nakDelay(d *Delivery, cause error) {
	c.keep.untrack(d)
	delay := c.backoff(d.NumDelivered)
	if err := d.msg.NakWithDelay(delay); err != nil {
		if c.errLog.allow() {
			c.log.Warn("nak failed", zap.String("msg_id", d.Message.ID), zap.Uint64("stream_seq", d.StreamSeq), zap.Error(err))
		}
		return
	}
	c.m.failed.Inc()
	if c.errLog.allow() {
		c.log.Warn("nak message", zap.String("msg_id", d.Message.ID), zap.Uint64("stream_seq", d.StreamSeq),
			zap.Uint64("num_delivered", d.NumDelivered), zap.Duration("retry_in", delay), zap.Error(cause))
	}
}

// DeadLetter publishes the delivery's raw payload to the dead-letter
// subject DLQSubjectPrefix + "." + its subject, with the Newsflow-* headers
// (the reason's text without secrets: Config.Redactor) and Nats-Msg-Id
// "dlq-<stream seq>", waits for the PubAck, and then
// terminates the message. If the publish fails it naks the message with a
// delay instead and returns the error: the message is never lost.
func (c *Consumer) DeadLetter(ctx context.Context, d *Delivery, reason error) error {
	return c.deadLetter(ctx, d, reason, reasonPoison)
}

func (c *Consumer) deadLetter(ctx context.Context, d *Delivery, reason error, label string) error {
	if reason == nil {
		reason = errors.New("no reason given")
	}
	m := nats.NewMsg(c.cfg.dlq().Subject(d.Subject))
	m.Data = d.msg.Data()
	// Redacted before it is capped, so no secret is cut in half and kept.
	m.Header.Set(stream.HeaderError, headerValue(c.cfg.Redactor.String(reason.Error())))
	m.Header.Set(stream.HeaderStreamSeq, strconv.FormatUint(d.StreamSeq, 10))
	m.Header.Set(stream.HeaderDeliveries, strconv.FormatUint(d.NumDelivered, 10))
	m.Header.Set(stream.HeaderOriginalSubject, d.Subject)
	m.Header.Set(jetstream.MsgIDHeader, "dlq-"+strconv.FormatUint(d.StreamSeq, 10))
	msgID := d.Message.ID
	if h := d.msg.Headers(); h != nil {
		if orig := h.Get(jetstream.MsgIDHeader); orig != "" {
			m.Header.Set(stream.HeaderOriginalMsgID, orig)
			msgID = cmp.Or(msgID, orig)
		}
	}
	if _, err := c.js.PublishMsg(ctx, m, jetstream.WithExpectStream(c.cfg.DLQStream)); err != nil {
		err = fmt.Errorf("consumer: dead-letter stream seq %d to %s: %w", d.StreamSeq, c.cfg.DLQStream, err)
		c.nakDelay(d, err)
		return err
	}
	c.keep.untrack(d)
	if err := d.msg.Term(); err != nil {
		// The copy is in the DLQ; a redelivery dead-letters it again, deduplicated by Nats-Msg-Id.
		if c.errLog.allow() {
			c.log.Warn("term failed", zap.Uint64("stream_seq", d.StreamSeq), zap.Error(err))
		}
	}
	c.m.deadLettered.WithLabelValues(label).Inc()
	c.deadLettered.Add(1)
	if c.errLog.allow() {
		c.log.Error("message dead-lettered", zap.String("msg_id", msgID), zap.String("subject", d.Subject),
			zap.Uint64("stream_seq", d.StreamSeq), zap.Uint64("num_delivered", d.NumDelivered),
			zap.String("reason", label), zap.Error(reason))
	}
	return nil
}

// headerValue makes s safe as a header value: one line, bounded length.
func headerValue(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
	if len(s) > maxErrorHeader {
		s = strings.ToValidUTF8(s[:maxErrorHeader], "")
	}
	return s
}

// keeper tracks deliveries handed out and not yet settled.
type keeper struct {
	mu   sync.Mutex
	held map[*Delivery]struct{}
	due  []*Delivery // scratch for keepAlive
}

func (k *keeper) track(d *Delivery) {
	k.mu.Lock()
	k.held[d] = struct{}{}
	k.mu.Unlock()
}

func (k *keeper) untrack(d *Delivery) {
	k.mu.Lock()
	delete(k.held, d)
	k.mu.Unlock()
}

func (k *keeper) untrackAll(ds []*Delivery) {
	k.mu.Lock()
	for _, d := range ds {
		delete(k.held, d)
	}
	k.mu.Unlock()
}

// Held is the number of deliveries handed out and not yet settled.
func (c *Consumer) Held() int { return int(c.keep.count()) }

// DeadLettered counts the messages this Consumer published to the
// dead-letter stream and terminated, for every reason (invalid, poison,
// retries): what newsflow_messages_dead_lettered_total counts.
func (c *Consumer) DeadLettered() int64 { return c.deadLettered.Load() }

// HandedBack counts deliveries handed back without delay for another worker
// or a later fetch: by NakAll, and those fetched but not handed out when Run
// stopped.
func (c *Consumer) HandedBack() int64 { return c.handedBack.Load() }

func (k *keeper) count() float64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return float64(len(k.held))
}

// keepAlive sends InProgress for deliveries held longer than AckWait/3,
// every AckWait/3, until Close.
func (c *Consumer) keepAlive() {
	defer close(c.keepDone)
	every := c.cfg.AckWait / 3
	t := time.NewTicker(every)
	defer t.Stop()
	d := time.NewTicker(discardCheckEvery)
	defer d.Stop()
	for {
		select {
		case <-c.stopKeep:
			return
		case now := <-t.C:
			c.touch(now, every)
		case <-d.C:
			ctx, cancel := context.WithTimeout(context.Background(), discardCheckEvery)
			c.checkDiscards(ctx, false)
			cancel()
		}
	}
}

func (c *Consumer) touch(now time.Time, olderThan time.Duration) {
	k := &c.keep
	cutoff := now.Add(-olderThan).UnixNano()
	k.mu.Lock()
	due := k.due[:0]
	for d := range k.held {
		if d.touched <= cutoff {
			d.touched = now.UnixNano()
			due = append(due, d)
		}
	}
	k.mu.Unlock()
	var sent int
	var lastErr error
	for i, d := range due {
		// A delivery settled meanwhile answers ErrMsgAlreadyAckd; that is fine.
		if err := d.msg.InProgress(); err == nil {
			sent++
		} else if !errors.Is(err, jetstream.ErrMsgAlreadyAckd) {
			lastErr = err
		}
		due[i] = nil
	}
	k.mu.Lock()
	k.due = due[:0]
	k.mu.Unlock()
	if sent > 0 {
		c.m.inProgress.Add(float64(sent))
		c.log.Debug("kept held messages alive", zap.Int("batch_size", sent))
	}
	if lastErr != nil && c.errLog.allow() {
		c.log.Warn("in-progress ack failed", zap.Error(lastErr))
	}
}

// limiter rate-limits log lines of errors that repeat per message.
// Ten lines in a burst, then one a second.
type limiter struct{ lim *rate.Limiter }

func newLimiter() limiter { return limiter{lim: rate.NewLimiter(rate.Every(time.Second), 10)} }

func (l limiter) allow() bool { return l.lim.Allow() }
