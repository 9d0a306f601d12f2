// Package natsflag defines the command-line flags that the worker and the
// publisher share: how to reach NATS (a URL, or the embedded server a worker
// advertises in its data directory) and the shape of the news stream. One
// definition keeps the two commands' flag names, environment variables,
// defaults and checks identical, so one environment file configures both.
//
// It holds no state beyond the parsed values and is not safe for concurrent
// mutation; read it after flag parsing.
package natsflag

import (
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/pflag"
	"go.uber.org/zap"

	"newsflow/internal/cli"
	"newsflow/internal/embedded"
	"newsflow/internal/redact"
	"newsflow/internal/stream"
)

// Conn is the NATS connection flags: --nats-url and --data-dir.
type Conn struct {
	// URL is the NATS server; empty means the embedded server of a worker
	// running with the same DataDir.
	URL string
	// DataDir holds the embedded mode's state. Default "./data".
	DataDir string
}

// DefaultDataDir is --data-dir's default.
const DefaultDataDir = "./data"

// Register adds the flags to fs, as configuration in the group "Connections".
func (c *Conn) Register(fs *pflag.FlagSet) {
	fs.StringVar(&c.URL, "nats-url", "", "NATS server URL, or a comma-separated list; empty means the embedded server of a worker running with the same --data-dir")
	fs.StringVar(&c.DataDir, "data-dir", DefaultDataDir, "directory of the embedded mode's state (JetStream store, SQLite file, nats.url)")
	cli.Config(fs, "Connections", "nats-url", "data-dir")
	cli.Path(fs, "data-dir")
}

// Connect dials URL or, when it is empty, the embedded server a worker
// advertised in DataDir. name identifies the client to the server.
func (c *Conn) Connect(log *zap.Logger, name string, opts ...nats.Option) (*nats.Conn, error) {
	u := c.URL
	if u == "" {
		var err error
		if u, err = embedded.DiscoverNATSURL(c.DataDir); err != nil {
			return nil, err
		}
		log.Info("using embedded NATS server", zap.String("data_dir", c.DataDir))
	}
	opts = append([]nats.Option{nats.Name(name), nats.MaxReconnects(-1)}, opts...)
	nc, err := nats.Connect(u, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s (NATS_URL): %w", RedactURL(u), err)
	}
	return nc, nil
}

// JetStream is Connect followed by a JetStream context on the connection.
// On error nothing is left open; otherwise the caller closes the connection.
func (c *Conn) JetStream(log *zap.Logger, name string, opts ...nats.Option) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := c.Connect(log, name, opts...)
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	return nc, js, nil
}

// Stream is the stream flags; their defaults are package stream's.
type Stream struct {
	Name            string
	Subjects        string // comma-separated
	Replicas        int
	MaxAge          time.Duration
	MaxBytes        int64
	DuplicateWindow time.Duration
	Storage         string // file or memory
	Discard         string // old or new
	// Update applies these settings to an existing stream (and the
	// dead-letter stream) whose settings differ; otherwise they are only
	// used to create a missing one.
	Update bool
}

// Register adds the flags to fs, as configuration in the group "Stream".
func (s *Stream) Register(fs *pflag.FlagSet) {
	fs.StringVar(&s.Name, "stream", stream.DefaultName, "JetStream stream holding the news; created with the stream-* flags when missing")
	fs.StringVar(&s.Subjects, "subjects", stream.DefaultSubject, "comma-separated subjects the stream captures")
	fs.IntVar(&s.Replicas, "stream-replicas", stream.DefaultReplicas, "stream replicas in a NATS cluster")
	fs.DurationVar(&s.MaxAge, "stream-max-age", 0, "discard stream messages older than this; 0 keeps them")
	fs.Int64Var(&s.MaxBytes, "stream-max-bytes", 0, "cap the stream at this many bytes (see --stream-discard); 0 is unlimited")
	fs.StringVar(&s.Discard, "stream-discard", "old", "at the stream's limits: old drops the oldest messages (workers report what they never got), new refuses new ones (publishers report them failed)")
	fs.BoolVar(&s.Update, "stream-update", false, "apply the stream-* flags to an existing stream (and dead-letter stream) whose settings differ; without it the differences are logged and the stream's own settings stay")
	fs.DurationVar(&s.DuplicateWindow, "duplicate-window", stream.DefaultDuplicateWindow, "how long the stream remembers Nats-Msg-Id values to drop re-publishes")
	fs.StringVar(&s.Storage, "stream-storage", "file", "stream storage: file or memory")
	cli.Config(fs, "Stream", "stream", "subjects", "stream-replicas", "stream-max-age", "stream-max-bytes", "stream-discard",
		"stream-update", "duplicate-window", "stream-storage")
	cli.AtLeast(fs, "1", "stream-replicas")
	cli.AtMost(fs, "5", "stream-replicas")
	cli.NonNegative(fs, "stream-max-age", "stream-max-bytes", "duplicate-window")
}

// SubjectList returns Subjects split on commas.
func (s *Stream) SubjectList() []string { return cli.SplitList(s.Subjects) }

// Config returns the stream configuration, or an error naming the flag and
// value that is out of range.
func (s *Stream) Config() (stream.Config, error) {
	var st jetstream.StorageType
	switch s.Storage {
	case "file", "":
		st = jetstream.FileStorage
	case "memory":
		st = jetstream.MemoryStorage
	default:
		return stream.Config{}, fmt.Errorf("invalid value %q for --stream-storage: want file or memory", s.Storage)
	}
	var discard jetstream.DiscardPolicy
	switch s.Discard {
	case "old", "":
		discard = jetstream.DiscardOld
	case "new":
		discard = jetstream.DiscardNew
	default:
		return stream.Config{}, fmt.Errorf("invalid value %q for --stream-discard: want old or new", s.Discard)
	}
	switch {
	case s.Replicas < 1 || s.Replicas > 5:
		return stream.Config{}, fmt.Errorf("invalid value %d for --stream-replicas: must be 1 to 5", s.Replicas)
	case s.MaxAge < 0:
		return stream.Config{}, fmt.Errorf("invalid value %s for --stream-max-age: must not be negative", s.MaxAge)
	case s.MaxBytes < 0:
		return stream.Config{}, fmt.Errorf("invalid value %d for --stream-max-bytes: must not be negative (0 is unlimited)", s.MaxBytes)
	case s.DuplicateWindow < 0:
		return stream.Config{}, fmt.Errorf("invalid value %s for --duplicate-window: must not be negative", s.DuplicateWindow)
	case len(s.SubjectList()) == 0:
		return stream.Config{}, fmt.Errorf("invalid value %q for --subjects: need at least one subject", s.Subjects)
	}
	sc := stream.Config{Name: s.Name, Subjects: s.SubjectList(), Replicas: s.Replicas, MaxAge: s.MaxAge,
		MaxBytes: s.MaxBytes, Discard: discard, DuplicateWindow: s.DuplicateWindow, Storage: st}
	if err := sc.Validate(); err != nil {
		return stream.Config{}, err
	}
	return sc, nil
}

// RedactURL hides the passwords and tokens of a connection URL or URL
// list, for logs and errors; it is redact.String.
func RedactURL(raw string) string { return redact.String(raw) }
