package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"newsflow/internal/buildinfo"
	"newsflow/internal/cache"
	"newsflow/internal/console"
	"newsflow/internal/consumer"
	"newsflow/internal/embedded"
	"newsflow/internal/enrich"
	"newsflow/internal/llm"
	"newsflow/internal/news"
	"newsflow/internal/redact"
	"newsflow/internal/store"
	"newsflow/internal/story"
	"newsflow/internal/telemetry"
	"newsflow/internal/tracing"
)

// Settings is everything `worker run` is configured with, stage by stage.
// cmd/worker fills it from flags; Open builds the stages from it.
type Settings struct {
	// NATSURL is the NATS server; empty starts an embedded one in DataDir.
	NATSURL string
	// DataDir holds the embedded mode's state (JetStream store, SQLite file).
	DataDir string
	// Consumer configures the stream, the dead-letter stream and the durable consumer.
	Consumer consumer.Config
	// Pipeline configures batching, committers and the drain.
	Pipeline Config

	// DatabaseURL is Postgres; empty means SQLite in DataDir.
	DatabaseURL string
	// Pool sizes the Postgres pool.
	Pool store.PoolConfig
	// Migrate applies schema migrations at start.
	Migrate bool

	// RedisURL is the shared cache and story index; empty means the
	// in-process tier and index only.
	RedisURL string
	// RedisCluster reads RedisURL as a Redis Cluster's seed nodes
	// (redis://h1:7000?addr=h2:7001, as redis.ParseClusterURL reads it).
	RedisCluster bool
	// Cache configures the two cache tiers.
	Cache cache.Config
	// NearDup configures story identity (near-duplicate detection); its
	// Redis keys take the cache's KeyPrefix.
	NearDup story.Config

	// LLMProvider is offline (also when empty), none (no enrichment),
	// gemini or openai.
	LLMProvider string
	// Provider configures the provider (model, keys, endpoints).
	Provider llm.ProviderConfig
	// Client configures rate limits, retries, breaker and prices; its
	// Concurrency and Prices also bound and price the enrich stage.
	Client llm.ClientConfig
	// StoriesPerCall is the most stories one LLM request carries (1 to
	// enrich.MaxStoriesPerCall), for providers that take several (gemini,
	// openai).
	StoriesPerCall int

	// HTTPAddr serves /metrics, /healthz and /readyz.
	HTTPAddr string
	// Pprof serves /debug/pprof on HTTPAddr.
	Pprof bool
	// LagInterval is the lag poller's interval; 0: no poller.
	LagInterval time.Duration
	// LagTarget is the drain time the replica hint aims for.
	LagTarget time.Duration
	// MaxReplicas caps the replica hint; 0: no cap.
	MaxReplicas int
	// MinReplicas is the replica hint with no backlog; 0: telemetry's default (1).
	MinReplicas int
	// Registry is the worker registry this worker heartbeats into (and the
	// lag poller counts live workers in); Interval 0 turns the heartbeat off.
	// Its Replicas are the stream's.
	Registry telemetry.RegistryConfig
	// Console serves the operator's console at "/" of HTTPAddr.
	Console bool
	// ConsoleWrite lets the console replay and purge dead letters.
	ConsoleWrite bool
}

// progressEvery is how often Run logs the pipeline's counts while work flows.
const progressEvery = 30 * time.Second

// natsDrainWait bounds how long closing waits for NATS to flush the last acks.
const natsDrainWait = 5 * time.Second

// Service is an assembled worker: the stages built by Open, and the
// resources they hold. Run it once.
type Service struct {
	s     Settings
	log   *zap.Logger
	start time.Time
	reg   *prometheus.Registry

	http   *telemetry.Server
	js     jetstream.JetStream
	store  store.DB
	rdb    redis.UniversalClient // the cache's and the story index's; nil: REDIS_URL unset
	ids    *story.Identifier
	client *llm.Client      // nil: no enrichment
	tiered *cache.Tiered    // nil: no enrichment
	enr    *enrich.Enricher // nil: no enrichment
	cons   *consumer.Consumer
	w      *Worker
	beat   *telemetry.Heartbeat // nil: registry off

	sampler *console.Sampler // nil: no console

	closers []func() // in order of creation; close runs them in reverse
}

// Open builds the worker in order: HTTP listener, NATS (or the embedded
// server), database (migrated when asked), enrichment (LLM client behind the
// two-tier cache), consumer, pipeline, the worker registry's bucket and the
// console; then registers the health checks. On error it closes what it
// built. A nil log discards logs.
func Open(ctx context.Context, s Settings, log *zap.Logger) (_ *Service, err error) {
	if log == nil {
		log = zap.NewNop()
	}
	svc := &Service{s: s, log: log, start: time.Now(), reg: prometheus.NewRegistry()}
	if tracing.Enabled() {
		tracing.LogErrors(log.Named("tracing"))
	}
	defer func() {
		if err != nil {
			svc.close()
		}
	}()
	for _, step := range []func(context.Context) error{
		svc.openHTTP, svc.openNATS, svc.openStore, svc.openRedis, svc.openStories, svc.openEnrich, svc.openPipeline, svc.openRegistry,
		svc.openConsole,
	} {
		if err := step(ctx); err != nil {
			return nil, err
		}
	}
	return svc, nil
}

func (svc *Service) onClose(f func()) { svc.closers = append(svc.closers, f) }

func (svc *Service) close() {
	for i := len(svc.closers) - 1; i >= 0; i-- {
		svc.closers[i]()
	}
	svc.closers = nil
}

func (svc *Service) openHTTP(context.Context) error {
	if err := telemetry.RegisterBuildInfo(svc.reg); err != nil {
		return err
	}
	svc.http = telemetry.NewServer(svc.s.HTTPAddr, svc.reg, svc.log, telemetry.WithPprof(svc.s.Pprof))
	if err := svc.http.Listen(); err != nil {
		return fmt.Errorf("listen on --http-addr %s: %w", svc.s.HTTPAddr, err)
	}
	return nil
}

// openNATS connects to NATSURL or starts the embedded server. Closing drains
// the connection, so that the last acks go out, and waits for it.
func (svc *Service) openNATS(context.Context) error {
	log, u := svc.log, svc.s.NATSURL
	if u == "" {
		emb, err := embedded.StartNATS(embedded.NATSConfig{DataDir: svc.s.DataDir}, log)
		if err != nil {
			return fmt.Errorf("start embedded NATS server: %w", err)
		}
		svc.onClose(emb.Shutdown)
		u = emb.URL()
		log.Info("NATS_URL unset: running an embedded NATS server", zap.String("url", u), zap.String("data_dir", svc.s.DataDir))
	}
	closed := make(chan struct{})
	nc, err := nats.Connect(u, nats.Name("newsflow-worker"), nats.MaxReconnects(-1), nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil on a deliberate close
				log.Warn("NATS disconnected, reconnecting", zap.Error(err))
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { log.Info("NATS reconnected") }),
		nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
	if err != nil {
		return fmt.Errorf("connect to NATS at %s (NATS_URL): %w", redact.String(u), err)
	}
	svc.onClose(func() {
		if derr := nc.Drain(); derr != nil && !errors.Is(derr, nats.ErrConnectionClosed) {
			log.Warn("NATS drain", zap.Error(derr))
		}
		select {
		case <-closed:
		case <-time.After(natsDrainWait):
			log.Warn("NATS drain did not finish in time", zap.Duration("duration", natsDrainWait))
		}
	})
	if svc.js, err = jetstream.New(nc); err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	svc.http.AddCheck("nats", telemetry.NATSCheck(nc))
	return nil
}

func (svc *Service) openStore(ctx context.Context) error {
	st, err := store.Open(ctx, svc.s.DatabaseURL, svc.s.DataDir, svc.s.Pool, false, svc.log, svc.reg)
	if err != nil {
		return err
	}
	svc.onClose(st.Close)
	if svc.s.Migrate {
		if err := st.Migrate(ctx); err != nil {
			return fmt.Errorf("migrate database: %w", err)
		}
	}
	svc.http.AddCheck("database", telemetry.PingCheck(st.Ping))
	svc.store = st
	return nil
}

// openRedis connects to REDIS_URL, when set: one client (one pool per
// Redis node) for the cache and the story index. Its read timeout is the
// story index's, whose one script decides a whole batch, so a busy Redis
// does not turn a slow answer into a degraded index; the cache bounds each
// of its own calls to cache.Config.CallTimeout through the call's context.
func (svc *Service) openRedis(context.Context) error {
	if svc.s.RedisURL == "" {
		return nil
	}
	rdb, err := cache.NewRedisClient(svc.s.RedisURL, svc.s.RedisCluster, story.ScriptReadTimeout)
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	svc.onClose(func() { _ = rdb.Close() })
	svc.rdb = rdb
	if svc.s.RedisCluster {
		svc.log.Info("REDIS_URL is a Redis Cluster: cache, leases and story index spread over its masters")
	}
	return nil
}

// openStories builds the story identifier: on Redis when configured, else
// in process.
func (svc *Service) openStories(context.Context) error {
	cfg := svc.s.NearDup
	cfg.KeyPrefix = cmp.Or(cfg.KeyPrefix, svc.s.Cache.KeyPrefix)
	ids, err := story.New(cfg, svc.rdb, svc.log, svc.reg)
	if err != nil {
		return err
	}
	svc.onClose(ids.Close)
	svc.ids = ids
	switch {
	case cfg.Off:
		svc.log.Info("--near-dup off: story ids are content hashes (exact duplicates only)")
	case svc.rdb == nil:
		svc.log.Info("REDIS_URL unset: near-duplicate index in process (not shared between workers)")
	}
	svc.http.AddCheck("story_index", func(context.Context) telemetry.CheckResult {
		if ids.Degraded() {
			return telemetry.CheckResult{Status: telemetry.StatusDegraded, Detail: "redis unreachable: near-duplicate index in process"}
		}
		return telemetry.CheckResult{Status: telemetry.StatusOK}
	})
	return nil
}

// openEnrich builds the LLM client, the cache and the enrich stage, unless
// the provider is none.
func (svc *Service) openEnrich(context.Context) error {
	log, s := svc.log, svc.s
	name := s.LLMProvider
	if name == "" {
		name = llm.ProviderOffline
		log.Info("LLM_PROVIDER unset: using the offline enricher (deterministic, no network)")
	}
	if name == llm.ProviderNone {
		log.Info("LLM_PROVIDER=none: enrichment disabled, the enrichment columns stay empty")
		svc.addCacheCheck()
		svc.addLLMCheck()
		return nil
	}
	p, err := llm.NewProvider(name, s.Provider)
	if err != nil {
		return err
	}
	if svc.client, err = llm.NewClient(p, s.Client, log, svc.reg); err != nil {
		return err
	}
	svc.onClose(svc.client.Close)
	if svc.rdb == nil {
		log.Info("REDIS_URL unset: in-process cache only (not shared between workers)")
	}
	// cache.New registers the pool collector.
	if svc.tiered, err = cache.New(s.Cache, svc.rdb, log, svc.reg); err != nil {
		return err
	}
	svc.onClose(func() { _ = svc.tiered.Close() })
	provider, model := svc.client.Names()
	ecfg := enrich.Config{Provider: provider, Model: model, PromptVersion: llm.PromptVersion,
		Concurrency: s.Client.Concurrency, Prices: s.Client.Prices}
	if _, ok := p.(llm.MultiProvider); ok && s.StoriesPerCall > 1 {
		// Grouping stories only pays where a request can carry several;
		// for the offline provider it would only delay them.
		ecfg.StoriesPerCall, ecfg.ManyFunc = s.StoriesPerCall, svc.callMany
	}
	svc.enr, err = enrich.New(ecfg, cacheAdapter{svc.tiered}, svc.call, log, svc.reg)
	if err != nil {
		return err
	}
	svc.addCacheCheck()
	svc.addLLMCheck()
	return nil
}

// call is the enrich stage's LLM call.
func (svc *Service) call(ctx context.Context, m news.Message) (news.Enrichment, news.Usage, error) {
	r, err := svc.client.Enrich(ctx, m)
	return r.Enrichment, r.Usage, err
}

// callMany is the enrich stage's multi-story LLM call.
func (svc *Service) callMany(ctx context.Context, ms []news.Message) ([]enrich.Answer, error) {
	rs, err := svc.client.EnrichMany(ctx, ms)
	if err != nil {
		return nil, err
	}
	out := make([]enrich.Answer, len(rs))
	for i, r := range rs {
		out[i] = enrich.Answer{Enrichment: r.Enrichment, Usage: r.Usage, Err: r.Err}
	}
	return out, nil
}

func (svc *Service) addCacheCheck() {
	svc.http.AddCheck("redis", func(context.Context) telemetry.CheckResult {
		switch {
		case svc.tiered == nil || svc.s.RedisURL == "":
			return telemetry.CheckResult{Status: telemetry.StatusOK, Detail: "not configured: in-process cache only"}
		case svc.tiered.Degraded():
			return telemetry.CheckResult{Status: telemetry.StatusDegraded, Detail: "unreachable: running on the in-process cache"}
		}
		return telemetry.CheckResult{Status: telemetry.StatusOK}
	})
}

func (svc *Service) addLLMCheck() {
	svc.http.AddCheck("llm", func(context.Context) telemetry.CheckResult {
		if svc.client != nil && svc.client.BreakerOpen() {
			return telemetry.CheckResult{Status: telemetry.StatusDown, Detail: "circuit breaker open: LLM failing"}
		}
		return telemetry.CheckResult{Status: telemetry.StatusOK}
	})
}

// openPipeline creates the stream, the dead-letter stream and the durable
// consumer, and the pipeline on top.
func (svc *Service) openPipeline(ctx context.Context) error {
	cc := svc.s.Consumer
	cons, err := consumer.New(ctx, svc.js, cc, svc.log, svc.reg)
	if err != nil {
		return fmt.Errorf("set up stream %s and consumer %s: %w", cc.Stream.Name, cc.Durable, err)
	}
	svc.onClose(cons.Close)
	svc.cons = cons
	var (
		enr  Enricher
		gate Gate
	)
	if svc.enr != nil {
		enr, gate = svc.enr, svc.client
	}
	pc := svc.s.Pipeline
	pc.Stories = svc.ids
	w, err := New(pc, cons, svc.store, enr, gate, svc.log, svc.reg)
	if err != nil {
		return err
	}
	svc.w = w
	return nil
}

// openRegistry opens (or creates) the worker registry's bucket, unless the
// heartbeat is off.
func (svc *Service) openRegistry(ctx context.Context) error {
	rc := svc.s.Registry
	if rc.Interval <= 0 {
		svc.log.Info("heartbeat interval 0: this worker does not register (worker ps and the replica hint do not see it)")
		return nil
	}
	rc.Replicas = svc.s.Consumer.Stream.Replicas
	version, _ := buildinfo.Get()
	entry := telemetry.NewEntry(version, svc.s.Consumer.Stream.Name, svc.s.Consumer.Durable, svc.start)
	beat, err := telemetry.NewHeartbeat(ctx, svc.js, rc, entry, svc.registryState, svc.log)
	if err != nil {
		return fmt.Errorf("worker registry (--registry-bucket %s): %w", rc.Bucket, err)
	}
	svc.beat = beat
	return nil
}

// registryState fills in the changing fields of this worker's registry entry.
func (svc *Service) registryState(e *telemetry.Entry) {
	t := &svc.w.totals
	e.Messages = t.Messages.Load()
	e.Held = svc.cons.Held()
	if last := t.LastCommit.Load(); last > 0 {
		at := time.Unix(0, last).UTC()
		e.LastCommit = &at
	}
	switch {
	case svc.client == nil:
		e.Breaker = telemetry.StateNone
	case svc.client.BreakerOpen():
		e.Breaker = telemetry.StateOpen
	default:
		e.Breaker = telemetry.StateClosed
	}
	switch {
	case svc.tiered == nil || svc.s.RedisURL == "":
		e.Redis = telemetry.StateNone
	case svc.tiered.Degraded():
		e.Redis = telemetry.StateDegraded
	default:
		e.Redis = telemetry.StateOK
	}
}

// Addr is the address the HTTP server listens on.
func (svc *Service) Addr() string { return svc.http.Addr().String() }

// Run serves HTTP, polls lag, heartbeats into the worker registry and runs
// the pipeline until ctx is cancelled, then shuts down in order: the
// pipeline drains (stop fetching, commit and ack the open batches), the
// summary is logged, the registry entry is deleted, the HTTP server and
// pollers stop, and clients close in reverse order of creation, NATS last
// (drained, so late acks go out).
func (svc *Service) Run(ctx context.Context) error {
	defer svc.close()
	bg, stopBg := context.WithCancel(context.WithoutCancel(ctx))
	httpDone := make(chan error, 1)
	go func() { httpDone <- svc.http.Run(bg) }()
	defer func() {
		stopBg()
		if herr := <-httpDone; herr != nil {
			svc.log.Warn("http server", zap.Error(herr))
		}
	}()
	if svc.s.LagInterval > 0 {
		meter, err := telemetry.NewLagMeter(svc.js, telemetry.LagConfig{Stream: svc.s.Consumer.Stream.Name,
			Consumer: svc.s.Consumer.Durable, Target: svc.s.LagTarget, MaxReplicas: svc.s.MaxReplicas,
			MinReplicas: svc.s.MinReplicas, Registry: svc.s.Registry.Bucket})
		if err != nil {
			return err
		}
		poller, err := telemetry.NewPoller(meter, svc.s.LagInterval, svc.log, svc.reg)
		if err != nil {
			return err
		}
		go func() { _ = poller.Run(bg) }()
	}
	go svc.logProgress(bg)
	if svc.sampler != nil {
		go svc.sampler.Run(bg)
	}

	svc.logStart()
	stopBeat := func() {}
	if svc.beat != nil {
		bctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan struct{})
		go func() { _ = svc.beat.Run(bctx); close(done) }()
		stopBeat = func() { cancel(); <-done }
	}
	err := svc.w.Run(ctx)
	svc.logSummary()
	stopBeat() // deletes the entry: this worker is gone
	return err
}

func (svc *Service) logStart() {
	s, pc := svc.s, svc.w.cfg
	model := llm.ProviderNone
	if svc.client != nil {
		model = svc.client.Model()
	}
	svc.log.Info("worker start",
		zap.String("stream", s.Consumer.Stream.Name), zap.String("consumer", s.Consumer.Durable),
		zap.Int("batch_size", pc.Batch.MaxMessages), zap.Int("batch_bytes", pc.Batch.MaxBytes), zap.Duration("batch_wait", pc.Batch.MaxWait),
		zap.Int("committers", pc.Committers), zap.Duration("ack_wait", s.Consumer.AckWait), zap.Int("max_deliver", s.Consumer.MaxDeliver),
		zap.String("llm_model", model), zap.Stringer("http_addr", svc.http.Addr()), svc.consoleField(),
		zap.Bool("tracing", pc.TracerProvider != nil || tracing.Enabled()))
}

// logProgress logs the pipeline's counts every progressEvery while work flows.
func (svc *Service) logProgress(ctx context.Context) {
	t := time.NewTicker(progressEvery)
	defer t.Stop()
	var last int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n := svc.w.totals.Messages.Load()
		if n == last {
			continue
		}
		fields := []zap.Field{zap.Int64("messages", n), zap.Float64("msgs_per_second", float64(n-last)/progressEvery.Seconds()),
			zap.Int64("batches", svc.w.totals.Batches.Load())}
		last = n
		svc.log.Info("progress", append(fields, svc.llmFields()...)...)
	}
}

// llmFields reports the LLM calls and tokens used and saved, and their cost
// when prices are configured.
func (svc *Service) llmFields() []zap.Field {
	if svc.enr == nil {
		return nil
	}
	et := svc.enr.Totals()
	fields := []zap.Field{zap.Int64("llm_calls", et.Calls.Load()), zap.Int64("llm_calls_saved", et.CallsSaved.Load()),
		zap.Int64("llm_tokens", et.TokensUsed.Load()), zap.Int64("llm_tokens_saved", et.TokensSaved.Load())}
	if used, saved := et.Cost(); used > 0 || saved > 0 {
		fields = append(fields, zap.Float64("llm_cost", used), zap.Float64("llm_cost_saved", saved))
	}
	return fields
}

// logSummary logs one line with what this run did.
func (svc *Service) logSummary() {
	t := svc.w.Totals()
	fields := []zap.Field{zap.Int64("messages", t.Messages.Load()), zap.Int64("inserted", t.Inserted.Load()),
		zap.Int64("batches", t.Batches.Load()), zap.Int64("dead_lettered", t.DeadLettered.Load()),
		zap.Int64("commit_retries", t.Retried.Load()), zap.Duration("uptime", time.Since(svc.start).Round(time.Millisecond))}
	if first, last := t.FirstFetch.Load(), t.LastCommit.Load(); first > 0 && last > first {
		rate := float64(t.Messages.Load()) / time.Duration(last-first).Seconds()
		fields = append(fields, zap.Float64("msgs_per_second", math.Round(rate*10)/10),
			zap.Time("first_fetch", time.Unix(0, first)), zap.Time("last_commit", time.Unix(0, last)))
	}
	svc.log.Info("worker summary", append(fields, svc.llmFields()...)...)
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
