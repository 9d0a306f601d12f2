package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/pflag"
	"go.uber.org/zap"

	"newsflow/internal/cli"
	"newsflow/internal/logging"
	"newsflow/internal/natsflag"
	"newsflow/internal/publish"
	"newsflow/internal/stream"
)

// commonFlags are the connection, stream and publishing flags of every
// subcommand.
type commonFlags struct {
	conn   natsflag.Conn
	stream natsflag.Stream

	subject        string
	maxInflight    int
	retryFor       time.Duration
	publishTimeout time.Duration
}

func (f *commonFlags) register(fs *pflag.FlagSet) {
	f.conn.Register(fs)
	f.stream.Register(fs)
	fs.StringVar(&f.subject, "subject", "", "publish every message to this subject; empty means news.ingest.<source> per message")
	fs.IntVar(&f.maxInflight, "max-inflight", publish.DefaultMaxInflight, "most messages published and not yet settled (retries included)")
	fs.DurationVar(&f.retryFor, "retry-for", publish.DefaultRetryFor, "how long to retry a message after a disconnect, timeout, no responders or leader election, with its Nats-Msg-Id; then it is checked once more at the end and counts as failed")
	fs.DurationVar(&f.publishTimeout, "publish-timeout", publish.DefaultAckTimeout, "how long to wait for JetStream's acknowledgement of one attempt before retrying it")
	cli.Config(fs, "Publishing", "subject", "max-inflight", "retry-for", "publish-timeout")
	cli.Positive(fs, "max-inflight", "publish-timeout")
	cli.NonNegative(fs, "retry-for")
}

// validate checks what the flags' rules (cli.Load) cannot: the stream and
// the subjects.
func (f *commonFlags) validate() error {
	if _, err := f.stream.Config(); err != nil {
		return usagef("%v", err)
	}
	subjects := listFlag(f.stream.SubjectList())
	for _, s := range subjects {
		if err := stream.ValidSubject("subject", s, true); err != nil {
			return usagef("invalid value %q for --subjects: %q is not a valid subject", f.stream.Subjects, s)
		}
	}
	// Every message must land in the stream, or each would time out with
	// "no responders" after its retries.
	if f.subject == "" {
		if probe := subjectFor("x", ""); !subjects.matches(probe) {
			return usagef("invalid value %q for --subjects: it does not capture the default subjects %s<source>; set --subject too",
				f.stream.Subjects, ingestPrefix)
		}
		return nil
	}
	if stream.ValidSubject("subject", f.subject, false) != nil {
		return usagef("invalid value %q for --subject: not a valid subject (no wildcards)", f.subject)
	}
	if !subjects.matches(f.subject) {
		return usagef("invalid value %q for --subject: stream %s on %s does not capture it", f.subject, f.stream.Name, f.stream.Subjects)
	}
	return nil
}

// engineConfig is the publish engine's part of the flags.
func (f *commonFlags) engineConfig() publish.Config {
	return publish.Config{MaxInflight: f.maxInflight, RetryFor: f.retryFor, AckTimeout: f.publishTimeout}
}

// connect dials NATS at --nats-url or, when that is empty, the embedded
// server a worker advertised in --data-dir, and ensures the stream.
func (f *commonFlags) connect(ctx context.Context, log *zap.Logger) (*nats.Conn, jetstream.JetStream, error) {
	nc, js, err := f.conn.JetStream(log, "newsflow-publisher", nats.ReconnectBufSize(64<<20))
	if err != nil {
		return nil, nil, err
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	sc, _ := f.stream.Config() // checked by validate
	if _, _, err := stream.Ensure(sctx, js, sc, f.stream.Update, log); err != nil {
		nc.Close()
		return nil, nil, err
	}
	log.Info("connected", zap.String("nats_url", natsflag.RedactURL(nc.ConnectedUrlRedacted())), zap.String("stream", sc.Name),
		zap.Strings("subjects", sc.Subjects), zap.Int("max_inflight", f.maxInflight), zap.Duration("retry_for", f.retryFor))
	return nc, js, nil
}

// session is what a publishing subcommand sets up first: its logger, the
// NATS connection and JetStream, with the stream ensured.
type session struct {
	log *zap.Logger
	nc  *nats.Conn
	js  jetstream.JetStream
}

// open builds the logger at default level def (cliLevel, or serviceLevel
// for a long-running command) and connects as connect does. The caller
// defers close.
func (f *commonFlags) open(ctx context.Context, e *env, def logging.Level) (*session, error) {
	log, err := newLogger(e, def)
	if err != nil {
		return nil, err
	}
	nc, js, err := f.connect(ctx, log)
	if err != nil {
		_ = log.Sync()
		return nil, err
	}
	return &session{log: log, nc: nc, js: js}, nil
}

// openEngine is open with a one-shot command's logger, plus a publish
// engine on the connection with the flags' settings: gen's and send's
// set-up. The caller closes the engine, then the session.
func (f *commonFlags) openEngine(ctx context.Context, e *env) (*session, *publish.Engine, error) {
	s, err := f.open(ctx, e, cliLevel)
	if err != nil {
		return nil, nil, err
	}
	p, err := publish.New(ctx, s.nc, f.engineConfig(), s.log)
	if err != nil {
		s.close()
		return nil, nil, err
	}
	return s, p, nil
}

// close closes the connection, then flushes the log.
func (s *session) close() {
	s.nc.Close()
	_ = s.log.Sync()
}

// listFlag is a comma-separated list of strings.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Type() string { return "strings" }

func (l *listFlag) Set(v string) error {
	*l = cli.SplitList(v)
	if len(*l) == 0 {
		return fmt.Errorf("empty list")
	}
	return nil
}

// matches reports whether any subject of l captures subject.
func (l listFlag) matches(subject string) bool {
	for _, f := range l {
		if stream.Matches(f, subject) {
			return true
		}
	}
	return false
}

// rateFlag is messages per second, written "500" or "500/s"; 0 means no limit.
type rateFlag float64

func (r *rateFlag) String() string { return strconv.FormatFloat(float64(*r), 'g', -1, 64) }

func (r *rateFlag) Type() string { return "rate" }

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
