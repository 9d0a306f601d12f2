// Package publish loads the bench tools' streams: it publishes generated
// news messages as a publisher would, with Nats-Msg-Id, asynchronously.
package publish

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"newsflow/internal/news"
)

// Messages publishes msgs to subject with Nats-Msg-Id set to each id, paced
// at rate msgs/s when rate > 0, and returns once every PubAck arrived, with
// the time each message was sent. When the in-flight window is full it
// waits for it to drain rather than failing.
func Messages(ctx context.Context, js jetstream.JetStream, subject string, msgs []news.Message, rate int) ([]time.Time, error) {
	sent := make([]time.Time, len(msgs))
	start := time.Now()
	for i, m := range msgs {
		if rate > 0 {
			if d := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))); d > 0 {
				time.Sleep(d) // pacing the offered load
			}
		}
		data, err := m.MarshalJSON()
		if err != nil {
			return nil, err
		}
		nm := nats.NewMsg(subject)
		nm.Data = data
		nm.Header.Set(jetstream.MsgIDHeader, m.ID)
		sent[i] = time.Now()
		for {
			_, err := js.PublishMsgAsync(nm)
			if err == nil {
				break
			}
			if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
				return nil, fmt.Errorf("publish: %w", err)
			}
			<-js.PublishAsyncComplete() // in-flight window full: let it drain
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(2 * time.Minute):
		return nil, errors.New("publishes not acknowledged within 2 minutes")
	}
	return sent, nil
}
