package feed

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"newsflow/internal/news"
	"newsflow/internal/publish"
)

// EnginePublisher is the Publisher of `publisher feeds`: each call
// publishes one poll's items through its own internal/publish Engine (its
// window, retries and settlement) and waits for every one to settle, so a
// poll knows its items were stored before it records them seen.
type EnginePublisher struct {
	nc        *nats.Conn
	cfg       publish.Config
	subjectOf func(source string) string
	log       *zap.Logger
}

// NewEnginePublisher returns a Publisher on nc; subjectOf maps a message's
// source to its subject.
func NewEnginePublisher(nc *nats.Conn, cfg publish.Config, subjectOf func(source string) string, log *zap.Logger) (*EnginePublisher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &EnginePublisher{nc: nc, cfg: cfg, subjectOf: subjectOf, log: log}, nil
}

// Publish publishes msgs with Nats-Msg-Id = id and returns nil when every
// one was stored or was a duplicate of a stored one.
func (p *EnginePublisher) Publish(ctx context.Context, msgs []news.Message) error {
	e, err := publish.New(ctx, p.nc, p.cfg, p.log)
	if err != nil {
		return err
	}
	for _, m := range msgs {
		b, err := json.Marshal(m)
		if err != nil {
			e.AddNotAttempted(1)
			continue
		}
		if err := e.Publish(ctx, p.subjectOf(m.Source), b, m.ID, m.ID); err != nil {
			break
		}
	}
	c := e.Close()
	if n := int64(len(msgs)) - c.Published - c.Duplicates; n > 0 {
		return fmt.Errorf("%d of %d messages not stored (failed %d, not attempted %d)", n, len(msgs), c.Failed, c.NotAttempted)
	}
	return nil
}
