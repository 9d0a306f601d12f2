package consumer

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"newsflow/internal/news"
)

// Defaults of Config and StreamConfig.
const (
	DefaultStream           = "NEWS"
	DefaultSubject          = "news.>"
	DefaultDurable          = "news-workers"
	DefaultAckWait          = 30 * time.Second
	DefaultMaxDeliver       = 10
	DefaultMaxAckPending    = 20000
	DefaultFetchBatch       = 500
	DefaultDLQStream        = "NEWS_DLQ"
	DefaultDLQSubjectPrefix = "news-dlq"
	DefaultDuplicateWindow  = 2 * time.Minute
)

// DefaultBackOff is the default nak delay by delivery count: the n-th
// delivery that fails is retried after DefaultBackOff[n-1], capped at the
// last entry.
var DefaultBackOff = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, time.Minute, 5 * time.Minute}

// StreamConfig describes a JetStream stream. Zero fields take the defaults
// noted on each.
type StreamConfig struct {
	// Name of the stream. Default "NEWS".
	Name string
	// Subjects the stream captures. Default ["news.>"].
	Subjects []string
	// Replicas is the number of copies in a cluster, 1 to 5. Default 1.
	Replicas int
	// MaxAge discards messages older than this. Default 0: no limit.
	MaxAge time.Duration
	// MaxBytes caps the stream's size in bytes, discarding the oldest
	// messages. Default 0: no limit.
	MaxBytes int64
	// DuplicateWindow is how long JetStream remembers Nats-Msg-Id values to
	// drop re-publishes. Default 2m (capped at MaxAge when that is shorter).
	DuplicateWindow time.Duration
	// Storage is file (the zero value, jetstream.FileStorage) or memory.
	Storage jetstream.StorageType
}

func (sc StreamConfig) withDefaults() StreamConfig {
	sc.Name = cmp.Or(sc.Name, DefaultStream)
	if len(sc.Subjects) == 0 {
		sc.Subjects = []string{DefaultSubject}
	}
	sc.Replicas = cmp.Or(sc.Replicas, 1)
	if sc.DuplicateWindow == 0 {
		sc.DuplicateWindow = DefaultDuplicateWindow
		if sc.MaxAge > 0 && sc.MaxAge < sc.DuplicateWindow {
			sc.DuplicateWindow = sc.MaxAge
		}
	}
	return sc
}

// Validate reports the first invalid field, naming it and its value.
func (sc StreamConfig) Validate() error {
	if err := validName("Stream.Name", sc.Name); err != nil {
		return err
	}
	if len(sc.Subjects) == 0 {
		return fmt.Errorf("consumer: Stream.Subjects must not be empty")
	}
	for _, s := range sc.Subjects {
		if err := validSubject("Stream.Subjects", s, true); err != nil {
			return err
		}
	}
	switch {
	case sc.Replicas < 1 || sc.Replicas > 5:
		return fmt.Errorf("consumer: Stream.Replicas must be 1 to 5, got %d", sc.Replicas)
	case sc.MaxAge < 0:
		return fmt.Errorf("consumer: Stream.MaxAge must be ≥ 0, got %s", sc.MaxAge)
	case sc.MaxBytes < 0:
		return fmt.Errorf("consumer: Stream.MaxBytes must be ≥ 0, got %d", sc.MaxBytes)
	case sc.DuplicateWindow < 0:
		return fmt.Errorf("consumer: Stream.DuplicateWindow must be ≥ 0, got %s", sc.DuplicateWindow)
	case sc.MaxAge > 0 && sc.DuplicateWindow > sc.MaxAge:
		return fmt.Errorf("consumer: Stream.DuplicateWindow %s must not exceed Stream.MaxAge %s", sc.DuplicateWindow, sc.MaxAge)
	case sc.Storage != jetstream.FileStorage && sc.Storage != jetstream.MemoryStorage:
		return fmt.Errorf("consumer: Stream.Storage must be file or memory, got %d", int(sc.Storage))
	}
	return nil
}

func (sc StreamConfig) jetstream() jetstream.StreamConfig {
	maxBytes := sc.MaxBytes
	if maxBytes == 0 {
		maxBytes = -1
	}
	return jetstream.StreamConfig{
		Name:       sc.Name,
		Subjects:   sc.Subjects,
		Retention:  jetstream.LimitsPolicy,
		Discard:    jetstream.DiscardOld,
		MaxAge:     sc.MaxAge,
		MaxBytes:   maxBytes,
		MaxMsgs:    -1,
		Duplicates: sc.DuplicateWindow,
		Storage:    sc.Storage,
		Replicas:   sc.Replicas,
	}
}

// Config configures a Consumer. Zero fields take the defaults noted on each.
type Config struct {
	// Stream is the stream to consume. Default NEWS on news.>.
	Stream StreamConfig
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
	// MaxMessageBytes is the largest accepted message payload in bytes;
	// larger ones are dead-lettered. Default 64 KiB.
	MaxMessageBytes int
	// DLQStream names the dead-letter stream, on subjects
	// DLQSubjectPrefix + ".>". Default "NEWS_DLQ".
	DLQStream string
	// DLQSubjectPrefix prefixes the dead-letter subject: prefix + "." +
	// original subject. Default "news-dlq".
	DLQSubjectPrefix string
}

func (c Config) withDefaults() Config {
	c.Stream = c.Stream.withDefaults()
	c.Durable = cmp.Or(c.Durable, DefaultDurable)
	c.AckWait = cmp.Or(c.AckWait, DefaultAckWait)
	c.MaxDeliver = cmp.Or(c.MaxDeliver, DefaultMaxDeliver)
	if len(c.BackOff) == 0 {
		c.BackOff = DefaultBackOff
	}
	c.MaxAckPending = cmp.Or(c.MaxAckPending, DefaultMaxAckPending)
	c.FetchBatch = cmp.Or(c.FetchBatch, min(DefaultFetchBatch, c.MaxAckPending))
	c.MaxMessageBytes = cmp.Or(c.MaxMessageBytes, news.DefaultMaxBytes)
	c.DLQStream = cmp.Or(c.DLQStream, DefaultDLQStream)
	c.DLQSubjectPrefix = cmp.Or(c.DLQSubjectPrefix, DefaultDLQSubjectPrefix)
	return c
}

// Validate reports the first invalid field, naming it and its value. New
// validates after applying defaults.
func (c Config) Validate() error {
	if err := c.Stream.Validate(); err != nil {
		return err
	}
	if err := validName("Durable", c.Durable); err != nil {
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
	case c.MaxMessageBytes < 1:
		return fmt.Errorf("consumer: MaxMessageBytes must be ≥ 1, got %d", c.MaxMessageBytes)
	}
	for i, d := range c.BackOff {
		if d <= 0 {
			return fmt.Errorf("consumer: BackOff[%d] must be > 0, got %s", i, d)
		}
	}
	if err := validName("DLQStream", c.DLQStream); err != nil {
		return err
	}
	if c.DLQStream == c.Stream.Name {
		return fmt.Errorf("consumer: DLQStream must differ from Stream.Name, both are %q", c.DLQStream)
	}
	if err := validSubject("DLQSubjectPrefix", c.DLQSubjectPrefix, false); err != nil {
		return err
	}
	for _, s := range c.Stream.Subjects {
		if subjectsOverlap(s, c.DLQSubjectPrefix+".>") {
			return fmt.Errorf("consumer: DLQSubjectPrefix %q overlaps Stream.Subjects %q: dead letters would be consumed again", c.DLQSubjectPrefix, s)
		}
	}
	return nil
}

func (c Config) dlqStream() StreamConfig {
	return StreamConfig{
		Name:     c.DLQStream,
		Subjects: []string{c.DLQSubjectPrefix + ".>"},
		Replicas: c.Stream.Replicas,
		Storage:  c.Stream.Storage,
	}.withDefaults()
}

// validName checks a stream or consumer name.
func validName(field, v string) error {
	if v == "" || strings.ContainsAny(v, " \t\r\n.*>/\\") {
		return fmt.Errorf("consumer: %s must be non-empty without spaces, '.', '*', '>', '/' or '\\', got %q", field, v)
	}
	return nil
}

// validSubject checks a subject; wildcards are allowed when wild is set.
func validSubject(field, v string, wild bool) error {
	if v == "" || strings.ContainsAny(v, " \t\r\n") {
		return fmt.Errorf("consumer: %s must be a subject without white space, got %q", field, v)
	}
	toks := strings.Split(v, ".")
	for i, t := range toks {
		switch {
		case t == "":
			return fmt.Errorf("consumer: %s has an empty token, got %q", field, v)
		case !wild && (t == "*" || t == ">"):
			return fmt.Errorf("consumer: %s must not contain wildcards, got %q", field, v)
		case t == ">" && i != len(toks)-1:
			return fmt.Errorf("consumer: %s may use '>' only as the last token, got %q", field, v)
		}
	}
	return nil
}

// subjectsOverlap reports whether some subject matches both patterns.
func subjectsOverlap(a, b string) bool {
	ta, tb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; ; i++ {
		switch {
		case i == len(ta) && i == len(tb):
			return true
		case i == len(ta) || i == len(tb):
			return false
		case ta[i] == ">" || tb[i] == ">":
			return true
		case ta[i] == "*" || tb[i] == "*" || ta[i] == tb[i]:
			continue
		default:
			return false
		}
	}
}
