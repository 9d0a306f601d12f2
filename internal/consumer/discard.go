package consumer

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// discardCheckEvery is how often a Consumer compares the stream's first
// sequence with what the durable consumer delivered.
const discardCheckEvery = 2 * time.Second

// discards counts the messages a stream removed by its limits (MaxBytes,
// MaxAge, with DiscardOld) before the durable consumer delivered them: the
// stream sequences below the stream's first sequence and above the
// consumer's last delivered one. JetStream skips them silently when the
// consumer reaches them, so they are checked for when the Consumer starts
// (before it fetches) and every discardCheckEvery while it runs, while the
// consumer lags behind. A gap that opens and is skipped between two checks
// (the stream trims the very messages the consumer is about to fetch) can
// escape it; a worker that is down, stalled by an outage or far behind is
// the case that matters, and it is seen.
//
// Each worker counts the gaps it sees; several workers starting at once may
// count the same gap, so alert on any increase, not on the sum.
type discards struct {
	counted uint64 // stream sequences up to this one are accounted for; guarded by the single caller
}

// note counts the undelivered messages below first (the stream's first
// sequence) above delivered (the consumer's last delivered stream
// sequence) that were not counted before, and returns their number.
func (d *discards) note(first, delivered uint64) uint64 {
	from := max(delivered, d.counted)
	if first == 0 || first-1 <= from {
		return 0
	}
	n := first - 1 - from
	d.counted = first - 1
	return n
}

// checkDiscards compares the stream's first sequence with the consumer's
// delivered sequence (0 for a consumer created just now: everything the
// stream dropped before it existed was never seen by a worker), and counts
// and logs a gap.
func (c *Consumer) checkDiscards(ctx context.Context, created bool) {
	si, err := c.stream.Info(ctx)
	if err != nil {
		return // a NATS outage: the next check will do
	}
	var delivered uint64
	if !created {
		ci, err := c.cons.Info(ctx)
		if err != nil {
			return
		}
		delivered = ci.Delivered.Stream
	}
	if n := c.discards.note(si.State.FirstSeq, delivered); n > 0 {
		c.m.discarded.Add(float64(n))
		c.log.Warn("stream discarded messages before any worker got them",
			zap.Uint64("count", n), zap.Uint64("first_seq", si.State.FirstSeq), zap.Uint64("delivered_seq", delivered),
			zap.Int64("max_bytes", si.Config.MaxBytes), zap.Duration("max_age", si.Config.MaxAge),
			zap.String("discard", si.Config.Discard.String()))
	}
}

// consumerExists reports whether the durable consumer exists already; an
// error other than "not found" counts as existing (the check then uses the
// consumer's own state).
func consumerExists(ctx context.Context, s jetstream.Stream, durable string) bool {
	_, err := s.Consumer(ctx, durable)
	return !errors.Is(err, jetstream.ErrConsumerNotFound)
}
