package main

import (
	"flag"
	"fmt"
	"strings"
	"time"

	"newsflow/internal/batcher"
	"newsflow/internal/cache"
	"newsflow/internal/consumer"
	"newsflow/internal/envflag"
	"newsflow/internal/llm"
	"newsflow/internal/natsflag"
	"newsflow/internal/store"
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

	databaseURL    string
	dbMaxConns     int
	dbMinIdle      int
	dbHealthPeriod time.Duration
	dbMaxLifetime  time.Duration
	migrate        bool

	redisURL     string
	cacheEntries int
	cacheTTL     time.Duration
	cachePrefix  string
	leaseTTL     time.Duration

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

	httpAddr    string
	pprof       bool
	lagInterval time.Duration
	lagTarget   time.Duration
	maxReplicas int
}

func (c *runConfig) register(fs *flag.FlagSet) {
	c.conn.Register(fs)
	c.stream.Register(fs)
	fs.StringVar(&c.durable, "consumer", consumer.DefaultDurable, "durable pull consumer shared by all workers")
	fs.DurationVar(&c.ackWait, "ack-wait", 30*time.Second, "time JetStream waits for an ack before redelivering; held messages are kept alive every ack-wait/3")
	fs.IntVar(&c.maxDeliver, "max-deliver", 10, "deliveries of a message before it is dead-lettered")
	c.backOff = durationList{time.Second, 5 * time.Second, 30 * time.Second, time.Minute, 5 * time.Minute}
	fs.Var(&c.backOff, "backoff", "comma-separated nak delays by delivery count, the last repeating")
	fs.IntVar(&c.maxAckPend, "max-ack-pending", 20000, "messages delivered and not yet acked, across all workers")
	fs.IntVar(&c.fetchBatch, "fetch-batch", 500, "messages each pull request asks for (prefetch)")
	fs.IntVar(&c.maxMsgBytes, "max-message-bytes", 64<<10, "largest accepted message; larger ones are dead-lettered")
	fs.StringVar(&c.dlqStream, "dlq-stream", consumer.DefaultDLQStream, "dead-letter stream")
	fs.StringVar(&c.dlqPrefix, "dlq-subject-prefix", consumer.DefaultDLQSubjectPrefix, "dead-letter subject prefix")

	fs.IntVar(&c.batchSize, "batch-size", 100, "flush a batch at this many messages")
	fs.IntVar(&c.batchBytes, "batch-bytes", 1<<20, "flush a batch before its payloads exceed this many bytes")
	fs.DurationVar(&c.batchWait, "batch-wait", 5*time.Second, "flush a batch this long after its first message")
	fs.DurationVar(&c.batchIdle, "batch-idle", 100*time.Millisecond, "flush a batch once no message arrived for this long (up to twice that); 0 waits out --batch-wait")
	fs.IntVar(&c.committers, "committers", 4, "batches enriched and committed at once")
	fs.DurationVar(&c.commitTimeout, "commit-timeout", 10*time.Second, "bound on one commit attempt")
	fs.DurationVar(&c.grace, "grace", 25*time.Second, "on SIGTERM, time to finish and ack the open batches before handing the rest back")

	fs.StringVar(&c.databaseURL, "database-url", "", "Postgres URL; empty means SQLite at <data-dir>/newsflow.db")
	fs.IntVar(&c.dbMaxConns, "db-max-conns", 8, "Postgres pool size")
	fs.IntVar(&c.dbMinIdle, "db-min-idle-conns", 2, "Postgres idle connections kept ready")
	fs.DurationVar(&c.dbHealthPeriod, "db-health-check-period", 30*time.Second, "Postgres idle connection check interval")
	fs.DurationVar(&c.dbMaxLifetime, "db-max-conn-lifetime", 30*time.Minute, "Postgres connection lifetime")
	fs.BoolVar(&c.migrate, "migrate", true, "apply schema migrations at start")

	fs.StringVar(&c.redisURL, "redis-url", "", "Redis URL for the shared LLM cache; empty means in-process cache only")
	fs.IntVar(&c.cacheEntries, "cache-entries", 100000, "in-process cache capacity in stories")
	fs.DurationVar(&c.cacheTTL, "cache-ttl", 24*time.Hour, "lifetime of a cached enrichment")
	fs.StringVar(&c.cachePrefix, "cache-prefix", "newsflow:", "prefix of Redis keys")
	fs.DurationVar(&c.leaseTTL, "cache-lease-ttl", 30*time.Second, "lifetime of the cluster-wide single-flight lease (extended while the owner works)")

	fs.StringVar(&c.llmProvider, "llm-provider", "", "offline, none, gemini or openai; empty means offline")
	fs.StringVar(&c.llmModel, "llm-model", "", "model name; empty means the provider's default")
	fs.StringVar(&c.geminiKey, "gemini-api-key", "", "Gemini API key")
	fs.StringVar(&c.openaiKey, "openai-api-key", "", "OpenAI(-compatible) API key")
	fs.StringVar(&c.openaiBaseURL, "openai-base-url", "", "OpenAI-compatible API root, e.g. http://127.0.0.1:11434/v1 for Ollama")
	fs.IntVar(&c.llmConcurrency, "llm-concurrency", 8, "LLM calls in flight at once")
	fs.IntVar(&c.llmRPM, "llm-rpm", 0, "LLM requests per minute; 0 is unlimited")
	fs.IntVar(&c.llmTPM, "llm-tpm", 0, "LLM tokens per minute; 0 is unlimited")
	fs.DurationVar(&c.llmTimeout, "llm-timeout", 30*time.Second, "bound on one LLM call")
	fs.IntVar(&c.llmRetries, "llm-max-retries", 3, "retries of an LLM call after 429, 5xx or network errors")
	fs.IntVar(&c.breakerFailures, "llm-breaker-failures", 5, "failed calls in a row that open the circuit breaker")
	fs.DurationVar(&c.breakerCooldown, "llm-breaker-cooldown", 30*time.Second, "time the open breaker waits before a probe call")
	fs.Float64Var(&c.priceIn, "llm-price-input", 0, "price per 1000 input tokens, for the cost metric")
	fs.Float64Var(&c.priceOut, "llm-price-output", 0, "price per 1000 output tokens, for the cost metric")

	fs.StringVar(&c.httpAddr, "http-addr", "127.0.0.1:8081", "address of /metrics, /healthz and /readyz (port 0 picks a free one)")
	fs.BoolVar(&c.pprof, "pprof", false, "serve Go's /debug/pprof profiles on --http-addr")
	fs.DurationVar(&c.lagInterval, "lag-interval", 5*time.Second, "consumer lag polling interval; 0 disables the poller")
	fs.DurationVar(&c.lagTarget, "lag-target", 5*time.Minute, "drain time the replica hint aims for")
	fs.IntVar(&c.maxReplicas, "max-replicas", 0, "cap of the replica hint, e.g. what the LLM account's rate limit allows; 0 is none")
}

// validate checks limits that span stages; each stage validates its own.
func (c *runConfig) validate() error {
	switch {
	case c.batchWait+c.commitTimeout >= c.ackWait:
		return fmt.Errorf("--batch-wait (%s) plus --commit-timeout (%s) must be less than --ack-wait (%s), or an open batch could be redelivered while it waits", c.batchWait, c.commitTimeout, c.ackWait)
	case c.batchSize > c.maxAckPend:
		return fmt.Errorf("--batch-size (%d) must not exceed --max-ack-pending (%d), or a batch could never fill", c.batchSize, c.maxAckPend)
	case c.batchIdle < 0:
		return fmt.Errorf("--batch-idle must be ≥ 0, got %s", c.batchIdle)
	case c.maxDeliver < 1:
		return fmt.Errorf("--max-deliver must be ≥ 1, got %d", c.maxDeliver)
	case c.grace <= 0:
		return fmt.Errorf("--grace must be > 0, got %s", c.grace)
	case c.dbMaxConns < 1:
		return fmt.Errorf("--db-max-conns must be ≥ 1, got %d", c.dbMaxConns)
	}
	_, err := c.stream.Config()
	return err
}

func (c *runConfig) consumerConfig() consumer.Config {
	sc, _ := c.stream.Config() // checked by validate
	return consumer.Config{
		Stream: sc, Durable: c.durable, AckWait: c.ackWait, MaxDeliver: c.maxDeliver,
		BackOff: c.backOff, MaxAckPending: c.maxAckPend, FetchBatch: c.fetchBatch, MaxMessageBytes: c.maxMsgBytes,
		DLQStream: c.dlqStream, DLQSubjectPrefix: c.dlqPrefix,
	}
}

func (c *runConfig) workerConfig() worker.Config {
	return worker.Config{
		Batch:      batcher.Config{MaxMessages: c.batchSize, MaxBytes: c.batchBytes, MaxWait: c.batchWait, MaxIdle: c.batchIdle},
		Committers: c.committers, CommitTimeout: c.commitTimeout, DrainTimeout: c.grace,
	}
}

func (c *runConfig) poolConfig() store.PoolConfig {
	return store.PoolConfig{MaxConns: int32(c.dbMaxConns), MinIdleConns: int32(c.dbMinIdle),
		HealthCheckPeriod: c.dbHealthPeriod, MaxConnLifetime: c.dbMaxLifetime}
}

func (c *runConfig) cacheConfig() cache.Config {
	return cache.Config{MemoryEntries: c.cacheEntries, RedisTTL: c.cacheTTL, KeyPrefix: c.cachePrefix, LeaseTTL: c.leaseTTL}
}

func (c *runConfig) providerConfig() llm.ProviderConfig {
	return llm.ProviderConfig{Model: c.llmModel, GeminiAPIKey: c.geminiKey, OpenAIAPIKey: c.openaiKey,
		OpenAIBaseURL: c.openaiBaseURL, Concurrency: c.llmConcurrency}
}

func (c *runConfig) clientConfig() llm.ClientConfig {
	return llm.ClientConfig{RequestsPerMinute: c.llmRPM, TokensPerMinute: c.llmTPM, Concurrency: c.llmConcurrency,
		Timeout: c.llmTimeout, MaxRetries: c.llmRetries, BreakerFailures: c.breakerFailures,
		BreakerCooldown: c.breakerCooldown, PricePer1KInput: c.priceIn, PricePer1KOutput: c.priceOut}
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

func (d *durationList) Set(s string) error {
	var out durationList
	for _, p := range envflag.SplitList(s) {
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
