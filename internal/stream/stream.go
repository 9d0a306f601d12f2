// Package stream is the JetStream contract every newsflow program shares: the
// news stream and the dead-letter stream (their configuration and creation),
// the header names of a dead letter, and the subject checks. The publisher
// creates the stream, the worker's consumer creates both streams and writes
// dead letters, and `worker dlq` reads them; all of them take the names from
// here.
//
// It holds no state; its functions are safe for concurrent use.
package stream

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// Defaults of Config and of the dead-letter stream.
const (
	// DefaultName is the news stream.
	DefaultName = "NEWS"
	// DefaultSubject is what the news stream captures.
	DefaultSubject = "news.>"
	// DefaultReplicas is the stream's copies in a cluster.
	DefaultReplicas = 1
	// DefaultDuplicateWindow is how long the stream remembers Nats-Msg-Id values.
	DefaultDuplicateWindow = 2 * time.Minute
	// DefaultDLQName is the dead-letter stream.
	DefaultDLQName = "NEWS_DLQ"
	// DefaultDLQSubjectPrefix prefixes a dead letter's subject: prefix + "." + original subject.
	DefaultDLQSubjectPrefix = "news-dlq"
)

// Headers of a dead letter. The consumer writes them; `worker dlq` reads them.
const (
	// HeaderError holds the reason the message was dead-lettered.
	HeaderError = "Newsflow-Error"
	// HeaderStreamSeq holds the message's sequence in the original stream.
	HeaderStreamSeq = "Newsflow-Stream-Seq"
	// HeaderDeliveries holds how often the message had been delivered.
	HeaderDeliveries = "Newsflow-Deliveries"
	// HeaderOriginalSubject holds the subject the message was published to.
	HeaderOriginalSubject = "Newsflow-Original-Subject"
	// HeaderOriginalMsgID holds the publisher's Nats-Msg-Id, when it set one;
	// the dead letter's own Nats-Msg-Id deduplicates dead-lettering.
	HeaderOriginalMsgID = "Newsflow-Original-Msg-Id"
	// HeaderReplayOf is set on a replayed message: "<dlq stream>:<dlq seq>".
	HeaderReplayOf = "Newsflow-Replay-Of"
)

// Config describes a JetStream stream with limits retention, discarding the
// oldest messages at its limits.
type Config struct {
	// Name of the stream. Default DefaultName.
	Name string
	// Subjects the stream captures. Default [DefaultSubject].
	Subjects []string
	// Replicas is the number of copies in a cluster, 1 to 5. Default DefaultReplicas.
	Replicas int
	// MaxAge discards messages older than this; 0: no limit.
	MaxAge time.Duration
	// MaxBytes caps the stream's size in bytes; 0: no limit.
	MaxBytes int64
	// Discard is what the stream does at its limits: jetstream.DiscardOld
	// (the zero value) removes the oldest messages, which workers then
	// report as discarded; jetstream.DiscardNew refuses new ones, which
	// publishers report as failed.
	Discard jetstream.DiscardPolicy
	// DuplicateWindow is how long JetStream remembers Nats-Msg-Id values to
	// drop re-publishes. Default DefaultDuplicateWindow (capped at MaxAge when
	// that is shorter); 0 in a Config passed to Ensure takes that default.
	DuplicateWindow time.Duration
	// Storage is file (the zero value, jetstream.FileStorage) or memory.
	Storage jetstream.StorageType
}

// DefaultConfig returns the news stream's default configuration.
func DefaultConfig() Config {
	return Config{Name: DefaultName, Subjects: []string{DefaultSubject}, Replicas: DefaultReplicas,
		DuplicateWindow: DefaultDuplicateWindow}
}

// WithDefaults fills the fields that have no meaning at zero (Name,
// Subjects, Replicas, DuplicateWindow) with their defaults.
func (c Config) WithDefaults() Config {
	c.Name = cmp.Or(c.Name, DefaultName)
	if len(c.Subjects) == 0 {
		c.Subjects = []string{DefaultSubject}
	}
	c.Replicas = cmp.Or(c.Replicas, DefaultReplicas)
	if c.DuplicateWindow == 0 {
		c.DuplicateWindow = DefaultDuplicateWindow
		if c.MaxAge > 0 && c.MaxAge < c.DuplicateWindow {
			c.DuplicateWindow = c.MaxAge
		}
	}
	return c
}

// Validate reports the first invalid field, naming it and its value.
func (c Config) Validate() error {
	if err := ValidName("Stream.Name", c.Name); err != nil {
		return err
	}
	if len(c.Subjects) == 0 {
		return fmt.Errorf("stream: Stream.Subjects must not be empty")
	}
	for _, s := range c.Subjects {
		if err := ValidSubject("Stream.Subjects", s, true); err != nil {
			return err
		}
	}
	switch {
	case c.Replicas < 1 || c.Replicas > 5:
		return fmt.Errorf("stream: Stream.Replicas must be 1 to 5, got %d", c.Replicas)
	case c.MaxAge < 0:
		return fmt.Errorf("stream: Stream.MaxAge must be ≥ 0, got %s", c.MaxAge)
	case c.MaxBytes < 0:
		return fmt.Errorf("stream: Stream.MaxBytes must be ≥ 0, got %d", c.MaxBytes)
	case c.DuplicateWindow < 0:
		return fmt.Errorf("stream: Stream.DuplicateWindow must be ≥ 0, got %s", c.DuplicateWindow)
	case c.MaxAge > 0 && c.DuplicateWindow > c.MaxAge:
		return fmt.Errorf("stream: Stream.DuplicateWindow %s must not exceed Stream.MaxAge %s", c.DuplicateWindow, c.MaxAge)
	case c.Discard != jetstream.DiscardOld && c.Discard != jetstream.DiscardNew:
		return fmt.Errorf("stream: Stream.Discard must be old or new, got %d", int(c.Discard))
	case c.Storage != jetstream.FileStorage && c.Storage != jetstream.MemoryStorage:
		return fmt.Errorf("stream: Stream.Storage must be file or memory, got %d", int(c.Storage))
	}
	return nil
}

// JetStream returns the server-side configuration of c.
func (c Config) JetStream() jetstream.StreamConfig {
	maxBytes := c.MaxBytes
	if maxBytes == 0 {
		maxBytes = -1
	}
	return jetstream.StreamConfig{
		Name:       c.Name,
		Subjects:   c.Subjects,
		Retention:  jetstream.LimitsPolicy,
		Discard:    c.Discard,
		MaxAge:     c.MaxAge,
		MaxBytes:   maxBytes,
		MaxMsgs:    -1,
		Duplicates: c.DuplicateWindow,
		Storage:    c.Storage,
		Replicas:   c.Replicas,
	}
}

// Ensure creates the stream described by c when it is missing. An existing
// stream whose settings differ keeps them and the differences are logged,
// unless update is set: then it is updated to c (see Apply). Fields without
// meaning at zero take their defaults (WithDefaults). It returns the
// differences it found, applied or not.
func Ensure(ctx context.Context, js jetstream.JetStream, c Config, update bool, log *zap.Logger) (jetstream.Stream, []Difference, error) {
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return nil, nil, err
	}
	return Apply(ctx, js, c.JetStream(), update, log)
}

// DLQ is where dead letters of one stream go: stream Name on subjects
// SubjectPrefix + ".>".
type DLQ struct {
	// Name of the dead-letter stream. Default DefaultDLQName.
	Name string
	// SubjectPrefix prefixes a dead letter's subject. Default DefaultDLQSubjectPrefix.
	SubjectPrefix string
}

// DefaultDLQ returns the default dead-letter stream.
func DefaultDLQ() DLQ { return DLQ{Name: DefaultDLQName, SubjectPrefix: DefaultDLQSubjectPrefix} }

// WithDefaults fills empty fields with their defaults.
func (d DLQ) WithDefaults() DLQ {
	d.Name = cmp.Or(d.Name, DefaultDLQName)
	d.SubjectPrefix = cmp.Or(d.SubjectPrefix, DefaultDLQSubjectPrefix)
	return d
}

// Subject is the dead-letter subject of a message published to subject.
func (d DLQ) Subject(subject string) string { return d.SubjectPrefix + "." + subject }

// Validate checks d against the stream of, whose messages it takes: the
// names differ and no dead-letter subject is captured by the stream (it
// would be consumed again).
func (d DLQ) Validate(of Config) error {
	if err := ValidName("DLQStream", d.Name); err != nil {
		return err
	}
	if d.Name == of.Name {
		return fmt.Errorf("stream: DLQStream must differ from Stream.Name, both are %q", d.Name)
	}
	if err := ValidSubject("DLQSubjectPrefix", d.SubjectPrefix, false); err != nil {
		return err
	}
	for _, s := range of.Subjects {
		if server.SubjectsCollide(s, d.SubjectPrefix+".>") {
			return fmt.Errorf("stream: DLQSubjectPrefix %q overlaps Stream.Subjects %q: dead letters would be consumed again", d.SubjectPrefix, s)
		}
	}
	return nil
}

// Config returns the dead-letter stream's configuration: replicas and
// storage as the stream of, no limits.
func (d DLQ) Config(of Config) Config {
	return Config{Name: d.Name, Subjects: []string{d.SubjectPrefix + ".>"}, Replicas: of.Replicas, Storage: of.Storage}.WithDefaults()
}

// ValidName checks a stream or consumer name; field names it in the error.
func ValidName(field, v string) error {
	if v == "" || strings.ContainsAny(v, " \t\r\n.*>/\\") {
		return fmt.Errorf("stream: %s must be non-empty without spaces, '.', '*', '>', '/' or '\\', got %q", field, v)
	}
	return nil
}

// ValidSubject checks a subject; wildcards are allowed when wild is set.
// field names it in the error.
func ValidSubject(field, v string, wild bool) error {
	switch {
	case !server.IsValidSubject(v):
		return fmt.Errorf("stream: %s must be a subject of non-empty tokens without white space, '>' only last, got %q", field, v)
	case !wild && !server.IsValidLiteralSubject(v):
		return fmt.Errorf("stream: %s must not contain wildcards, got %q", field, v)
	}
	return nil
}

// Collide reports whether some subject matches both patterns.
func Collide(a, b string) bool { return server.SubjectsCollide(a, b) }

// Matches reports whether subject is captured by filter (with * and >
// wildcards).
func Matches(filter, subject string) bool { return server.SubjectMatchesFilter(subject, filter) }
