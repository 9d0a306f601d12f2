// Command bench is newsflow's end-to-end benchmark. It runs the real worker
// binary against the loopback NATS, Postgres (and Redis) and reports:
//
//   - throughput: a stream prefilled with --messages ~1 KiB messages is
//     drained by 1, then 2 worker processes; msgs/s from the first fetch to
//     the last commit, transactions, peak RSS and CPU seconds per worker;
//   - latency: one worker under a steady offered load (--latency-rate msgs/s
//     for --latency-seconds), publish-to-commit p50/p99 per message;
//   - the LLM stage (--llm): a local fake OpenAI-compatible provider that
//     charges a fixed latency plus latency per uncached input token and per
//     output token, caps concurrency, enforces a requests-per-minute limit
//     and models prompt caching; reposts; the shared Redis cache. Run once
//     per --llm-k stories per call: msgs/s, requests per unique story,
//     billed input and output tokens per story, share of stories retried
//     alone, cache hits per tier, tokens saved, worker peak RSS.
//
// Every phase runs on its own stream, durable, Postgres schema and Redis
// prefix, removed afterwards. Usage: go run ./bench [flags] (see --help).
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"newsflow/bench/internal/publish"
	"newsflow/internal/cache"
	"newsflow/internal/enrich"
	"newsflow/internal/gen"
	"newsflow/internal/llm/llmtest"
	"newsflow/internal/news"
	"newsflow/internal/stream"
	"newsflow/internal/workerproc"
)

type config struct {
	natsURL, dbURL, redisURL string
	messages, bodyBytes      int
	workers                  string
	dup                      float64
	provider                 string
	latencyRate              int
	latencySeconds           int
	llm                      bool
	llmOnly                  bool
	llmMessages              int
	llmLatency               time.Duration
	llmConcurrency           int
	llmReposts               float64
	llmK                     string
	llmRPM                   int
	llmInToken, llmOutToken  time.Duration
	llmCachedDiscount        float64
	llmDropShare             float64
	heapProfile              string
	workerEnv                string
	embedded                 bool
	embeddedOnly             bool
	embeddedMessages         int
	embeddedProviders        string
	verbose                  bool
	cpuProfile               string
	nearDup                  bool
	nearDupStories           int
	nearDupRounds            int
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	var c config
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.StringVar(&c.natsURL, "nats-url", "nats://127.0.0.1:4222", "NATS server")
	fs.StringVar(&c.dbURL, "database-url", "postgres://root@127.0.0.1:5432/test?sslmode=disable", "Postgres database (a schema per phase is created and dropped)")
	fs.StringVar(&c.redisURL, "redis-url", "redis://127.0.0.1:6379/0", "Redis for the LLM phase's shared cache (a key prefix per run)")
	fs.IntVar(&c.messages, "messages", 200000, "messages prefilled for the throughput phase")
	fs.IntVar(&c.bodyBytes, "body-bytes", 1024, "approximate body size")
	fs.StringVar(&c.workers, "workers", "1,2", "worker process counts to run the throughput phase with")
	fs.Float64Var(&c.dup, "dup-content", 0.15, "share of reposted stories in the throughput phase")
	fs.StringVar(&c.provider, "llm-provider", "none", "LLM_PROVIDER of the throughput and latency phases (none: pure ingestion; offline: the offline enricher)")
	fs.IntVar(&c.latencyRate, "latency-rate", 5000, "offered load of the latency phase, msgs/s; 0 skips the phase")
	fs.IntVar(&c.latencySeconds, "latency-seconds", 15, "duration of the latency phase")
	fs.BoolVar(&c.llm, "llm", false, "also run the LLM-stage phase with a fake provider")
	fs.BoolVar(&c.llmOnly, "llm-only", false, "run only the LLM-stage phase")
	fs.IntVar(&c.llmMessages, "llm-messages", 1500, "messages of each LLM phase")
	fs.DurationVar(&c.llmLatency, "llm-latency", 100*time.Millisecond, "fixed latency of each fake provider call")
	fs.DurationVar(&c.llmInToken, "llm-latency-input-token", 20*time.Microsecond, "fake provider latency per uncached input token")
	fs.DurationVar(&c.llmOutToken, "llm-latency-output-token", time.Millisecond, "fake provider latency per output token")
	fs.IntVar(&c.llmRPM, "llm-rpm", 600, "the fake provider's requests-per-minute limit (the worker's --llm-rpm is set to 95 % of it); 0: none")
	fs.IntVar(&c.llmConcurrency, "llm-concurrency", 16, "the fake provider's concurrency cap (and the worker's --llm-concurrency)")
	fs.Float64Var(&c.llmReposts, "llm-reposts", 0.3, "share of reposts in the LLM phase")
	fs.StringVar(&c.llmK, "llm-k", "1,4,8,16", "stories per LLM call (--llm-stories-per-call) to run the LLM phase with, comma-separated")
	fs.Float64Var(&c.llmDropShare, "llm-drop-share", 0, "share of stories the fake leaves out of a multi-story answer (each is then asked for alone)")
	fs.Float64Var(&c.llmCachedDiscount, "llm-cached-discount", 0.5, "discount on cached input tokens for the billed figure (OpenAI gpt-4o-mini: 0.5)")
	fs.StringVar(&c.heapProfile, "heapprofile", "", "write a heap profile of the worker at the end of each LLM phase to this file (suffixed -k<K>)")
	fs.BoolVar(&c.embedded, "embedded", false, "also run the embedded phase: one worker with its in-process NATS server and SQLite (no NATS_URL, DATABASE_URL), with each of --embedded-providers")
	fs.BoolVar(&c.embeddedOnly, "embedded-only", false, "run only the embedded phase")
	fs.IntVar(&c.embeddedMessages, "embedded-messages", 100000, "messages prefilled for the embedded phase")
	fs.StringVar(&c.embeddedProviders, "embedded-providers", "none,offline", "LLM_PROVIDER values the embedded phase runs with, in order")
	fs.StringVar(&c.workerEnv, "worker-env", "", "extra worker environment, comma-separated KEY=VALUE (e.g. NEWSFLOW_COMMITTERS=6)")
	fs.BoolVar(&c.verbose, "v", false, "mirror the workers' logs to stderr")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the (first) worker during the 1-worker throughput phase to this file, and of the embedded phase's worker to this file plus .none and .offline")
	fs.BoolVar(&c.nearDup, "near-dup", false, "run only the near-duplicate phases: quality on the labelled corpus, then the 1-worker throughput with --near-dup off and on (Redis index), --near-dup-rounds times each")
	fs.IntVar(&c.nearDupStories, "near-dup-stories", 1000, "stories with variants in the near-duplicate corpus")
	fs.IntVar(&c.nearDupRounds, "near-dup-rounds", 2, "throughput runs with near-dup off and on, alternating")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.llmOnly {
		c.llm = true
	}
	if c.embeddedOnly {
		c.embedded = true
	}

	root, err := workerproc.ModuleRoot()
	if err != nil {
		return err
	}
	binDir, err := os.MkdirTemp("", "newsflow-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(binDir)
	fmt.Println("building the worker ...")
	workerBin, _, err := workerproc.Build(ctx, root, binDir)
	if err != nil {
		return err
	}
	nc, err := nats.Connect(c.natsURL, nats.Name("newsflow-bench"))
	if err != nil {
		return fmt.Errorf("connect to NATS at %s: %w", c.natsURL, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return err
	}
	b := &bench{cfg: c, js: js, workerBin: workerBin, binDir: binDir}
	cpus, _ := os.ReadFile("/proc/cpuinfo")
	fmt.Printf("machine: %d CPUs (%s)\n", strings.Count(string(cpus), "processor\t:"), cpuModel(string(cpus)))

	defer b.printSummary()
	if c.nearDup {
		return b.nearDupPhases(ctx)
	}
	if !c.llmOnly && !c.embeddedOnly {
		for _, w := range strings.Split(c.workers, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(w))
			if err != nil || n < 1 {
				return fmt.Errorf("--workers: bad count %q", w)
			}
			if err := b.throughput(ctx, n, ""); err != nil {
				return err
			}
		}
		if c.latencyRate > 0 {
			if err := b.latency(ctx); err != nil {
				return err
			}
		}
	}
	if c.llm && !c.embeddedOnly {
		var lines []string
		for _, ks := range strings.Split(c.llmK, ",") {
			k, err := strconv.Atoi(strings.TrimSpace(ks))
			if err != nil || k < 1 {
				return fmt.Errorf("--llm-k: bad count %q", ks)
			}
			line, err := b.llmStage(ctx, k)
			if err != nil {
				return err
			}
			lines = append(lines, line)
		}
		fmt.Printf("\n| K | msgs/s | requests per unique story | billed input tokens per story (no discount / %.0f %% off cached) | output tokens per story | retried alone | 429s | worker peak RSS MB |\n|---|---|---|---|---|---|---|---|\n",
			100*c.llmCachedDiscount)
		for _, l := range lines {
			fmt.Println(l)
		}
	}
	if c.embedded && !c.llmOnly {
		for _, provider := range strings.Split(c.embeddedProviders, ",") {
			if err := b.embeddedPhase(ctx, strings.TrimSpace(provider)); err != nil {
				return err
			}
		}
	}
	return nil
}

func cpuModel(cpuinfo string) string {
	for _, l := range strings.Split(cpuinfo, "\n") {
		if strings.HasPrefix(l, "model name") {
			if _, v, ok := strings.Cut(l, ":"); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	return "unknown"
}

type bench struct {
	cfg       config
	js        jetstream.JetStream
	workerBin string
	binDir    string
	results   []phaseResult
}

// phase is one isolated run: its stream, durable, schema and the env that
// points workers at them.
type phase struct {
	name, subject, schema, dsn string
	env                        []string
	cleanup                    []func()
}

func (b *bench) newPhase(ctx context.Context, label string) (*phase, error) {
	var r [4]byte
	_, _ = rand.Read(r[:])
	suffix := hex.EncodeToString(r[:])
	p := &phase{name: "BENCH_" + strings.ToUpper(label) + "_" + suffix, schema: "bench_" + label + "_" + suffix}
	lower := strings.ToLower(p.name)
	p.subject = lower + ".ingest.bench"
	if _, _, err := stream.Ensure(ctx, b.js, stream.Config{Name: p.name, Subjects: []string{lower + ".>"}}, false, nil); err != nil {
		return nil, err
	}
	p.cleanup = append(p.cleanup, func() {
		_ = b.js.DeleteStream(context.Background(), p.name)
		_ = b.js.DeleteStream(context.Background(), p.name+"_DLQ")
	})
	if err := execSQL(ctx, b.cfg.dbURL, "CREATE SCHEMA "+p.schema); err != nil {
		p.close()
		return nil, err
	}
	p.cleanup = append(p.cleanup, func() { _ = execSQL(context.Background(), b.cfg.dbURL, "DROP SCHEMA IF EXISTS "+p.schema+" CASCADE") })
	u, err := url.Parse(b.cfg.dbURL)
	if err != nil {
		p.close()
		return nil, fmt.Errorf("--database-url: %w", err)
	}
	q := u.Query()
	q.Set("search_path", p.schema)
	q.Set("application_name", p.name) // tells the phase's backends from others' (foreignBackends)
	u.RawQuery = q.Encode()
	p.dsn = u.String()
	p.env = []string{
		"NATS_URL=" + b.cfg.natsURL, "DATABASE_URL=" + p.dsn,
		"NEWSFLOW_STREAM=" + p.name, "NEWSFLOW_SUBJECTS=" + lower + ".>", "NEWSFLOW_CONSUMER=" + p.name,
		"NEWSFLOW_DLQ_STREAM=" + p.name + "_DLQ", "NEWSFLOW_DLQ_SUBJECT_PREFIX=" + lower + "-dlq",
		"NEWSFLOW_HTTP_ADDR=127.0.0.1:0", "NEWSFLOW_DATA_DIR=" + b.binDir,
	}
	p.env = append(p.env, b.extraEnv()...)
	return p, nil
}

// extraEnv is --worker-env as KEY=VALUE entries.
func (b *bench) extraEnv() []string {
	var out []string
	for _, kv := range strings.Split(b.cfg.workerEnv, ",") {
		if kv = strings.TrimSpace(kv); kv != "" {
			out = append(out, kv)
		}
	}
	return out
}

func (p *phase) close() {
	for _, f := range slices.Backward(p.cleanup) {
		f()
	}
}

// withConn runs f on a short-lived connection to dsn.
func withConn(ctx context.Context, dsn string, f func(*pgx.Conn) error) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connect to Postgres: %w", err)
	}
	defer conn.Close(context.Background())
	return f(conn)
}

func execSQL(ctx context.Context, dsn, sql string) error {
	return withConn(ctx, dsn, func(conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, sql)
		return err
	})
}

// publish sends msgs on the bench's connection; see publish.Messages.
func (b *bench) publish(ctx context.Context, subject string, msgs []news.Message, rate int) ([]time.Time, error) {
	return publish.Messages(ctx, b.js, subject, msgs, rate)
}

func generate(seed int64, n int, dup float64, bodyBytes int, prefix string) ([]news.Message, gen.Stats, error) {
	g, err := gen.New(gen.Config{Seed: seed, DupContent: dup, BodyBytes: bodyBytes, IDPrefix: prefix})
	if err != nil {
		return nil, gen.Stats{}, err
	}
	msgs := make([]news.Message, n)
	for i := range msgs {
		msgs[i] = g.Next()
	}
	return msgs, g.Stats(), nil
}

func (b *bench) startWorkers(p *phase, n int, extraEnv ...string) ([]*workerproc.Proc, error) {
	var mirror io.Writer
	if b.cfg.verbose {
		mirror = os.Stderr
	}
	procs := make([]*workerproc.Proc, 0, n)
	for range n {
		pr, err := workerproc.Start(b.workerBin, []string{"run"}, append(slices.Clone(p.env), extraEnv...), time.Minute, mirror)
		if err != nil {
			for _, q := range procs {
				q.Kill()
			}
			return nil, err
		}
		procs = append(procs, pr)
	}
	return procs, nil
}

// waitDrained polls the consumer until nothing is pending or unacked, then
// checks the database holds rows rows. It polls only JetStream while work
// flows: counting rows would make Postgres scan the table under the
// benchmark.
func (b *bench) waitDrained(ctx context.Context, p *phase, rows int64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var state string
	for time.Now().Before(deadline) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c, err := b.js.Consumer(ctx, p.name, p.name)
		if err == nil {
			if info, err := c.Info(ctx); err == nil {
				state = fmt.Sprintf("pending %d, ack pending %d", info.NumPending, info.NumAckPending)
				if info.NumPending == 0 && info.NumAckPending == 0 && info.Delivered.Stream > 0 {
					n, err := countRows(ctx, p.dsn)
					if err != nil {
						return err
					}
					if n == rows {
						return nil
					}
					state += fmt.Sprintf(", %d rows of %d", n, rows)
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("not drained within %s: %s", timeout, state)
}

// commitPercentile returns when the fraction q of the rows had committed
// (ingested_at is taken as each batch's commit begins).
func commitPercentile(ctx context.Context, dsn string, q float64) (t time.Time, err error) {
	err = withConn(ctx, dsn, func(conn *pgx.Conn) error {
		return conn.QueryRow(ctx, "SELECT percentile_disc($1::float8) WITHIN GROUP (ORDER BY ingested_at) FROM articles", q).Scan(&t)
	})
	return t, err
}

func countRows(ctx context.Context, dsn string) (n int64, err error) {
	err = withConn(ctx, dsn, func(conn *pgx.Conn) error {
		return conn.QueryRow(ctx, "SELECT count(*) FROM articles").Scan(&n)
	})
	return n, err
}

// stopAll stops the workers with SIGTERM and reports any warning or error
// they logged, so that an anomalous figure comes with its reason.
func stopAll(procs []*workerproc.Proc) ([]workerproc.Result, error) {
	out := make([]workerproc.Result, len(procs))
	for i, p := range procs {
		r, err := p.Stop(time.Minute)
		if err != nil {
			return nil, err
		}
		if r.ExitCode != 0 {
			return nil, fmt.Errorf("worker exited %d; log tail:\n%s", r.ExitCode, tail(p.Log(), 15))
		}
		var warnings []string
		for _, line := range strings.Split(p.Log(), "\n") {
			if strings.Contains(line, `"level":"warn"`) || strings.Contains(line, `"level":"error"`) {
				warnings = append(warnings, line)
			}
		}
		if len(warnings) > 0 {
			fmt.Printf("worker %d logged %d warnings/errors, the first:\n  %s\n", i+1, len(warnings), warnings[0])
		}
		out[i] = r
	}
	return out, nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// servers returns the NATS and Postgres servers the bench drives, for the
// throughput phase's CPU accounting.
func (b *bench) servers() []serverGroup {
	return []serverGroup{
		findServer("nats-server", portOf(b.cfg.natsURL, 4222)),
		findServer("postgres", portOf(b.cfg.dbURL, 5432)),
		findServer("redis-server", portOf(b.cfg.redisURL, 6379)),
	}
}

// cpuPer returns the CPU per message of the workers and of each server
// found (µs).
func cpuPer(workers float64, servers []serverGroup, before, after []cpuSample, n int) []procCPU {
	out := []procCPU{{"worker", workers / float64(n) * 1e6}}
	for i, g := range servers {
		if g.pid != 0 {
			out = append(out, procCPU{g.name, cpuBetween(before[i], after[i]) / float64(n) * 1e6})
		}
	}
	return out
}

// cpuLine formats cpuPer's figures, and names the servers not found.
func cpuLine(cpu []procCPU, servers []serverGroup) string {
	parts := make([]string, 0, len(cpu)+len(servers))
	for _, c := range cpu {
		parts = append(parts, fmt.Sprintf("%s %.1f", c.name, c.usPerMsg))
	}
	for _, g := range servers {
		if g.pid == 0 {
			parts = append(parts, fmt.Sprintf("%s n/a (no process seen listening on port %d)", g.name, g.port))
		}
	}
	return strings.Join(parts, ", ")
}

// sampleAll samples every server group, leaving out the Postgres backends
// that do not serve phase p's workers (foreignBackends).
func (b *bench) sampleAll(ctx context.Context, p *phase, servers []serverGroup) []cpuSample {
	skip := foreignBackends(ctx, p.dsn, p.name)
	out := make([]cpuSample, len(servers))
	for i, g := range servers {
		out[i] = g.sample(skip)
	}
	return out
}

func summaryTime(r workerproc.Result, key string) (time.Time, bool) {
	s, ok := r.Summary[key].(string)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

func summaryNum(r workerproc.Result, key string) float64 {
	v, _ := r.Summary[key].(float64)
	return v
}

// throughput prefills the stream and measures workers draining it. label,
// when set, names the run in the summary, and extraEnv goes to the workers.
func (b *bench) throughput(ctx context.Context, workers int, label string, extraEnv ...string) error {
	p, err := b.newPhase(ctx, fmt.Sprintf("tp%d", workers))
	if err != nil {
		return err
	}
	defer p.close()
	msgs, st, err := generate(int64(workers), b.cfg.messages, b.cfg.dup, b.cfg.bodyBytes, p.name)
	if err != nil {
		return err
	}
	fmt.Printf("\n## throughput, %d worker(s): prefilling %d messages (%d unique stories) ...\n", workers, len(msgs), st.Unique)
	t0 := time.Now()
	if _, err := b.publish(ctx, p.subject, msgs, 0); err != nil {
		return err
	}
	fmt.Printf("prefill: %.0f msgs/s\n", float64(len(msgs))/time.Since(t0).Seconds())
	servers := b.servers()
	srv0 := b.sampleAll(ctx, p, servers) // the workers start after this: all their CPU counts
	env := append([]string{"LLM_PROVIDER=" + b.cfg.provider, "NEWSFLOW_LAG_INTERVAL=0s"}, extraEnv...)
	var profileDone chan error
	if b.cfg.cpuProfile != "" && workers == 1 {
		port, err := freePort()
		if err != nil {
			return err
		}
		env = append(env, "NEWSFLOW_PPROF=true", fmt.Sprintf("NEWSFLOW_HTTP_ADDR=127.0.0.1:%d", port))
		profileDone = make(chan error, 1)
		go func() {
			profileDone <- fetchProfile(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=5", port), b.cfg.cpuProfile)
		}()
	}
	procs, err := b.startWorkers(p, workers, env...)
	if err != nil {
		return err
	}
	if err := b.waitDrained(ctx, p, int64(len(msgs)), 10*time.Minute); err != nil {
		for _, pr := range procs {
			pr.Kill()
		}
		return err
	}
	cpu1, srv1 := procsCPU(procs), b.sampleAll(ctx, p, servers)
	if profileDone != nil {
		if err := <-profileDone; err != nil {
			fmt.Println("cpu profile:", err)
		} else {
			fmt.Println("cpu profile written to", b.cfg.cpuProfile)
		}
	}
	res, err := stopAll(procs)
	if err != nil {
		return err
	}
	var first, last time.Time
	var txs, msgsDone float64
	fmt.Println("| worker | messages | transactions | msgs/s (own) | peak RSS MB | CPU s |")
	fmt.Println("|---|---|---|---|---|---|")
	for i, r := range res {
		f, ok1 := summaryTime(r, "first_fetch")
		l, ok2 := summaryTime(r, "last_commit")
		if ok1 && (first.IsZero() || f.Before(first)) {
			first = f
		}
		if ok2 && l.After(last) {
			last = l
		}
		txs += summaryNum(r, "batches")
		msgsDone += summaryNum(r, "messages")
		fmt.Printf("| %d | %.0f | %.0f | %.0f | %.1f | %.2f |\n", i+1, summaryNum(r, "messages"), summaryNum(r, "batches"),
			summaryNum(r, "msgs_per_second"), float64(r.MaxRSSBytes)/(1<<20), r.CPUSeconds)
	}
	if first.IsZero() || !last.After(first) {
		return errors.New("workers reported no first fetch / last commit")
	}
	// Steady state: the rate until 99 % of the rows committed. The last
	// percent can include a partial batch per worker waiting out
	// --batch-wait once the finite backlog runs dry, which is the batcher
	// working as designed, not throughput.
	t99, err := commitPercentile(ctx, p.dsn, 0.99)
	if err != nil {
		return err
	}
	rate := 0.99 * msgsDone / t99.Sub(first).Seconds()
	fmt.Printf("RESULT throughput workers=%d messages=%d msgs_per_s=%.0f (steady state: first fetch → 99 %% committed %.2fs) drain_msgs_per_s=%.0f (first fetch → last commit %.2fs) transactions=%.0f\n",
		workers, len(msgs), rate, t99.Sub(first).Seconds(),
		msgsDone/last.Sub(first).Seconds(), last.Sub(first).Seconds(), txs)
	cpu := cpuPer(cpu1, servers, srv0, srv1, len(msgs))
	fmt.Printf("CPU during the run (µs per message): %s\n", cpuLine(cpu, servers))
	b.record(fmt.Sprintf("throughput, %d worker(s), Postgres, LLM_PROVIDER=%s%s", workers, b.cfg.provider, label), rate, cpu)
	gap, at, err := longestPause(ctx, p.dsn)
	if err != nil {
		return err
	}
	fmt.Printf("longest pause between commits: %.3fs, %.2fs after the first fetch\n", gap.Seconds(), at.Sub(first).Seconds())
	return nil
}

// longestPause returns the longest time between two consecutive batches'
// commit times (ingested_at) and when it began, so that a run slowed by a
// stall tells so, and when, instead of only showing a lower rate.
func longestPause(ctx context.Context, dsn string) (gap time.Duration, at time.Time, err error) {
	err = withConn(ctx, dsn, func(conn *pgx.Conn) error {
		return conn.QueryRow(ctx, `SELECT coalesce(max(next - t), '0'), coalesce((array_agg(t ORDER BY next - t DESC))[1], now())
			FROM (SELECT t, lead(t) OVER (ORDER BY t) AS next FROM (SELECT DISTINCT ingested_at AS t FROM articles) d) g
			WHERE next IS NOT NULL`).Scan(&gap, &at)
	})
	return gap, at, err
}

func (b *bench) latency(ctx context.Context) error {
	p, err := b.newPhase(ctx, "lat")
	if err != nil {
		return err
	}
	defer p.close()
	n := b.cfg.latencyRate * b.cfg.latencySeconds
	msgs, _, err := generate(99, n, b.cfg.dup, b.cfg.bodyBytes, p.name)
	if err != nil {
		return err
	}
	fmt.Printf("\n## latency: 1 worker, offered load %d msgs/s for %ds ...\n", b.cfg.latencyRate, b.cfg.latencySeconds)
	procs, err := b.startWorkers(p, 1, "LLM_PROVIDER="+b.cfg.provider, "NEWSFLOW_LAG_INTERVAL=0s")
	if err != nil {
		return err
	}
	servers := b.servers()
	cpu0, srv0 := procsCPU(procs), b.sampleAll(ctx, p, servers)
	sent, err := b.publish(ctx, p.subject, msgs, b.cfg.latencyRate)
	if err == nil {
		err = b.waitDrained(ctx, p, int64(n), 5*time.Minute)
	}
	if err != nil {
		procs[0].Kill()
		return err
	}
	cpu1, srv1 := procsCPU(procs), b.sampleAll(ctx, p, servers)
	res, err := stopAll(procs)
	if err != nil {
		return err
	}
	committed, err := ingestTimes(ctx, p.dsn)
	if err != nil {
		return err
	}
	lat := make([]float64, 0, n)
	for i, m := range msgs {
		if at, ok := committed[m.ID]; ok {
			lat = append(lat, at.Sub(sent[i]).Seconds()*1000)
		}
	}
	slices.Sort(lat)
	q := func(f float64) float64 { return lat[min(len(lat)-1, int(f*float64(len(lat))))] }
	fmt.Printf("RESULT latency rate=%d messages=%d p50_ms=%.1f p90_ms=%.1f p99_ms=%.1f max_ms=%.1f worker_rss_mb=%.1f worker_cpu_s=%.2f\n",
		b.cfg.latencyRate, len(lat), q(0.50), q(0.90), q(0.99), lat[len(lat)-1], float64(res[0].MaxRSSBytes)/(1<<20), res[0].CPUSeconds)
	cpu := cpuPer(cpu1-cpu0, servers, srv0, srv1, n)
	fmt.Printf("CPU during the run (µs per message; the server figures include the bench's publishing): %s\n", cpuLine(cpu, servers))
	b.record(fmt.Sprintf("latency, %d msgs/s offered, Postgres, LLM_PROVIDER=%s", b.cfg.latencyRate, b.cfg.provider), float64(n)/time.Duration(b.cfg.latencySeconds*int(time.Second)).Seconds(), cpu)
	return nil
}

// ingestTimes reads when each row's transaction committed. ingested_at is
// taken just before the commit; the commit itself adds a few milliseconds.
func ingestTimes(ctx context.Context, dsn string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	err := withConn(ctx, dsn, func(conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, "SELECT id, ingested_at FROM articles")
		if err != nil {
			return err
		}
		for rows.Next() {
			var id string
			var at time.Time
			if err := rows.Scan(&id, &at); err != nil {
				return err
			}
			out[id] = at
		}
		return rows.Err()
	})
	return out, err
}

// shim lets the llmtest fake run outside a test.
type shim struct{ cleanups []func() }

func (*shim) Helper()            {}
func (s *shim) Cleanup(f func()) { s.cleanups = append(s.cleanups, f) }
func (s *shim) close() {
	for _, f := range slices.Backward(s.cleanups) {
		f()
	}
}

// llmStage runs one LLM phase at k stories per call and returns its table row.
func (b *bench) llmStage(ctx context.Context, k int) (string, error) {
	p, err := b.newPhase(ctx, fmt.Sprintf("llm%d", k))
	if err != nil {
		return "", err
	}
	defer p.close()
	t := &shim{}
	defer t.close()
	fake := llmtest.NewOpenAIServer(t, llmtest.Options{Latency: b.cfg.llmLatency, MaxConcurrent: b.cfg.llmConcurrency, Queue: true,
		LatencyPerInputToken: b.cfg.llmInToken, LatencyPerOutputToken: b.cfg.llmOutToken, RequestsPerMinute: b.cfg.llmRPM,
		OverloadRetryAfter: "1", DropShare: b.cfg.llmDropShare})
	prefix := "bench-" + strings.ToLower(p.name) + ":"
	rdb, err := redisClient(b.cfg.redisURL)
	if err != nil {
		return "", err
	}
	defer func() {
		deleteKeys(context.Background(), rdb, prefix)
		_ = rdb.Close()
	}()
	msgs, st, err := generate(7, b.cfg.llmMessages, b.cfg.llmReposts, b.cfg.bodyBytes, p.name)
	if err != nil {
		return "", err
	}
	reposts := float64(st.Reposts) / float64(len(msgs))
	fmt.Printf("\n## LLM stage, %d stories per call: %d messages, %d unique stories (%.0f %% reposts), fake provider %s + %s per input token + %s per output token, %d at once, %d requests/min, %.1f %% of stories left out of multi-story answers ...\n",
		k, len(msgs), st.Unique, 100*reposts, b.cfg.llmLatency, b.cfg.llmInToken, b.cfg.llmOutToken, b.cfg.llmConcurrency, b.cfg.llmRPM, 100*b.cfg.llmDropShare)
	if _, err := b.publish(ctx, p.subject, msgs, 0); err != nil {
		return "", err
	}
	port, err := freePort()
	if err != nil {
		return "", err
	}
	env := []string{"LLM_PROVIDER=openai", "OPENAI_BASE_URL=" + fake.URL, "OPENAI_API_KEY=" + fake.APIKey(),
		"REDIS_URL=" + b.cfg.redisURL, "NEWSFLOW_CACHE_PREFIX=" + prefix, fmt.Sprintf("NEWSFLOW_LLM_CONCURRENCY=%d", b.cfg.llmConcurrency),
		fmt.Sprintf("NEWSFLOW_LLM_STORIES_PER_CALL=%d", k), fmt.Sprintf("NEWSFLOW_LLM_RPM=%d", b.cfg.llmRPM*95/100),
		fmt.Sprintf("NEWSFLOW_HTTP_ADDR=127.0.0.1:%d", port), "NEWSFLOW_LAG_INTERVAL=0s"}
	if b.cfg.heapProfile != "" {
		env = append(env, "NEWSFLOW_PPROF=true")
	}
	procs, err := b.startWorkers(p, 1, env...)
	if err != nil {
		return "", err
	}
	servers := b.servers()
	cpu0, srv0 := procsCPU(procs), b.sampleAll(ctx, p, servers)
	if err := b.waitDrained(ctx, p, int64(len(msgs)), 20*time.Minute); err != nil {
		procs[0].Kill()
		return "", err
	}
	cpu1, srv1 := procsCPU(procs), b.sampleAll(ctx, p, servers)
	metrics, err := scrape(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		procs[0].Kill()
		return "", err
	}
	if b.cfg.heapProfile != "" {
		path := fmt.Sprintf("%s-k%d", b.cfg.heapProfile, k)
		if err := fetchProfile(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/heap", port), path); err != nil {
			fmt.Println("heap profile:", err)
		}
	}
	res, err := stopAll(procs)
	if err != nil {
		return "", err
	}
	r := res[0]
	first, _ := summaryTime(r, "first_fetch")
	last, _ := summaryTime(r, "last_commit")
	secs := last.Sub(first).Seconds()
	hitsMem, hitsRedis := metrics[cacheHits("memory")], metrics[cacheHits("redis")]
	unique := float64(st.Unique)
	in, out := fake.Tokens()
	cached := fake.CachedTokens()
	alone := metrics["newsflow_llm_stories_retried_alone_total"]
	rpmBound := math.Inf(1)
	if b.cfg.llmRPM > 0 {
		rpmBound = float64(k) * float64(b.cfg.llmRPM) / 60 / (1 - reposts)
	}
	rssMB := float64(r.MaxRSSBytes) / (1 << 20)
	billed := float64(in) / unique
	billedDisc := (float64(in) - b.cfg.llmCachedDiscount*float64(cached)) / unique
	fmt.Printf("RESULT llm k=%d messages=%d unique=%d requests=%d requests_per_unique=%.3f msgs_per_s=%.1f request_limit_bound_msgs_per_s=%.1f input_tokens_per_story=%.0f billed_input_tokens_per_story_cached_discount=%.0f cached_share=%.1f%% output_tokens_per_story=%.0f retried_alone=%.0f retried_alone_share=%.2f%% rate_limited_429=%d cache_hits_memory=%.0f cache_hits_redis=%.0f batch_dedupe_saved=%.0f singleflight_saved=%.0f tokens_used=%.0f tokens_saved=%.0f worker_peak_rss_mb=%.1f\n",
		k, len(msgs), st.Unique, fake.Calls(), float64(fake.Calls())/unique, float64(len(msgs))/secs, rpmBound,
		billed, billedDisc, 100*float64(cached)/max(1, float64(in)), float64(out)/unique, alone, 100*alone/unique, fake.RateLimited(),
		hitsMem, hitsRedis, metrics[callsSaved("batch")], metrics[callsSaved("singleflight")],
		summaryNum(r, "llm_tokens"), summaryNum(r, "llm_tokens_saved"), rssMB)
	cpu := cpuPer(cpu1-cpu0, servers, srv0, srv1, len(msgs))
	fmt.Printf("CPU during the run (µs per message; the fake provider runs in the bench): %s\n", cpuLine(cpu, servers))
	b.record(fmt.Sprintf("LLM stage, %d stories per call, fake OpenAI provider, Postgres, Redis", k), float64(len(msgs))/secs, cpu)
	return fmt.Sprintf("| %d | %.1f (bound %.1f) | %.3f | %.0f / %.0f | %.0f | %.2f %% | %d | %.1f |", k, float64(len(msgs))/secs, rpmBound,
		float64(fake.Calls())/unique, billed, billedDisc, float64(out)/unique, 100*alone/unique, fake.RateLimited(), rssMB), nil
}

// deleteKeys deletes the keys under prefix, best effort.
func deleteKeys(ctx context.Context, rdb *redis.Client, prefix string) {
	var cursor uint64
	for {
		keys, next, err := rdb.Scan(ctx, cursor, prefix+"*", 1000).Result()
		if err != nil {
			return
		}
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
		if cursor = next; cursor == 0 {
			return
		}
	}
}

func redisClient(u string) (*redis.Client, error) {
	opt, err := redis.ParseURL(u)
	if err != nil {
		return nil, fmt.Errorf("--redis-url: %w", err)
	}
	return redis.NewClient(opt), nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// fetchProfile waits for the worker's pprof endpoint, then saves a CPU
// profile from it.
func fetchProfile(u, path string) error {
	var resp *http.Response
	var err error
	for range 100 {
		if resp, err = http.Get(u); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond) // the worker is still starting
	}
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}

// scrape reads a Prometheus text exposition into "name{labels}" → value.
func scrape(u string) (map[string]float64, error) {
	resp, err := http.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out, nil
}

// cacheHits is scrape's key of the cache hits of tier (memory, redis).
func cacheHits(tier string) string {
	return fmt.Sprintf("%s{%s=%q}", cache.MetricHits, cache.LabelTier, tier)
}

// callsSaved is scrape's key of the LLM calls avoided by (batch, cache,
// singleflight).
func callsSaved(by string) string { return fmt.Sprintf("%s{by=%q}", enrich.MetricCallsSaved, by) }
