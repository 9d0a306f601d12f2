package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.uber.org/zap"

	"newsflow/internal/cli"
	"newsflow/internal/feed"
	"newsflow/internal/natsflag"
	"newsflow/internal/telemetry"
)

// defaultFeedsHTTPAddr is where `publisher feeds` serves /metrics,
// /healthz and /readyz (the worker uses 8081).
const defaultFeedsHTTPAddr = "127.0.0.1:8082"

// feedsFlags are the values of `publisher feeds`, parsed; runFeedsWith
// works from them alone.
type feedsFlags struct {
	common       commonFlags
	files        fileList
	bucket       string
	httpAddr     string
	once         bool
	maxFeedBytes int64
	fetchTimeout time.Duration
	poll         feed.Config
}

// register declares the flags of `publisher feeds` on fs.
func (f *feedsFlags) register(fs *pflag.FlagSet) {
	f.common.register(fs)
	f.poll = feed.DefaultConfig()
	fs.Var(&f.files, "feeds", "feed list: one URL a line (optionally followed by a source name; # comments) or OPML; repeat the flag for several files (the variable takes a comma-separated list)")
	fs.StringVar(&f.bucket, "feeds-bucket", feed.DefaultBucket, "JetStream KV bucket holding every feed's state and lease, shared by all replicas")
	fs.StringVar(&f.httpAddr, "http-addr", defaultFeedsHTTPAddr, "address of /metrics, /healthz and /readyz; empty: none")
	fs.BoolVar(&f.once, "once", false, "poll every feed once, whatever its schedule, print a summary and exit")
	fs.Int64Var(&f.maxFeedBytes, "max-feed-bytes", feed.DefaultMaxFeedBytes, "largest feed body accepted, after decompression")
	fs.DurationVar(&f.fetchTimeout, "fetch-timeout", feed.DefaultFetchTimeout, "time limit of one fetch, redirects included")
	fs.DurationVar(&f.poll.MinInterval, "min-interval", feed.DefaultMinInterval, "shortest interval between polls of a feed")
	fs.DurationVar(&f.poll.MaxInterval, "max-interval", feed.DefaultMaxInterval, "longest interval between polls of a healthy feed")
	fs.DurationVar(&f.poll.MaxBackoff, "max-backoff", feed.DefaultMaxBackoff, "longest wait before polling a failing feed again")
	fs.DurationVar(&f.poll.LeaseTTL, "lease-ttl", feed.DefaultLeaseTTL, "how long a replica's lease on a feed lasts unrenewed; a dead replica's feeds move to the others within it")
	fs.IntVar(&f.poll.Concurrency, "concurrency", feed.DefaultConcurrency, "most polls in progress")
	fs.IntVar(&f.poll.PerHost, "per-host", feed.DefaultPerHost, "most polls in progress against one host")
	cli.Config(fs, "Feeds", "feeds", "feeds-bucket", "max-feed-bytes", "fetch-timeout", "min-interval", "max-interval",
		"max-backoff", "lease-ttl", "concurrency", "per-host")
	cli.Config(fs, "Telemetry", "http-addr")
	cli.Options(fs, "once")
	cli.Positive(fs, "max-feed-bytes", "fetch-timeout", "min-interval", "max-interval", "max-backoff", "concurrency", "per-host")
	cli.AtLeast(fs, feed.MinLeaseTTL.String(), "lease-ttl")
}

// validate checks what the flags' rules (cli.Load) cannot.
func (f *feedsFlags) validate() error {
	if len(f.files) == 0 {
		return usagef("no feed list: give --feeds FILE (one URL a line, or OPML), or NEWSFLOW_FEEDS")
	}
	if err := f.poll.Validate(); err != nil {
		return usagef("%s", strings.TrimPrefix(err.Error(), "feed: "))
	}
	if telemetry.ValidBucket(f.bucket) != nil {
		return usagef("invalid value %q for --feeds-bucket: use letters, digits, - and _", f.bucket)
	}
	return f.common.validate()
}

// fileList is a repeatable file flag; a comma-separated value (from the
// environment) names several files.
type fileList []string

func (l *fileList) String() string { return strings.Join(*l, ",") }

func (l *fileList) Type() string { return "files" }

func (l *fileList) Set(v string) error {
	files := cli.SplitList(v)
	if len(files) == 0 {
		return errors.New("empty file name")
	}
	*l = append(*l, files...)
	return nil
}

// newFeedsCmd is "publisher feeds" and its "status".
func newFeedsCmd(e *env) *cobra.Command {
	var f feedsFlags
	cmd := &cobra.Command{
		Use:   "feeds --feeds FILE [--feeds FILE...] [--once] [flags]",
		Short: "poll RSS, Atom and JSON Feed sources and publish each new item once",
		Long: "Polls RSS, Atom and JSON Feed sources with conditional GETs and publishes each new item once, as a\n" +
			"news message to news.ingest.<source>. Any number of replicas share the feeds through a JetStream KV\n" +
			"bucket: a feed is polled only by the replica holding its lease.",
		Args: cli.NoArgs,
	}
	f.register(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := f.validate(); err != nil {
			return err
		}
		return runFeedsWith(cmd.Context(), f, e)
	}
	cmd.AddCommand(newFeedsStatusCmd(e))
	return cmd
}

// loadSources reads every feed list; a URL in several lists keeps its first entry.
func loadSources(files []string) ([]feed.Source, error) {
	var all []feed.Source
	for _, name := range files {
		fh, err := os.Open(name)
		if err != nil {
			return nil, usagef("--feeds: %v", err)
		}
		srcs, err := feed.ParseList(name, fh)
		_ = fh.Close()
		if err != nil {
			return nil, usagef("%v", err)
		}
		all = append(all, srcs...)
	}
	all = feed.Dedupe(all)
	if len(all) == 0 {
		return nil, usagef("--feeds: no feed URL in %s", strings.Join(files, ", "))
	}
	return all, nil
}

// runFeedsWith runs the poller over parsed flags until ctx ends (or once).
func runFeedsWith(ctx context.Context, f feedsFlags, e *env) error {
	srcs, err := loadSources(f.files)
	if err != nil {
		return err
	}
	s, err := f.common.open(ctx, e, serviceLevel)
	if err != nil {
		return err
	}
	defer s.close()
	log, nc, js := s.log, s.nc, s.js
	store, err := feed.OpenStore(ctx, js, f.bucket)
	if err != nil {
		return err
	}
	pub, err := feed.NewEnginePublisher(ctx, nc, f.common.engineConfig(), func(source string) string {
		return subjectFor(source, f.common.subject)
	}, log)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	p, err := feed.New(f.poll, srcs, store, feed.NewFetcher(f.maxFeedBytes, f.fetchTimeout, nil), pub, reg, log)
	if err != nil {
		return usagef("%v", err)
	}
	if f.once {
		start := time.Now()
		sum, err := p.Once(ctx)
		pub.Close()
		fmt.Fprintf(e.stdout, "feeds %d, new %d, unchanged %d, not modified %d, errors %d, skipped %d, polled elsewhere %d, items published %d, %s\n",
			sum.Feeds, sum.New, sum.Unchanged, sum.NotModified, sum.Errors, sum.Skipped, sum.Elsewhere, sum.Items, time.Since(start).Round(time.Millisecond))
		if err != nil {
			return fmt.Errorf("interrupted: %w", err)
		}
		if sum.Errors+sum.Skipped > 0 {
			return fmt.Errorf("%d feeds failed and %d were skipped (see the log, or publisher feeds status)", sum.Errors, sum.Skipped)
		}
		return nil
	}
	// The server stops with the poller, also when the poller fails first.
	sctx, stopServer := context.WithCancel(ctx)
	defer stopServer()
	srvDone := make(chan error, 1)
	if f.httpAddr != "" {
		srv := telemetry.NewServer(f.httpAddr, reg, log)
		srv.AddCheck("nats", telemetry.NATSCheck(nc))
		srv.AddCheck("feeds_bucket", telemetry.PingCheck(store.Ping))
		if err := srv.Listen(); err != nil {
			return err
		}
		go func() { srvDone <- srv.Run(sctx) }()
	} else {
		close(srvDone)
	}
	err = p.Run(ctx)
	stopServer()
	c := pub.Close()
	log.Info("feeds stopped", zap.Int64("published", c.Published), zap.Int64("failed", c.Failed))
	if serr := <-srvDone; err == nil {
		err = serr
	}
	return err
}

// newFeedsStatusCmd is "publisher feeds status [--json]".
func newFeedsStatusCmd(e *env) *cobra.Command {
	var (
		conn   natsflag.Conn
		bucket string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "status [--json]",
		Short: "every feed's state: last success, last error, next poll, items, errors in a row, lease holder",
		Args:  cli.NoArgs,
	}
	fs := cmd.Flags()
	conn.Register(fs)
	fs.StringVar(&bucket, "feeds-bucket", feed.DefaultBucket, "JetStream KV bucket holding the feeds' state")
	fs.BoolVar(&asJSON, "json", false, "one JSON object per feed and line instead of a table")
	cli.Config(fs, "Feeds", "feeds-bucket")
	cli.Options(fs, "json")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return feedsStatus(cmd.Context(), conn, bucket, asJSON, e)
	}
	return cmd
}

// feedsStatus prints the state of every feed in bucket.
func feedsStatus(ctx context.Context, conn natsflag.Conn, bucket string, asJSON bool, e *env) error {
	log, err := newLogger(e, cliLevel)
	if err != nil {
		return err
	}
	nc, js, err := conn.JetStream(log, "newsflow-publisher-status")
	if err != nil {
		return err
	}
	defer nc.Close()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := js.KeyValue(cctx, bucket); errors.Is(err, jetstream.ErrBucketNotFound) {
		return fmt.Errorf("no feed state: KV bucket %s does not exist (run publisher feeds first, or set --feeds-bucket)", bucket)
	}
	store, err := feed.OpenStore(cctx, js, bucket)
	if err != nil {
		return err
	}
	states, err := store.All(cctx)
	if err != nil {
		return err
	}
	return printFeedStatus(e.stdout, states, asJSON, time.Now())
}

// feedStatus is one line of `publisher feeds status --json`.
type feedStatus struct {
	*feed.State
	Seen      int    `json:"seen"` // keys in the seen set (the set itself is not printed)
	Key       string `json:"key"`
	LeaseLive bool   `json:"lease_live"`
}

// printFeedStatus writes states sorted by URL, as a table or JSON lines.
func printFeedStatus(w io.Writer, states []*feed.State, asJSON bool, now time.Time) error {
	sortStates(states)
	if asJSON {
		enc := json.NewEncoder(w)
		for _, st := range states {
			seen := len(st.Seen)
			c := *st
			c.Seen, c.URL = nil, feed.Redact(st.URL)
			if err := enc.Encode(feedStatus{State: &c, Seen: seen, Key: feed.FeedKey(st.URL),
				LeaseLive: st.Leased(now)}); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FEED\tNAME\tLAST SUCCESS\tNEXT POLL\tITEMS\tERRORS\tHOLDER\tLAST ERROR")
	for _, st := range states {
		holder := "-"
		if st.Leased(now) {
			holder = st.Holder
		}
		lastErr := "-"
		if st.Errors > 0 {
			lastErr = st.LastError
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", feed.Redact(st.URL), orDash(st.Name), ago(st.LastSuccess, now),
			until(st.NextPoll, now), st.Items, st.Errors, holder, lastErr)
	}
	return tw.Flush()
}

func sortStates(s []*feed.State) {
	slices.SortFunc(s, func(a, b *feed.State) int { return strings.Compare(a.URL, b.URL) })
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func ago(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return now.Sub(t).Round(time.Second).String() + " ago"
}

func until(t, now time.Time) string {
	if !t.After(now) {
		return "due"
	}
	return "in " + t.Sub(now).Round(time.Second).String()
}
