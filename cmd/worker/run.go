package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"newsflow/internal/cache"
	"newsflow/internal/consumer"
	"newsflow/internal/embedded"
	"newsflow/internal/enrich"
	"newsflow/internal/envflag"
	"newsflow/internal/llm"
	"newsflow/internal/natsflag"
	"newsflow/internal/news"
	"newsflow/internal/store"
	"newsflow/internal/telemetry"
	"newsflow/internal/worker"
)

func init() {
	register("run", "consume, enrich and commit news (the worker)", cmdRun)
}

func cmdRun(ctx context.Context, args []string, e env) error {
	fs := flag.NewFlagSet("worker run", flag.ContinueOnError)
	fs.SetOutput(e.stdout)
	var c runConfig
	c.register(fs)
	fs.Usage = envflag.Usage(fs, "worker run [flags]")
	if err := envflag.Parse(fs, args, e.getenv); err != nil {
		return err
	}
	if err := c.validate(); err != nil {
		return err
	}
	return runWorker(ctx, &c, e.log)
}

// runWorker builds the stages, runs the pipeline until ctx ends, then shuts
// down in order: the pipeline drains (stop fetching, commit and ack the open
// batches), then clients close in reverse order of creation, NATS last.
func runWorker(ctx context.Context, c *runConfig, log *zap.Logger) (err error) {
	start := time.Now()
	reg := prometheus.NewRegistry()
	httpSrv := telemetry.NewServer(c.httpAddr, reg, log)
	httpSrv.Pprof = c.pprof
	if err := httpSrv.Listen(); err != nil {
		return fmt.Errorf("listen on --http-addr %s: %w", c.httpAddr, err)
	}

	// NATS: the configured server, or an embedded one.
	url := c.conn.URL
	var emb *embedded.NATS
	if url == "" {
		emb, err = embedded.StartNATS(embedded.NATSConfig{DataDir: c.conn.DataDir}, log)
		if err != nil {
			return fmt.Errorf("start embedded NATS server: %w", err)
		}
		defer emb.Shutdown()
		url = emb.URL()
		log.Info("NATS_URL unset: running an embedded NATS server", zap.String("url", url), zap.String("data_dir", c.conn.DataDir))
	}
	closed := make(chan struct{})
	conn := natsflag.Conn{URL: url}
	nc, err := conn.Connect(log, "newsflow-worker", nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil on a deliberate close
				log.Warn("NATS disconnected, reconnecting", zap.Error(err))
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { log.Info("NATS reconnected") }),
		nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
	if err != nil {
		return err
	}
	defer func() {
		// Drain flushes the last acks; wait for it to finish closing.
		if derr := nc.Drain(); derr != nil && !errors.Is(derr, nats.ErrConnectionClosed) {
			log.Warn("NATS drain", zap.Error(derr))
		}
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			log.Warn("NATS drain did not finish within 5s")
		}
	}()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}

	// Database: Postgres, or SQLite in the data dir.
	st, err := store.Open(ctx, c.databaseURL, c.conn.DataDir, c.poolConfig(), false, log, reg)
	if err != nil {
		return err
	}
	defer st.Close()
	if c.migrate {
		if err := st.Migrate(ctx); err != nil {
			return fmt.Errorf("migrate database: %w", err)
		}
	}

	// Enrichment: LLM client behind the two-tier cache.
	enr, client, tiered, closeEnrich, err := buildEnricher(c, log, reg)
	if err != nil {
		return err
	}
	defer closeEnrich()

	cons, err := consumer.New(ctx, js, c.consumerConfig(), log, reg)
	if err != nil {
		return fmt.Errorf("set up stream %s and consumer %s: %w", c.stream.Name, c.durable, err)
	}
	defer cons.Close()

	var gate worker.Gate
	var pipelineEnricher worker.Enricher
	if enr != nil {
		pipelineEnricher, gate = enr, client
	}
	w, err := worker.New(c.workerConfig(), cons, st, pipelineEnricher, gate, log, reg)
	if err != nil {
		return err
	}

	httpSrv.AddCheck("nats", telemetry.NATSCheck(nc))
	httpSrv.AddCheck("database", telemetry.PingCheck(st.Ping))
	httpSrv.AddCheck("redis", func(context.Context) telemetry.CheckResult {
		switch {
		case tiered == nil || c.redisURL == "":
			return telemetry.CheckResult{Status: telemetry.StatusOK, Detail: "not configured: in-process cache only"}
		case tiered.Degraded():
			return telemetry.CheckResult{Status: telemetry.StatusDegraded, Detail: "unreachable: running on the in-process cache"}
		}
		return telemetry.CheckResult{Status: telemetry.StatusOK}
	})
	httpSrv.AddCheck("llm", func(context.Context) telemetry.CheckResult {
		if client != nil && client.BreakerOpen() {
			return telemetry.CheckResult{Status: telemetry.StatusDown, Detail: "circuit breaker open: LLM failing"}
		}
		return telemetry.CheckResult{Status: telemetry.StatusOK}
	})

	bg, stopBg := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBg()
	httpDone := make(chan error, 1)
	go func() { httpDone <- httpSrv.Run(bg) }()
	defer func() {
		stopBg()
		if herr := <-httpDone; herr != nil {
			log.Warn("http server", zap.Error(herr))
		}
	}()
	if c.lagInterval > 0 {
		meter, err := telemetry.NewLagMeter(js, telemetry.LagConfig{Stream: c.stream.Name, Consumer: c.durable, Target: c.lagTarget, MaxReplicas: c.maxReplicas})
		if err != nil {
			return err
		}
		poller, err := telemetry.NewPoller(meter, c.lagInterval, log, reg)
		if err != nil {
			return err
		}
		go func() { _ = poller.Run(bg) }()
	}
	go logProgress(bg, log, w, enr)

	log.Info("worker start",
		zap.String("stream", c.stream.Name), zap.String("consumer", c.durable),
		zap.Int("batch_size", c.batchSize), zap.Int("batch_bytes", c.batchBytes), zap.Duration("batch_wait", c.batchWait),
		zap.Int("committers", c.committers), zap.Duration("ack_wait", c.ackWait), zap.Int("max_deliver", c.maxDeliver),
		zap.String("llm_model", modelName(client)), zap.Stringer("http_addr", httpSrv.Addr()))
	runErr := w.Run(ctx)
	logSummary(log, w, enr, time.Since(start))
	return runErr
}

// buildEnricher returns the enrichment stage, or nil for --llm-provider none.
func buildEnricher(c *runConfig, log *zap.Logger, reg prometheus.Registerer) (*enrich.Enricher, *llm.Client, *cache.Tiered, func(), error) {
	name := c.llmProvider
	if name == "" {
		name = "offline"
		log.Info("LLM_PROVIDER unset: using the offline enricher (deterministic, no network)")
	}
	if name == "none" {
		log.Info("LLM_PROVIDER=none: enrichment disabled, the enrichment columns stay empty")
		return nil, nil, nil, func() {}, nil
	}
	p, err := llm.NewProvider(name, c.providerConfig())
	if err != nil {
		return nil, nil, nil, nil, err
	}
	client, err := llm.NewClient(p, c.clientConfig(), log, reg)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	var rdb *redis.Client
	if c.redisURL == "" {
		log.Info("REDIS_URL unset: in-process cache only (not shared between workers)")
	} else if rdb, err = cache.NewRedisClient(c.redisURL); err != nil {
		client.Close()
		return nil, nil, nil, nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	var uc redis.UniversalClient
	if rdb != nil {
		uc = rdb // cache.New registers the pool collector
	}
	tiered, err := cache.New(c.cacheConfig(), uc, log, reg)
	if err != nil {
		client.Close()
		return nil, nil, nil, nil, err
	}
	call := func(ctx context.Context, m news.Message) (news.Enrichment, enrich.Usage, error) {
		r, err := client.Enrich(ctx, m)
		return r.Enrichment, enrich.Usage{InputTokens: r.Usage.InputTokens, OutputTokens: r.Usage.OutputTokens}, err
	}
	provider, model, _ := splitModel(client.Model())
	enr, err := enrich.New(enrich.Config{Provider: provider, Model: model, PromptVersion: llm.PromptVersion, Concurrency: c.llmConcurrency,
		PricePer1KInput: c.priceIn, PricePer1KOutput: c.priceOut},
		cacheAdapter{tiered}, call, log, reg)
	if err != nil {
		client.Close()
		return nil, nil, nil, nil, err
	}
	closeAll := func() {
		_ = tiered.Close()
		if rdb != nil {
			_ = rdb.Close()
		}
		client.Close()
	}
	return enr, client, tiered, closeAll, nil
}

// cacheAdapter fits cache.Tiered to what the enrich stage asks of a cache.
type cacheAdapter struct{ t *cache.Tiered }

func (a cacheAdapter) GetMany(ctx context.Context, keys []string) (map[string][]byte, error) {
	return a.t.GetMany(ctx, keys)
}

func (a cacheAdapter) Do(ctx context.Context, key string, fn func(context.Context) ([]byte, error)) ([]byte, bool, error) {
	v, src, err := a.t.Do(ctx, key, fn)
	return v, src == cache.SourceComputed, err
}

func splitModel(m string) (provider, model string, ok bool) {
	for i := range len(m) {
		if m[i] == '/' {
			return m[:i], m[i+1:], true
		}
	}
	return m, m, false
}

func modelName(c *llm.Client) string {
	if c == nil {
		return "none"
	}
	return c.Model()
}

// logProgress logs the pipeline's counts every 30 seconds while work flows.
func logProgress(ctx context.Context, log *zap.Logger, w *worker.Worker, enr *enrich.Enricher) {
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	var last int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n := w.Totals().Messages.Load()
		if n == last {
			continue
		}
		fields := []zap.Field{zap.Int64("messages", n), zap.Float64("msgs_per_second", float64(n-last)/30),
			zap.Int64("batches", w.Totals().Batches.Load())}
		if enr != nil {
			et := enr.Totals()
			fields = append(fields, llmFields(et)...)
		}
		last = n
		log.Info("progress", fields...)
	}
}

// llmFields reports the LLM calls and tokens used and saved, and their cost
// when prices are configured.
func llmFields(et *enrich.Totals) []zap.Field {
	fields := []zap.Field{zap.Int64("llm_calls", et.Calls.Load()), zap.Int64("llm_calls_saved", et.CallsSaved.Load()),
		zap.Int64("llm_tokens", et.TokensUsed.Load()), zap.Int64("llm_tokens_saved", et.TokensSaved.Load())}
	if used, saved := et.Cost(); used > 0 || saved > 0 {
		fields = append(fields, zap.Float64("llm_cost", used), zap.Float64("llm_cost_saved", saved))
	}
	return fields
}

// logSummary logs one line with what this run did.
func logSummary(log *zap.Logger, w *worker.Worker, enr *enrich.Enricher, up time.Duration) {
	t := w.Totals()
	fields := []zap.Field{zap.Int64("messages", t.Messages.Load()), zap.Int64("inserted", t.Inserted.Load()),
		zap.Int64("batches", t.Batches.Load()), zap.Int64("dead_lettered", t.DeadLettered.Load()),
		zap.Int64("commit_retries", t.Retried.Load()), zap.Duration("uptime", up.Round(time.Millisecond))}
	if first, last := t.FirstFetch.Load(), t.LastCommit.Load(); first > 0 && last > first {
		rate := float64(t.Messages.Load()) / time.Duration(last-first).Seconds()
		fields = append(fields, zap.Float64("msgs_per_second", math.Round(rate*10)/10),
			zap.Time("first_fetch", time.Unix(0, first)), zap.Time("last_commit", time.Unix(0, last)))
	}
	if enr != nil {
		et := enr.Totals()
		fields = append(fields, llmFields(et)...)
	}
	log.Info("worker summary", fields...)
}
