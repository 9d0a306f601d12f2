package main

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"newsflow/internal/batcher"
	"newsflow/internal/cache"
	"newsflow/internal/cli"
	"newsflow/internal/consumer"
	"newsflow/internal/enrich"
	"newsflow/internal/llm"
	"newsflow/internal/natsflag"
	"newsflow/internal/news"
	"newsflow/internal/store"
	"newsflow/internal/stream"
	"newsflow/internal/telemetry"
	"newsflow/internal/worker"
)

// runConfig is everything `worker run` is configured with: flags, each with
// an environment variable.
type runConfig struct {
	conn        natsflag.Conn
	stream      natsflag.Stream
	durable     string
	ackWait     time.Duration
	maxDeliver  int
	backOff     durationList
	maxAckPend  int
	fetchBatch  int
	maxMsgBytes int
	dlqStream   string
	dlqPrefix   string

	batchSize     int
	batchBytes    int
	batchWait     time.Duration
	batchIdle     time.Duration
	committers    int
	commitTimeout time.Duration
	grace         time.Duration

	db             databaseFlags
	dbMaxConns     int
	dbMinIdle      int
	dbHealthPeriod time.Duration
	dbMaxLifetime  time.Duration
	migrate        bool

	redisURL     string
	redisMode    string
	cacheEntries int
	cacheBytes   int64
	cacheTTL     time.Duration
	cachePrefix  string
	leaseTTL     time.Duration
	nearDup      nearDupFlags

	llmProvider     string
	llmModel        string
	geminiKey       string
	openaiKey       string
	openaiBaseURL   string
	llmConcurrency  int
	llmRPM          int
	llmTPM          int
	llmTimeout      time.Duration
	llmRetries      int
	breakerFailures int
	breakerCooldown time.Duration
	priceIn         float64
	priceOut        float64
	priceInCached   float64
	storiesPerCall  int

	httpAddr     string
	pprof        bool
	console      bool
	consoleWrite bool
	lagInterval  time.Duration
	lagTarget    time.Duration
	maxReplicas  int
	registry     registryFlags
}

func (c *runConfig) register(fs *pflag.FlagSet) {
	c.conn.Register(fs)
	c.stream.Register(fs)
	fs.StringVar(&c.durable, "consumer", consumer.DefaultDurable, "durable pull consumer shared by all workers")
	fs.DurationVar(&c.ackWait, "ack-wait", consumer.DefaultAckWait, "time JetStream waits for an ack before redelivering; held messages are kept alive every ack-wait/3 (at least 100ms)")
	fs.IntVar(&c.maxDeliver, "max-deliver", consumer.DefaultMaxDeliver, "deliveries of a message before it is dead-lettered")
	c.backOff = durationList(slices.Clone(consumer.DefaultBackOff))
	fs.Var(&c.backOff, "backoff", "comma-separated nak delays by delivery count, the last repeating")
	fs.IntVar(&c.maxAckPend, "max-ack-pending", consumer.DefaultMaxAckPending, "messages delivered and not yet acked, across all workers")
	fs.IntVar(&c.fetchBatch, "fetch-batch", consumer.DefaultFetchBatch, "messages each pull request asks for (prefetch; at most --max-ack-pending)")
	fs.IntVar(&c.maxMsgBytes, "max-message-bytes", news.DefaultMaxBytes, "largest accepted message; larger ones are dead-lettered")
	fs.StringVar(&c.dlqStream, "dlq-stream", stream.DefaultDLQName, "dead-letter stream")
	fs.StringVar(&c.dlqPrefix, "dlq-subject-prefix", stream.DefaultDLQSubjectPrefix, "dead-letter subject prefix")

	fs.IntVar(&c.batchSize, "batch-size", batcher.DefaultMaxMessages, "flush a batch at this many messages")
	fs.IntVar(&c.batchBytes, "batch-bytes", batcher.DefaultMaxBytes, "flush a batch before its payloads exceed this many bytes")
	fs.DurationVar(&c.batchWait, "batch-wait", batcher.DefaultMaxWait, "flush a batch this long after its first message")
	fs.DurationVar(&c.batchIdle, "batch-idle", batcher.DefaultMaxIdle, "flush a batch once no message arrived for this long (up to twice that); 0 waits out --batch-wait")
	fs.IntVar(&c.committers, "committers", worker.DefaultCommitters, "batches enriched and committed at once")
	fs.DurationVar(&c.commitTimeout, "commit-timeout", worker.DefaultCommitTimeout, "bound on one commit attempt")
	fs.DurationVar(&c.grace, "grace", worker.DefaultDrainTimeout, "on SIGTERM, time to finish and ack the open batches before handing the rest back")

	c.db.register(fs, &c.conn.DataDir)
	fs.IntVar(&c.dbMaxConns, "db-max-conns", store.DefaultMaxConns, "Postgres pool size")
	fs.IntVar(&c.dbMinIdle, "db-min-idle-conns", store.DefaultMinIdleConns, "Postgres idle connections kept ready; 0 keeps none")
	fs.DurationVar(&c.dbHealthPeriod, "db-health-check-period", store.DefaultHealthCheckPeriod, "Postgres idle connection check interval")
	fs.DurationVar(&c.dbMaxLifetime, "db-max-conn-lifetime", store.DefaultMaxConnLifetime, "Postgres connection lifetime")
	fs.BoolVar(&c.migrate, "migrate", true, "apply schema migrations at start")

	fs.StringVar(&c.redisURL, "redis-url", "", "Redis URL for the shared LLM cache and story index; empty means in-process only. With --redis-mode cluster: seed nodes as redis://h1:7000?addr=h2:7001&addr=h3:7002")
	fs.StringVar(&c.redisMode, "redis-mode", redisSingle, "single (one Redis, or a proxy in front of many) or cluster (Redis Cluster, or a managed service in cluster mode)")
	fs.IntVar(&c.cacheEntries, "cache-entries", cache.DefaultMemoryEntries, "in-process cache capacity in stories")
	fs.Int64Var(&c.cacheBytes, "cache-memory-bytes", cache.DefaultMemoryBytes, "in-process cache capacity in bytes of keys, values and per-entry overhead")
	fs.DurationVar(&c.cacheTTL, "cache-ttl", cache.DefaultRedisTTL, "lifetime of a cached enrichment")
	fs.StringVar(&c.cachePrefix, "cache-prefix", cache.DefaultKeyPrefix, "prefix of Redis keys")
	fs.DurationVar(&c.leaseTTL, "cache-lease-ttl", cache.DefaultLeaseTTL, "lifetime of the cluster-wide single-flight lease, extended while the owner works")
	c.nearDup.register(fs)

	fs.StringVar(&c.llmProvider, "llm-provider", "", "offline, none, gemini or openai; empty means offline")
	fs.StringVar(&c.llmModel, "llm-model", "", "model name; empty means the provider's default")
	fs.StringVar(&c.geminiKey, "gemini-api-key", "", "Gemini API key")
	fs.StringVar(&c.openaiKey, "openai-api-key", "", "OpenAI(-compatible) API key")
	fs.StringVar(&c.openaiBaseURL, "openai-base-url", "", "OpenAI-compatible API root, e.g. http://127.0.0.1:11434/v1 for Ollama")
	fs.IntVar(&c.llmConcurrency, "llm-concurrency", llm.DefaultConcurrency, "LLM calls in flight at once")
	fs.IntVar(&c.llmRPM, "llm-rpm", 0, "LLM requests per minute; 0 is unlimited")
	fs.IntVar(&c.llmTPM, "llm-tpm", 0, "LLM tokens per minute; 0 is unlimited")
	fs.DurationVar(&c.llmTimeout, "llm-timeout", llm.DefaultTimeout, "bound on one LLM call")
	fs.IntVar(&c.llmRetries, "llm-max-retries", llm.DefaultMaxRetries, "retries of an LLM call after 429, 5xx or network errors; 0 never retries")
	fs.IntVar(&c.breakerFailures, "llm-breaker-failures", llm.DefaultBreakerFailures, "failed calls in a row that open the circuit breaker; 0 turns the breaker off")
	fs.DurationVar(&c.breakerCooldown, "llm-breaker-cooldown", llm.DefaultBreakerCooldown, "time the open breaker waits before a probe call")
	fs.Float64Var(&c.priceIn, "llm-price-input", 0, "price per 1000 input tokens, for the cost metric; 0 does not count cost")
	fs.Float64Var(&c.priceOut, "llm-price-output", 0, "price per 1000 output tokens, for the cost metric; 0 does not count cost")
	fs.Float64Var(&c.priceInCached, "llm-price-input-cached", -1, "price per 1000 input tokens served from the provider's prompt cache; negative means --llm-price-input")
	fs.IntVar(&c.storiesPerCall, "llm-stories-per-call", enrich.DefaultStoriesPerCall, "stories sent in one LLM request (gemini and openai); a story left out of the answer is asked for once more alone")

	fs.StringVar(&c.httpAddr, "http-addr", telemetry.DefaultAddr, "address of /metrics, /healthz and /readyz (port 0 picks a free one)")
	fs.BoolVar(&c.pprof, "pprof", false, "serve Go's /debug/pprof profiles on --http-addr")
	fs.BoolVar(&c.console, "console", true, "serve the operator's console at / of --http-addr")
	fs.BoolVar(&c.consoleWrite, "console-write", false, "let the console replay and purge dead letters (the address is unauthenticated)")
	fs.DurationVar(&c.lagInterval, "lag-interval", telemetry.DefaultPollInterval, "consumer lag polling interval; 0 disables the poller")
	fs.DurationVar(&c.lagTarget, "lag-target", telemetry.DefaultLagTarget, "drain time the replica hint aims for")
	fs.IntVar(&c.maxReplicas, "max-replicas", 0, "cap of the replica hint, e.g. what the LLM account's rate limit allows; 0 is none")

	cli.Config(fs, "Consumer", "consumer", "ack-wait", "max-deliver", "backoff", "max-ack-pending", "fetch-batch",
		"max-message-bytes", "dlq-stream", "dlq-subject-prefix")
	cli.Config(fs, "Batching", "batch-size", "batch-bytes", "batch-wait", "batch-idle", "committers", "commit-timeout", "grace")
	cli.Config(fs, "Database", "db-max-conns", "db-min-idle-conns", "db-health-check-period",
		"db-max-conn-lifetime", "migrate")
	cli.Config(fs, "Cache", "redis-url", "redis-mode", "cache-entries", "cache-memory-bytes", "cache-ttl", "cache-prefix", "cache-lease-ttl")
	cli.Config(fs, "LLM", "llm-provider", "llm-model", "gemini-api-key", "openai-api-key", "openai-base-url",
		"llm-concurrency", "llm-rpm", "llm-tpm", "llm-timeout", "llm-max-retries", "llm-breaker-failures",
		"llm-breaker-cooldown", "llm-price-input", "llm-price-output", "llm-price-input-cached", "llm-stories-per-call")
	cli.Config(fs, "Telemetry", "http-addr", "pprof", "console", "console-write", "lag-interval", "lag-target", "max-replicas")
	c.registry.register(fs)

	cli.Positive(fs, "max-deliver", "max-ack-pending", "fetch-batch", "batch-size", "batch-bytes", "committers",
		"db-max-conns", "cache-entries", "llm-concurrency",
		"ack-wait", "batch-wait", "commit-timeout", "grace", "db-health-check-period", "db-max-conn-lifetime",
		"cache-ttl", "cache-lease-ttl", "llm-timeout", "llm-breaker-cooldown", "lag-target")
	cli.NonNegative(fs, "db-min-idle-conns", "llm-rpm", "llm-tpm", "llm-max-retries", "llm-breaker-failures",
		"max-replicas", "batch-idle", "lag-interval", "llm-price-input", "llm-price-output")
	cli.AtLeast(fs, "1024", "max-message-bytes", "cache-memory-bytes")
	cli.AtLeast(fs, "1", "llm-stories-per-call")
	cli.AtMost(fs, fmt.Sprint(enrich.MaxStoriesPerCall), "llm-stories-per-call")
}

// validate checks what the flags' rules (cli.Load) cannot: values that
// need parsing (URLs, addresses, names) and limits that span stages; each
// stage validates its own fields again. name names a flag the way the user
// set it (cli.Name). Errors are usage errors.
func (c *runConfig) validate(name func(string) string) error {
	switch {
	case c.fetchBatch > c.maxAckPend:
		return cli.Usagef("%s (%d) must not exceed %s (%d)", name("fetch-batch"), c.fetchBatch, name("max-ack-pending"), c.maxAckPend)
	case c.dbMinIdle > c.dbMaxConns:
		return cli.Usagef("%s (%d) must not exceed %s (%d)", name("db-min-idle-conns"), c.dbMinIdle, name("db-max-conns"), c.dbMaxConns)
	case c.batchWait+c.commitTimeout >= c.ackWait:
		return cli.Usagef("%s (%s) plus %s (%s) must be less than %s (%s), or an open batch could be redelivered while it waits",
			name("batch-wait"), c.batchWait, name("commit-timeout"), c.commitTimeout, name("ack-wait"), c.ackWait)
	case c.batchSize > c.maxAckPend:
		return cli.Usagef("%s (%d) must not exceed %s (%d), or a batch could never fill", name("batch-size"), c.batchSize, name("max-ack-pending"), c.maxAckPend)
	case c.dlqStream == c.stream.Name:
		return cli.Usagef("%s must differ from %s (%q)", name("dlq-stream"), name("stream"), c.dlqStream)
	}
	if err := c.validateRedis(name); err != nil {
		return err
	}
	if err := c.db.validate(name); err != nil {
		return err
	}
	if _, _, err := net.SplitHostPort(c.httpAddr); err != nil {
		return cli.Usagef("invalid value %q for %s: want host:port like 127.0.0.1:8081 (port 0 picks a free one)", c.httpAddr, name("http-addr"))
	}
	if c.llmProvider != "" && !slices.Contains(llm.ProviderNames, c.llmProvider) {
		return cli.Usagef("invalid value %q for %s: want one of %s", c.llmProvider, name("llm-provider"), strings.Join(llm.ProviderNames, ", "))
	}
	if err := c.registry.validate(name, c.maxReplicas); err != nil {
		return err
	}
	if _, err := c.stream.Config(); err != nil {
		return cli.AsUsage(err)
	}
	return c.nearDup.validate(name)
}

// settings is the worker's configuration; validate has checked it.
func (c *runConfig) settings() worker.Settings {
	return worker.Settings{
		NATSURL: c.conn.URL, DataDir: c.conn.DataDir,
		Consumer: c.consumerConfig(), Pipeline: c.workerConfig(),
		DatabaseURL: c.db.url, Pool: c.poolConfig(), Migrate: c.migrate,
		RedisURL: c.redisURL, RedisCluster: c.redisMode == redisCluster, Cache: c.cacheConfig(), NearDup: c.nearDup.config(),
		LLMProvider: c.llmProvider, Provider: c.providerConfig(), Client: c.clientConfig(), StoriesPerCall: c.storiesPerCall,
		HTTPAddr: c.httpAddr, Pprof: c.pprof, Console: c.console, ConsoleWrite: c.consoleWrite,
		LagInterval: c.lagInterval, LagTarget: c.lagTarget, MaxReplicas: c.maxReplicas,
		MinReplicas: c.registry.minReplicas, Registry: c.registry.config(),
	}
}

// Values of --redis-mode.
const (
	redisSingle  = "single"
	redisCluster = "cluster"
)

// validateRedis checks --redis-mode and that --redis-url reads in that mode.
func (c *runConfig) validateRedis(name func(string) string) error {
	cluster := c.redisMode == redisCluster
	switch {
	case c.redisMode != redisSingle && !cluster:
		return cli.Usagef("invalid value %q for %s: want %s or %s", c.redisMode, name("redis-mode"), redisSingle, redisCluster)
	case c.redisURL == "" && cluster:
		return cli.Usagef("%s %s needs %s (the cluster's seed nodes, e.g. redis://h1:7000?addr=h2:7001&addr=h3:7002)",
			name("redis-mode"), redisCluster, name("redis-url"))
	case c.redisURL == "":
		return nil
	}
	if err := cache.CheckRedisURL(c.redisURL, cluster); err != nil {
		switch {
		case errors.Is(err, cache.ErrClusterURL):
			return cli.Usagef("%s lists several nodes (addr=): for Redis Cluster set %s %s", name("redis-url"), name("redis-mode"), redisCluster)
		case cluster:
			return cli.Usagef("invalid value for %s with %s %s: want seed nodes like redis://h1:7000?addr=h2:7001&addr=h3:7002 (%v)",
				name("redis-url"), name("redis-mode"), redisCluster, err)
		}
		return cli.Usagef("invalid value for %s: want a URL like redis://host:6379/0 (%v)", name("redis-url"), err)
	}
	return nil
}

func (c *runConfig) consumerConfig() consumer.Config {
	sc, _ := c.stream.Config() // checked by validate
	return consumer.Config{
		Stream: sc, Durable: c.durable, AckWait: c.ackWait, MaxDeliver: c.maxDeliver,
		BackOff: c.backOff, MaxAckPending: c.maxAckPend, FetchBatch: c.fetchBatch, MaxMessageBytes: c.maxMsgBytes,
		DLQStream: c.dlqStream, DLQSubjectPrefix: c.dlqPrefix, UpdateStreams: c.stream.Update,
	}
}

func (c *runConfig) workerConfig() worker.Config {
	return worker.Config{
		Batch: batcher.Config{MaxMessages: c.batchSize, MaxBytes: c.batchBytes, MaxWait: c.batchWait, MaxIdle: c.batchIdle,
			DrainTimeout: c.grace},
		Committers: c.committers, CommitTimeout: c.commitTimeout, RetryMin: worker.DefaultRetryMin, RetryMax: worker.DefaultRetryMax,
		DrainTimeout: c.grace,
	}
}

func (c *runConfig) poolConfig() store.PoolConfig {
	return store.PoolConfig{MaxConns: int32(c.dbMaxConns), MinIdleConns: int32(c.dbMinIdle),
		HealthCheckPeriod: c.dbHealthPeriod, MaxConnLifetime: c.dbMaxLifetime}
}

func (c *runConfig) cacheConfig() cache.Config {
	return cache.Config{MemoryEntries: c.cacheEntries, MemoryBytes: c.cacheBytes, MemoryTTL: c.cacheTTL, RedisTTL: c.cacheTTL, KeyPrefix: c.cachePrefix,
		LeaseTTL: c.leaseTTL, LeaseWait: cache.DefaultLeaseWait}
}

func (c *runConfig) providerConfig() llm.ProviderConfig {
	return llm.ProviderConfig{Model: c.llmModel, GeminiAPIKey: c.geminiKey, OpenAIAPIKey: c.openaiKey,
		OpenAIBaseURL: c.openaiBaseURL, Concurrency: c.llmConcurrency}
}

func (c *runConfig) clientConfig() llm.ClientConfig {
	return llm.ClientConfig{RequestsPerMinute: c.llmRPM, TokensPerMinute: c.llmTPM, Concurrency: c.llmConcurrency,
		Timeout: c.llmTimeout, MaxRetries: c.llmRetries, RetryBaseDelay: llm.DefaultRetryBaseDelay, RetryMaxDelay: llm.DefaultRetryMaxDelay,
		BreakerFailures: c.breakerFailures,
		BreakerCooldown: c.breakerCooldown, Prices: news.Prices{PerKInput: c.priceIn, PerKOutput: c.priceOut, PerKInputCached: c.cachedPrice()}}
}

// cachedPrice is --llm-price-input-cached, or the input price when negative.
func (c *runConfig) cachedPrice() float64 {
	if c.priceInCached < 0 {
		return c.priceIn
	}
	return c.priceInCached
}

// durationList is a flag.Value of comma-separated durations.
type durationList []time.Duration

func (d *durationList) String() string {
	parts := make([]string, len(*d))
	for i, v := range *d {
		parts[i] = v.String()
	}
	return strings.Join(parts, ",")
}

func (d *durationList) Type() string { return "durations" }

func (d *durationList) Set(s string) error {
	var out durationList
	for _, p := range cli.SplitList(s) {
		v, err := time.ParseDuration(p)
		if err != nil || v <= 0 {
			return fmt.Errorf("want positive durations like 1s,5s,30s, got %q", p)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return fmt.Errorf("want at least one duration")
	}
	*d = out
	return nil
}
