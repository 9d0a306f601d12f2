package feed

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"newsflow/internal/news"
	"newsflow/internal/publish"
)

// EnginePublisher is the Publisher of `publisher feeds`: it publishes
// through internal/publish Engines (their window, retries and settlement),
// one Engine per concurrent poll, taken from a pool so a poll's Flush waits
// for its own messages only. Engines are made as polls need them, at most
// one per concurrent poll, and kept until Close.
type EnginePublisher struct {
	ctx       context.Context
	nc        *nats.Conn
	cfg       publish.Config
	subjectOf func(source string) string
	log       *zap.Logger

	mu   sync.Mutex
	idle []*publish.Engine
	all  []*publish.Engine
}

// NewEnginePublisher returns a Publisher on nc; subjectOf maps a message's
// source to its subject. Cancelling ctx stops the engines' retries (each
// message is then checked once more before its poll gets its outcome).
func NewEnginePublisher(ctx context.Context, nc *nats.Conn, cfg publish.Config, subjectOf func(source string) string, log *zap.Logger) (*EnginePublisher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &EnginePublisher{ctx: ctx, nc: nc, cfg: cfg, subjectOf: subjectOf, log: log}, nil
}

// Publish publishes msgs with Nats-Msg-Id = id, waits until each one is
// settled, and returns nil when every one was stored or was a duplicate of
// a stored one.
func (p *EnginePublisher) Publish(ctx context.Context, msgs []news.Message) error {
	e, err := p.take()
	if err != nil {
		return err
	}
	defer p.give(e)
	before := e.Counts()
	for _, m := range msgs {
		b, err := json.Marshal(m)
		if err != nil {
			return fmt.Errorf("encode %s: %w", m.ID, err)
		}
		if err := e.Publish(ctx, p.subjectOf(m.Source), b, m.ID, m.ID); err != nil {
			break // counted not attempted
		}
	}
	after := e.Flush()
	stored := after.Published - before.Published + after.Duplicates - before.Duplicates
	if n := int64(len(msgs)) - stored; n > 0 {
		return fmt.Errorf("%d of %d messages not stored (failed %d, not attempted %d)", n, len(msgs),
			after.Failed-before.Failed, after.NotAttempted-before.NotAttempted)
	}
	return nil
}

func (p *EnginePublisher) take() (*publish.Engine, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.idle); n > 0 {
		e := p.idle[n-1]
		p.idle = p.idle[:n-1]
		return e, nil
	}
	e, err := publish.New(p.ctx, p.nc, p.cfg, p.log)
	if err != nil {
		return nil, err
	}
	p.all = append(p.all, e)
	return e, nil
}

func (p *EnginePublisher) give(e *publish.Engine) {
	p.mu.Lock()
	p.idle = append(p.idle, e)
	p.mu.Unlock()
}

// Close closes every engine and returns their summed counts. Call it after
// the last Publish returned.
func (p *EnginePublisher) Close() publish.Counts {
	p.mu.Lock()
	defer p.mu.Unlock()
	var sum publish.Counts
	for _, e := range p.all {
		c := e.Close()
		sum.Published += c.Published
		sum.Duplicates += c.Duplicates
		sum.Retried += c.Retried
		sum.Failed += c.Failed
		sum.NotAttempted += c.NotAttempted
	}
	p.all, p.idle = nil, nil
	return sum
}
