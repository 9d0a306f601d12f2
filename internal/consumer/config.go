package consumer

import (
	"cmp"
	"fmt"
	"time"

	"newsflow/internal/news"
	"newsflow/internal/redact"
	"newsflow/internal/stream"
)

// Defaults of Config. The stream's own defaults are in package stream.
const (
	DefaultDurable       = "news-workers"
	DefaultAckWait       = 30 * time.Second
	DefaultMaxDeliver    = 10
	DefaultMaxAckPending = 20000
	DefaultFetchBatch    = 500
	// DefaultPullExpiry is short so that a pull parked on a consumer leader
	// that died is noticed soon: the server sends an idle heartbeat every
	// fifth of it, two missed heartbeats (2s) make the client pull again,
	// and a leadership change makes it pull again at once. While leaders
	// are being elected, a pull may be lost again; it is re-issued every 2s.
	DefaultPullExpiry = 5 * time.Second
)

// DefaultBackOff is the default nak delay by delivery count: the n-th
// delivery that fails is retried after DefaultBackOff[n-1], capped at the
// last entry.
var DefaultBackOff = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, time.Minute, 5 * time.Minute}

// Config configures a Consumer. Zero fields take the defaults noted on each.
type Config struct {
	// Stream is the stream to consume. Default NEWS on news.>.
	Stream stream.Config
	// Durable names the pull consumer all workers share. Default "news-workers".
	Durable string
	// AckWait is how long the server waits for an ack before redelivering.
	// Held deliveries are kept alive with InProgress every AckWait/3.
	// Default 30s; at least 100ms.
	AckWait time.Duration
	// MaxDeliver is how often a message is delivered at most; a retryable
	// failure on the last delivery dead-letters it. Default 10.
	MaxDeliver int
	// BackOff is the nak delay by delivery count (the n-th failed delivery
	// waits BackOff[n-1], capped at the last entry). It is applied by the
	// client on Nak, not set on the server consumer: a server-side BackOff
	// would replace AckWait by BackOff[0] and defeat keep-alive. Default
	// 1s, 5s, 30s, 1m, 5m.
	BackOff []time.Duration
	// MaxAckPending caps the messages delivered and not yet acked, across
	// all workers sharing Durable. Default 20000.
	MaxAckPending int
	// FetchBatch is the number of messages each worker requests ahead and
	// buffers (pipelined pulls). Default 500; at most MaxAckPending.
	FetchBatch int
	// PullExpiry is how long one pull request waits on the server; idle
	// heartbeats come every fifth of it and two missed ones re-issue the pull.
	// Default 5s; at least 1s.
	PullExpiry time.Duration
	// MaxMessageBytes is the largest accepted message payload in bytes;
	// larger ones are dead-lettered. Default 64 KiB.
	MaxMessageBytes int
	// DLQStream names the dead-letter stream, on subjects
	// DLQSubjectPrefix + ".>". Default "NEWS_DLQ".
	DLQStream string
	// DLQSubjectPrefix prefixes the dead-letter subject: prefix + "." +
	// original subject. Default "news-dlq".
	DLQSubjectPrefix string
	// UpdateStreams applies Stream's settings (and the dead-letter
	// stream's) to existing streams whose settings differ. Default false:
	// the differences are logged and the streams keep their own, so that
	// one program started with other flags does not change them for all.
	UpdateStreams bool
	// Redactor removes secrets from the error text a dead letter records
	// (its Newsflow-Error header), so none is stored in the dead-letter
	// stream nor printed by whoever reads it: secrets of a known form (URL
	// passwords, password=, API keys; see internal/redact) and the literal
	// secrets it holds (the worker's own passwords and keys). Default nil:
	// secrets of a known form only.
	Redactor *redact.Redactor
}

func (c Config) withDefaults() Config {
	c.Stream = c.Stream.WithDefaults()
	c.Durable = cmp.Or(c.Durable, DefaultDurable)
	c.AckWait = cmp.Or(c.AckWait, DefaultAckWait)
	c.MaxDeliver = cmp.Or(c.MaxDeliver, DefaultMaxDeliver)
	if len(c.BackOff) == 0 {
		c.BackOff = DefaultBackOff
	}
	c.MaxAckPending = cmp.Or(c.MaxAckPending, DefaultMaxAckPending)
	c.FetchBatch = cmp.Or(c.FetchBatch, min(DefaultFetchBatch, c.MaxAckPending))
	c.PullExpiry = cmp.Or(c.PullExpiry, DefaultPullExpiry)
	c.MaxMessageBytes = cmp.Or(c.MaxMessageBytes, news.DefaultMaxBytes)
	c.DLQStream = cmp.Or(c.DLQStream, stream.DefaultDLQName)
	c.DLQSubjectPrefix = cmp.Or(c.DLQSubjectPrefix, stream.DefaultDLQSubjectPrefix)
	return c
}

// Validate reports the first invalid field, naming it and its value. New
// validates after applying defaults.
func (c Config) Validate() error {
	if err := c.Stream.Validate(); err != nil {
		return err
	}
	if err := stream.ValidName("Durable", c.Durable); err != nil {
		return err
	}
	switch {
	case c.AckWait < 100*time.Millisecond:
		return fmt.Errorf("consumer: AckWait must be ≥ 100ms, got %s", c.AckWait)
	case c.MaxDeliver < 1:
		return fmt.Errorf("consumer: MaxDeliver must be ≥ 1, got %d", c.MaxDeliver)
	case c.MaxAckPending < 1:
		return fmt.Errorf("consumer: MaxAckPending must be ≥ 1, got %d", c.MaxAckPending)
	case c.FetchBatch < 1 || c.FetchBatch > c.MaxAckPending:
		return fmt.Errorf("consumer: FetchBatch must be 1 to MaxAckPending (%d), got %d", c.MaxAckPending, c.FetchBatch)
	case c.PullExpiry < time.Second:
		return fmt.Errorf("consumer: PullExpiry must be ≥ 1s, got %s", c.PullExpiry)
	case c.MaxMessageBytes < 1:
		return fmt.Errorf("consumer: MaxMessageBytes must be ≥ 1, got %d", c.MaxMessageBytes)
	}
	for i, d := range c.BackOff {
		if d <= 0 {
			return fmt.Errorf("consumer: BackOff[%d] must be > 0, got %s", i, d)
		}
	}
	return c.dlq().Validate(c.Stream)
}

func (c Config) dlq() stream.DLQ {
	return stream.DLQ{Name: c.DLQStream, SubjectPrefix: c.DLQSubjectPrefix}
}
