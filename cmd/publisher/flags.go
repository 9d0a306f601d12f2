package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"newsflow/internal/consumer"
	"newsflow/internal/embedded"
)

// commonFlags are the connection, stream and publishing flags of every
// subcommand.
type commonFlags struct {
	natsURL string
	dataDir string

	stream          string
	subjects        listFlag
	duplicateWindow time.Duration
	storage         storageFlag
	replicas        int
	maxAge          time.Duration
	maxBytes        int64

	subject        string
	maxInflight    int
	maxRetries     int
	publishTimeout time.Duration
}

func (f *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.natsURL, "nats-url", "", "NATS server URL; empty means the embedded server of a worker running with the same --data-dir")
	fs.StringVar(&f.dataDir, "data-dir", "./data", "directory of the embedded mode's state, where a worker advertises its embedded NATS server (nats.url)")
	fs.StringVar(&f.stream, "stream", consumer.DefaultStream, "JetStream stream to publish to; created or updated with the flags below")
	f.subjects = listFlag{consumer.DefaultSubject}
	fs.Var(&f.subjects, "subjects", "comma-separated subjects the stream captures")
	fs.DurationVar(&f.duplicateWindow, "duplicate-window", consumer.DefaultDuplicateWindow, "how long the stream remembers Nats-Msg-Id values to drop re-publishes")
	f.storage = storageFlag(jetstream.FileStorage)
	fs.Var(&f.storage, "storage", "stream storage: file or memory")
	fs.IntVar(&f.replicas, "replicas", 1, "stream replicas (1 to 5)")
	fs.DurationVar(&f.maxAge, "max-age", 0, "discard stream messages older than this; 0 keeps them")
	fs.Int64Var(&f.maxBytes, "max-bytes", -1, "cap the stream at this many bytes, discarding the oldest; -1 means no limit")
	fs.StringVar(&f.subject, "subject", "", "publish every message to this subject; empty means news.ingest.<source> per message")
	fs.IntVar(&f.maxInflight, "max-inflight", 4096, "most messages published and not yet acknowledged by JetStream")
	fs.IntVar(&f.maxRetries, "max-retries", 5, "retries of a message after a timeout, no responders or a disconnect, with backoff; then it counts as failed")
	fs.DurationVar(&f.publishTimeout, "publish-timeout", 10*time.Second, "how long to wait for JetStream's acknowledgement of one message before retrying it")
}

// validate checks the values the flag package cannot.
func (f *commonFlags) validate() error {
	switch {
	case f.maxInflight < 1:
		return usagef("invalid value %d for --max-inflight: must be at least 1", f.maxInflight)
	case f.maxRetries < 0:
		return usagef("invalid value %d for --max-retries: must be at least 0", f.maxRetries)
	case f.publishTimeout <= 0:
		return usagef("invalid value %s for --publish-timeout: must be positive", f.publishTimeout)
	case f.replicas < 1 || f.replicas > 5:
		return usagef("invalid value %d for --replicas: must be 1 to 5", f.replicas)
	case f.maxAge < 0:
		return usagef("invalid value %s for --max-age: must not be negative", f.maxAge)
	case f.maxBytes < -1 || f.maxBytes == 0:
		return usagef("invalid value %d for --max-bytes: must be positive or -1", f.maxBytes)
	case f.duplicateWindow < 0:
		return usagef("invalid value %s for --duplicate-window: must not be negative", f.duplicateWindow)
	case len(f.subjects) == 0:
		return usagef("invalid value \"\" for --subjects: need at least one subject")
	}
	for _, s := range f.subjects {
		if !validSubject(s, true) {
			return usagef("invalid value %q for --subjects: %q is not a valid subject", f.subjects.String(), s)
		}
	}
	// Every message must land in the stream, or each would time out with
	// "no responders" after its retries.
	if f.subject == "" {
		if probe := subjectFor("x", ""); !f.subjects.matches(probe) {
			return usagef("invalid value %q for --subjects: it does not capture the default subjects %s<source>; set --subject too",
				f.subjects.String(), ingestPrefix)
		}
		return nil
	}
	if !validSubject(f.subject, false) {
		return usagef("invalid value %q for --subject: not a valid subject (no wildcards)", f.subject)
	}
	if !f.subjects.matches(f.subject) {
		return usagef("invalid value %q for --subject: stream %s on %s does not capture it", f.subject, f.stream, f.subjects.String())
	}
	return nil
}

func (f *commonFlags) streamConfig() consumer.StreamConfig {
	sc := consumer.StreamConfig{
		Name:            f.stream,
		Subjects:        f.subjects,
		Replicas:        f.replicas,
		MaxAge:          f.maxAge,
		DuplicateWindow: f.duplicateWindow,
		Storage:         jetstream.StorageType(f.storage),
	}
	if f.maxBytes > 0 {
		sc.MaxBytes = f.maxBytes
	}
	return sc
}

// connect dials NATS at --nats-url or, when that is empty, the embedded
// server a worker advertised in --data-dir, and ensures the stream.
func (f *commonFlags) connect(ctx context.Context, log *zap.Logger) (*nats.Conn, jetstream.JetStream, error) {
	u := f.natsURL
	if u == "" {
		var err error
		if u, err = embedded.DiscoverNATSURL(f.dataDir); err != nil {
			return nil, nil, err
		}
		log.Info("using embedded NATS server", zap.String("data_dir", f.dataDir))
	}
	nc, err := nats.Connect(u, nats.Name("newsflow-publisher"), nats.MaxReconnects(-1), nats.ReconnectBufSize(64<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("connect to NATS at %s: %w", redactURL(u), err)
	}
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(f.maxInflight),
		jetstream.WithPublishAsyncTimeout(f.publishTimeout))
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := consumer.EnsureStream(sctx, js, f.streamConfig()); err != nil {
		nc.Close()
		return nil, nil, err
	}
	log.Info("connected", zap.String("nats_url", redactURL(u)), zap.String("stream", f.stream),
		zap.Strings("subjects", f.subjects), zap.Int("max_inflight", f.maxInflight))
	return nc, js, nil
}

// redactURL hides the password of a connection URL, for logs and errors.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}

// listFlag is a comma-separated list of strings.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	*l = nil
	for s := range strings.SplitSeq(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	if len(*l) == 0 {
		return fmt.Errorf("empty list")
	}
	return nil
}

// matches reports whether any subject of l captures subject.
func (l listFlag) matches(subject string) bool {
	for _, f := range l {
		if subjectMatches(f, subject) {
			return true
		}
	}
	return false
}

// storageFlag is file or memory.
type storageFlag jetstream.StorageType

func (s *storageFlag) String() string {
	if jetstream.StorageType(*s) == jetstream.MemoryStorage {
		return "memory"
	}
	return "file"
}

func (s *storageFlag) Set(v string) error {
	switch v {
	case "file":
		*s = storageFlag(jetstream.FileStorage)
	case "memory":
		*s = storageFlag(jetstream.MemoryStorage)
	default:
		return fmt.Errorf("want file or memory")
	}
	return nil
}

// rateFlag is messages per second, written "500" or "500/s"; 0 means no limit.
type rateFlag float64

func (r *rateFlag) String() string { return strconv.FormatFloat(float64(*r), 'g', -1, 64) }

func (r *rateFlag) Set(v string) error {
	n, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), "/s"), 64)
	if err != nil || n < 0 {
		return fmt.Errorf("want messages per second, e.g. 500 or 500/s")
	}
	*r = rateFlag(n)
	return nil
}

// subjectToken turns a message source into one subject token: lower case,
// [a-z0-9_-] kept, every other character replaced by '_'.
func subjectToken(source string) string {
	var b strings.Builder
	b.Grow(len(source))
	for _, r := range strings.ToLower(source) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "unknown"
	}
	return b.String()
}

// ingestPrefix is where messages go by default: news.ingest.<source>.
const ingestPrefix = "news.ingest."

// subjectFor returns override if set, else news.ingest.<token of source>.
func subjectFor(source, override string) string {
	if override != "" {
		return override
	}
	return ingestPrefix + subjectToken(source)
}

// validSubject reports whether s is a well-formed subject; wildcards (* and
// a final >) only when wild.
func validSubject(s string, wild bool) bool {
	if s == "" {
		return false
	}
	toks := strings.Split(s, ".")
	for i, t := range toks {
		switch {
		case t == "" || strings.ContainsAny(t, " \t\r\n"):
			return false
		case t == "*" || t == ">":
			if !wild || (t == ">" && i != len(toks)-1) {
				return false
			}
		case strings.ContainsAny(t, "*>"):
			return false
		}
	}
	return true
}

// subjectMatches reports whether the filter (with * and > wildcards)
// captures subject.
func subjectMatches(filter, subject string) bool {
	ft, st := strings.Split(filter, "."), strings.Split(subject, ".")
	for i, f := range ft {
		if f == ">" {
			return len(st) > i
		}
		if i >= len(st) || (f != "*" && f != st[i]) {
			return false
		}
	}
	return len(ft) == len(st)
}
