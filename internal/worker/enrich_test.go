package worker_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"newsflow/internal/batcher"
	"newsflow/internal/cache"
	"newsflow/internal/consumer"
	"newsflow/internal/enrich"
	"newsflow/internal/llm"
	"newsflow/internal/llm/llmtest"
	"newsflow/internal/natstest"
	"newsflow/internal/news"
	"newsflow/internal/redistest"
	"newsflow/internal/story"
	"newsflow/internal/stream"
	"newsflow/internal/worker"
)

// The tests in this file run the real enrichment parts as cmd/worker wires
// them (llm provider → llm.Client → cache.Tiered → enrich.Enricher, the
// client as the pipeline's Gate) against fake LLM servers from llmtest.

// cacheAdapter fits cache.Tiered to enrich.Cache, as cmd/worker does.
type cacheAdapter struct{ t *cache.Tiered }

func (a cacheAdapter) GetMany(ctx context.Context, keys []string) (map[string][]byte, error) {
	return a.t.GetMany(ctx, keys)
}

func (a cacheAdapter) Do(ctx context.Context, key string, fn func(context.Context) ([]byte, error)) ([]byte, bool, error) {
	v, src, err := a.t.Do(ctx, key, fn)
	return v, src == cache.SourceComputed, err
}

// proc is what one worker process owns: its NATS connection, LLM client,
// Redis client, cache and metrics registry.
type proc struct {
	*running
	js     jetstream.JetStream
	client *llm.Client
	tiered *cache.Tiered
	enr    *enrich.Enricher
	ids    *story.Identifier // nil unless procConfig.nearDup
	reg    *prometheus.Registry
}

// procConfig configures one process; zero fields take the defaults noted.
type procConfig struct {
	provider string // "openai" (default) or "gemini"
	client   llm.ClientConfig
	cache    cache.Config // KeyPrefix: set it when redisURL is set
	redisURL string       // "": in-process cache only
	cluster  bool         // redisURL is a Redis Cluster's
	worker   worker.Config
	consumer func(*consumer.Config) // adjusts the bundle's consumer config
	log      *zap.Logger            // nil: the test's logger
	nearDup  bool                   // assign story ids (on the process's Redis client, under cache.KeyPrefix)
}

// startProc builds one process's enrichment stack against fake, as
// cmd/worker's buildEnricher does, and runs a worker with it on the bundle's
// stream, on a NATS connection of its own.
func (b *bundle) startProc(t *testing.T, fake *llmtest.Server, pc procConfig) *proc {
	t.Helper()
	log := pc.log
	if log == nil {
		log = zaptest.NewLogger(t)
	}
	p := &proc{reg: prometheus.NewRegistry()}

	pc.client.Concurrency = max(pc.client.Concurrency, 8)
	pcfg := llm.ProviderConfig{Concurrency: pc.client.Concurrency}
	if pc.provider == "" {
		pc.provider = llm.ProviderOpenAI
	}
	if pc.provider == llm.ProviderGemini {
		pcfg.GeminiBaseURL, pcfg.GeminiAPIKey = fake.URL, fake.APIKey()
	} else {
		pcfg.OpenAIBaseURL, pcfg.OpenAIAPIKey = fake.URL, fake.APIKey()
	}
	provider, err := llm.NewProvider(pc.provider, pcfg)
	if err != nil {
		t.Fatal(err)
	}
	if p.client, err = llm.NewClient(provider, pc.client, log, p.reg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.client.Close)
	var uc redis.UniversalClient
	if pc.redisURL != "" {
		rdb, err := cache.NewRedisClient(pc.redisURL, pc.cluster, story.ScriptReadTimeout)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = rdb.Close() })
		uc = rdb
	}
	if p.tiered, err = cache.New(pc.cache, uc, log, p.reg); err != nil {
		t.Fatal(err)
	}
	if pc.nearDup {
		if p.ids, err = story.New(story.Config{KeyPrefix: pc.cache.KeyPrefix}, uc, log, p.reg); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.ids.Close) // registered before the worker's stop, so it runs after it
		pc.worker.Stories = p.ids
	}
	t.Cleanup(func() { _ = p.tiered.Close() })
	call := func(ctx context.Context, m news.Message) (news.Enrichment, news.Usage, error) {
		r, err := p.client.Enrich(ctx, m)
		return r.Enrichment, r.Usage, err
	}
	prov, model := p.client.Names()
	p.enr, err = enrich.New(enrich.Config{Provider: prov, Model: model, PromptVersion: llm.PromptVersion, Concurrency: pc.client.Concurrency},
		cacheAdapter{p.tiered}, call, log, p.reg)
	if err != nil {
		t.Fatal(err)
	}

	p.js, _ = natstest.JetStream(t)
	ccfg := b.cfg
	if pc.consumer != nil {
		pc.consumer(&ccfg)
	}
	p.running = startWith(t, p.js, ccfg, pc.worker, b.store, p.enr, p.client, p.reg, log)
	return p
}

// startWith is start with an enricher and a gate, on a given connection and
// consumer config, registering metrics on reg.
func startWith(t *testing.T, js jetstream.JetStream, ccfg consumer.Config, cfg worker.Config, st worker.Store,
	enr worker.Enricher, gate worker.Gate, reg prometheus.Registerer, log *zap.Logger) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cons, err := consumer.New(ctx, js, ccfg, log, reg)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	w, err := worker.New(cfg, cons, st, enr, gate, log, reg)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	r := &running{w: w, cancel: cancel, done: make(chan error, 1)}
	go func() {
		r.done <- w.Run(ctx)
		cons.Close()
	}()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// metric sums the samples of a counter or gauge whose labels include the
// given name=value pairs.
func metric(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					found = found || (lp.GetName() == labels[i] && lp.GetValue() == labels[i+1])
				}
				if !found {
					continue next
				}
			}
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

// story is the message of copy n of story i: every copy shares title and
// body (so the content hash) and has its own id and source.
func (b *bundle) story(i, n int) news.Message {
	return news.Message{
		ID:     fmt.Sprintf("%s:%d:%d", b.name, i, n),
		Source: fmt.Sprintf("channel%d", n),
		Title:  fmt.Sprintf("Story %d of %s", i, b.name),
		Body:   fmt.Sprintf("What happened in story %d. More details follow.", i),
	}
}

func (b *bundle) publishMsg(t *testing.T, m news.Message) {
	t.Helper()
	b.publish(t, encode(t, m), m.ID)
}

// checkEnriched fails the test unless the articles table holds want rows,
// each carrying the enrichment the fake answers for its story and the
// model's name.
func (b *bundle) checkEnriched(t *testing.T, want int, model string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), b.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(t.Context()))
	rows, err := conn.Query(t.Context(), "SELECT id, title, body, summary, category, importance, llm_model FROM articles")
	if err != nil {
		t.Fatal(err)
	}
	n, bad := 0, 0
	for rows.Next() {
		var id, title, body string
		var got news.Enrichment
		var importance int16
		if err := rows.Scan(&id, &title, &body, &got.Summary, &got.Category, &importance, &got.Model); err != nil {
			t.Fatal(err)
		}
		n++
		got.Importance = int(importance)
		exp := llmtest.Expected(title, body)
		exp.Language, exp.Model = "", model
		if got != exp {
			if bad++; bad <= 5 {
				t.Errorf("row %s: enrichment %+v, want %+v", id, got, exp)
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != want || bad > 0 {
		t.Fatalf("%d rows (want %d), %d without the right enrichment", n, want, bad)
	}
}

func noDeadLetters(t *testing.T, b *bundle) {
	t.Helper()
	if n := b.dlqCount(t); n != 0 {
		s, err := b.js.Stream(t.Context(), b.name+"_DLQ")
		if err == nil {
			if msg, err := s.GetMsg(t.Context(), 1); err == nil {
				t.Errorf("first dead letter: %s", msg.Header.Get(stream.HeaderError))
			}
		}
		t.Fatalf("%d dead letters, want none", n)
	}
}

// TestWorker_EnrichThreeWorkersOneCallPerStory: three worker processes
// (each its own NATS connection, consumer, LLM client, Redis client and
// cache) share one stream of 3,000 messages, 40 % of them reposts published
// back to back so that copies of a story reach different workers at the same
// instant. Every unique story costs exactly one LLM call, cluster-wide: on
// the shared Redis, and on a private three-master Redis Cluster (where the
// stories' keys, leases and wake-ups spread over all three masters).
func TestWorker_EnrichThreeWorkersOneCallPerStory(t *testing.T) {
	t.Parallel()
	t.Run("Redis", func(t *testing.T) {
		t.Parallel()
		testThreeWorkersOneCall(t, redistest.PatientURL(), nil, redistest.Prefix(t, redistest.Client(t)))
	})
	t.Run("RedisCluster", func(t *testing.T) {
		t.Parallel()
		cl := redistest.StartCluster(t, 3)
		testThreeWorkersOneCall(t, redistest.Patient(cl.URL()), cl, "newsflow-test:")
	})
}

// testThreeWorkersOneCall runs the three workers on redisURL, a cluster's
// when cl is not nil (the story index is on then too, on the same client).
func testThreeWorkersOneCall(t *testing.T, redisURL string, cl *redistest.Cluster, prefix string) {
	cluster := cl != nil
	b := setup(t)
	fake := llmtest.NewOpenAIServer(t, llmtest.Options{Latency: 30 * time.Millisecond})
	procs := make([]*proc, 3)
	for i := range procs {
		procs[i] = b.startProc(t, fake, procConfig{
			cache:    cache.Config{KeyPrefix: prefix, CallTimeout: redistest.PatientTimeout},
			redisURL: redisURL,
			cluster:  cluster,
			worker:   worker.Config{Batch: batcher.Config{MaxMessages: 20, MaxWait: 50 * time.Millisecond}},
			consumer: func(c *consumer.Config) { c.FetchBatch = 4 },
			nearDup:  cluster,
		})
	}

	// 1,800 stories: 400 of them in bursts of 4 copies (1,200 reposts, 40 %
	// of the 3,000 messages), the other 1,400 once.
	const stories, total = 1800, 3000
	sent := 0
	for i := range stories {
		copies := 1
		if i%9 < 2 {
			copies = 4
		}
		for n := range copies {
			b.publishMsg(t, b.story(i, n))
			sent++
		}
	}
	b.flushPublishes(t)
	if sent != total {
		t.Fatalf("published %d messages, want %d", sent, total)
	}
	b.drained(t, total, 2*time.Minute)
	noDeadLetters(t, b)
	b.checkEnriched(t, total, procs[0].client.Model())

	if got := fake.Calls(); got != stories {
		t.Errorf("LLM calls = %d for %d unique stories, want exactly one each", got, stories)
	}
	if got := fake.Titles(); got != stories {
		t.Errorf("LLM asked about %d stories, want %d", got, stories)
	}
	var twice []string
	for i := range stories {
		if title := b.story(i, 0).Title; fake.CallsFor(title) != 1 {
			twice = append(twice, fmt.Sprintf("%q: %d", title, fake.CallsFor(title)))
		}
	}
	if len(twice) > 0 {
		t.Errorf("%d stories not called exactly once, e.g. %v", len(twice), twice[:min(5, len(twice))])
	}

	var calls, shared, clusterWaits, msgs [3]float64
	var sumCalls, sumWaits float64
	for i, p := range procs {
		msgs[i] = float64(p.w.Totals().Messages.Load())
		calls[i] = float64(p.enr.Totals().Calls.Load())
		shared[i] = metric(t, p.reg, "newsflow_enrich_stories_total", "result", "shared")
		clusterWaits[i] = metric(t, p.reg, "newsflow_cache_singleflight_waits_total", "scope", "cluster")
		sumCalls += calls[i]
		sumWaits += clusterWaits[i]
		if msgs[i] == 0 {
			t.Errorf("worker %d committed no messages: the three must share the stream", i)
		}
		if p.tiered.Degraded() {
			t.Errorf("worker %d: cache degraded", i)
		}
		if p.ids != nil && p.ids.Degraded() {
			t.Errorf("worker %d: story index degraded", i)
		}
	}
	if cluster { // the stories' values must have spread over every master
		for i, n := range cl.Keys(t) {
			if n == 0 {
				t.Errorf("cluster node %d holds no keys", i)
			}
		}
	}
	if sumCalls != stories {
		t.Errorf("the enrichers counted %v calls, want %d", sumCalls, stories)
	}
	// The bursts must really have met on different workers, or the test
	// proves nothing about the cluster-wide single-flight.
	if sumWaits == 0 {
		t.Errorf("no worker ever waited on another's lease: the bursts did not overlap across workers")
	}
	t.Logf("messages per worker %v; LLM calls per worker %v (%.2f per unique story); stories shared from another worker's call %v; cluster lease waits %v",
		msgs, calls, float64(fake.Calls())/stories, shared, clusterWaits)
}

// TestWorker_EnrichRedisKilled: the shared Redis dies mid-run: a private
// redis-server, or one master of a private three-master Redis Cluster. The
// workers go on with their in-process caches and direct LLM calls: nothing
// is lost, nothing dead-lettered, every row enriched; the caches report
// degraded. When Redis returns (the master on its port, with its
// nodes.conf) they recover by themselves and new values land in Redis again.
func TestWorker_EnrichRedisKilled(t *testing.T) {
	t.Parallel()
	t.Run("Redis", func(t *testing.T) {
		t.Parallel()
		srv := redistest.StartServer(t)
		testRedisKilled(t, srv.URL(), false, srv)
	})
	t.Run("RedisCluster", func(t *testing.T) {
		t.Parallel()
		cl := redistest.StartCluster(t, 3)
		testRedisKilled(t, cl.URL(), true, cl.Nodes[1])
	})
}

// testRedisKilled runs two workers on redisURL and kills srv (the Redis, or
// one master of the cluster) a third into the run.
func testRedisKilled(t *testing.T, redisURL string, cluster bool, srv *redistest.Server) {
	b := setup(t)
	fake := llmtest.NewOpenAIServer(t, llmtest.Options{Latency: 10 * time.Millisecond})
	const prefix = "newsflow-test:"
	procs := make([]*proc, 2)
	for i := range procs {
		procs[i] = b.startProc(t, fake, procConfig{
			cache:    cache.Config{KeyPrefix: prefix},
			redisURL: redisURL,
			cluster:  cluster,
			worker:   worker.Config{Batch: batcher.Config{MaxMessages: 20, MaxWait: 50 * time.Millisecond}},
			consumer: func(c *consumer.Config) { c.FetchBatch = 10 },
		})
	}
	sent := 0
	publish := func(from, to int) {
		for i := from; i < to; i++ {
			for n := range 1 + i%3 { // a third of the stories once, a third twice, a third three times
				b.publishMsg(t, b.story(i, n))
				sent++
			}
		}
		b.flushPublishes(t)
	}
	publish(0, 300)
	eventually(t, time.Minute, "a third of the rows committed", func() (bool, string) {
		n, err := b.store.Count(t.Context())
		return err == nil && n >= int64(sent/3), fmt.Sprintf("%d rows, %v", n, err)
	})
	srv.Kill()
	publish(300, 600)
	b.drained(t, int64(sent), 2*time.Minute)
	noDeadLetters(t, b)
	b.checkEnriched(t, sent, procs[0].client.Model())
	for i, p := range procs {
		if !p.tiered.Degraded() {
			t.Errorf("worker %d: cache not degraded with Redis dead", i)
		}
		if got := metric(t, p.reg, "newsflow_cache_redis_degraded"); got != 1 {
			t.Errorf("worker %d: newsflow_cache_redis_degraded = %v, want 1", i, got)
		}
	}
	t.Logf("%d messages of 600 stories: %d LLM calls (Redis down for half the run)", sent, fake.Calls())

	// Redis returns. A degraded cache probes it when used, at most once a
	// second: keep a trickle of new stories flowing until both recovered.
	srv.Start()
	next := 600
	eventually(t, 30*time.Second, "both caches recovered", func() (bool, string) {
		b.publishMsg(t, b.story(next, 0))
		next++
		sent++
		d0, d1 := procs[0].tiered.Degraded(), procs[1].tiered.Degraded()
		return !d0 && !d1, fmt.Sprintf("degraded: %t, %t", d0, d1)
	})
	b.flushPublishes(t)
	b.drained(t, int64(sent), time.Minute)

	// A new story now lands in Redis.
	m := b.story(next, 0)
	b.publishMsg(t, m)
	sent++
	b.flushPublishes(t)
	b.drained(t, int64(sent), time.Minute)
	rdb, err := cache.NewRedisClient(redisURL, cluster, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rdb.Close() }()
	key := prefix + "llm:" + procs[0].enr.Key(m.ContentHash())
	if n, err := rdb.Exists(t.Context(), key).Result(); err != nil || n != 1 {
		t.Fatalf("value of the story enriched after recovery not in Redis: exists=%d, %v", n, err)
	}
	noDeadLetters(t, b)
	b.checkEnriched(t, sent, procs[0].client.Model())
}

// TestWorker_EnrichLLMOutage: the LLM answers 503, then 429 with
// Retry-After, for longer than the client's retries last, so its circuit
// breaker opens. The pipeline holds its work meanwhile: no message is
// naked or dead-lettered, and every one is enriched once the LLM recovers.
func TestWorker_EnrichLLMOutage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	fake := llmtest.NewGeminiServer(t, llmtest.Options{Latency: 5 * time.Millisecond})
	fake.FailNext(40, 503, "")
	fake.FailNext(8, 429, "1")
	p := b.startProc(t, fake, procConfig{
		provider: llm.ProviderGemini,
		client: llm.ClientConfig{Concurrency: 4, MaxRetries: 2, RetryBaseDelay: 10 * time.Millisecond,
			RetryMaxDelay: 50 * time.Millisecond, BreakerFailures: 3, BreakerCooldown: 200 * time.Millisecond},
		worker: worker.Config{Batch: batcher.Config{MaxMessages: 50, MaxWait: 50 * time.Millisecond},
			RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond},
		consumer: func(c *consumer.Config) {
			c.MaxDeliver = 2
			c.BackOff = []time.Duration{100 * time.Millisecond}
		},
	})
	const stories = 200
	sent := 0
	for i := range stories {
		for n := range 1 + i%2 {
			b.publishMsg(t, b.story(i, n))
			sent++
		}
	}
	b.flushPublishes(t)
	b.drained(t, int64(sent), time.Minute)
	noDeadLetters(t, b)
	b.checkEnriched(t, sent, p.client.Model())
	if got := fake.Answered(); got != stories {
		t.Errorf("%d stories answered, want each of the %d once", got, stories)
	}
	if got := metric(t, p.reg, "newsflow_llm_breaker_rejections_total"); got == 0 {
		t.Errorf("the breaker never refused a call: the outage did not open it")
	}
	if got := metric(t, p.reg, "newsflow_messages_failed_total"); got != 0 {
		t.Errorf("%v messages naked during the outage, want 0 (work held)", got)
	}
	t.Logf("%d requests for %d stories (48 failed); breaker refused %v calls", fake.Calls(), stories,
		metric(t, p.reg, "newsflow_llm_breaker_rejections_total"))
}

// TestWorker_EnrichAuthError: the LLM rejects the API key (401) for a while.
// That says nothing about the stories: the pipeline treats it as an outage
// (the breaker opens, work is held) instead of burning deliveries into the
// dead-letter stream, and enriches everything once the key is accepted.
func TestWorker_EnrichAuthError(t *testing.T) {
	t.Parallel()
	b := setup(t)
	fake := llmtest.NewOpenAIServer(t, llmtest.Options{})
	fake.FailNext(12, 401, "")
	p := b.startProc(t, fake, procConfig{
		client: llm.ClientConfig{Concurrency: 4, MaxRetries: 1, RetryBaseDelay: 10 * time.Millisecond,
			RetryMaxDelay: 50 * time.Millisecond, BreakerFailures: 3, BreakerCooldown: 200 * time.Millisecond},
		worker: worker.Config{Batch: batcher.Config{MaxMessages: 25, MaxWait: 50 * time.Millisecond},
			RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond},
		consumer: func(c *consumer.Config) {
			c.MaxDeliver = 2
			c.BackOff = []time.Duration{100 * time.Millisecond}
		},
	})
	const stories = 50
	for i := range stories {
		b.publishMsg(t, b.story(i, 0))
	}
	b.flushPublishes(t)
	b.drained(t, stories, time.Minute)
	noDeadLetters(t, b)
	b.checkEnriched(t, stories, p.client.Model())
	if got := metric(t, p.reg, "newsflow_messages_failed_total"); got != 0 {
		t.Errorf("%v messages naked on an auth error, want 0 (work held)", got)
	}
	if got := metric(t, p.reg, "newsflow_llm_breaker_rejections_total"); got == 0 {
		t.Errorf("the breaker never refused a call: auth errors did not open it")
	}
}

// TestWorker_EnrichGarbage: an answer that is not valid JSON is retried once
// inside the provider. One garbage answer costs a second request and nothing
// else. A story whose answers stay garbage is naked with backoff and, on its
// last delivery, dead-lettered with the error; the rest of its batch commits.
func TestWorker_EnrichGarbage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	fake := llmtest.NewOpenAIServer(t, llmtest.Options{})
	p := b.startProc(t, fake, procConfig{
		worker: worker.Config{Batch: batcher.Config{MaxMessages: 50, MaxWait: 100 * time.Millisecond}},
		consumer: func(c *consumer.Config) {
			c.MaxDeliver = 2
			c.BackOff = []time.Duration{100 * time.Millisecond}
		},
	})

	// Garbage once: the retry inside the provider gets a good answer.
	fake.GarbageNext(1)
	for i := range 5 {
		b.publishMsg(t, b.story(i, 0))
	}
	b.flushPublishes(t)
	b.drained(t, 5, 30*time.Second)
	b.checkEnriched(t, 5, p.client.Model())
	if got := fake.Calls(); got != 6 {
		t.Errorf("%d requests for 5 stories and one garbage answer, want 6", got)
	}
	if got := metric(t, p.reg, "newsflow_messages_failed_total"); got != 0 {
		t.Fatalf("%v messages naked after one garbage answer, want 0", got)
	}

	// Garbage for good: reposts of the 5 stories (cache hits) and one new
	// story X, the only one that asks the LLM, gets garbage on both
	// attempts of both its deliveries.
	fake.GarbageNext(4)
	for i := range 5 {
		b.publishMsg(t, b.story(i, 1))
	}
	x := b.story(99, 0)
	b.publishMsg(t, x)
	b.flushPublishes(t)
	b.drained(t, 10, 30*time.Second)
	eventually(t, 10*time.Second, "one dead letter", func() (bool, string) {
		n := b.dlqCount(t)
		return n == 1, fmt.Sprintf("%d dead letters", n)
	})
	b.checkEnriched(t, 10, p.client.Model())
	if got := fake.CallsFor(x.Title); got != 4 {
		t.Errorf("%d requests for the garbage story, want 4 (2 deliveries × 2 attempts)", got)
	}
	if got := fake.Calls(); got != 10 {
		t.Errorf("%d requests in all, want 10", got)
	}
	if got := metric(t, p.reg, "newsflow_messages_failed_total"); got != 1 {
		t.Errorf("%v naks, want 1 (the garbage story's first delivery)", got)
	}
	s, err := b.js.Stream(t.Context(), b.name+"_DLQ")
	if err != nil {
		t.Fatal(err)
	}
	dl, err := s.GetMsg(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	reason := dl.Header.Get(stream.HeaderError)
	if !strings.Contains(reason, "does not match the schema") || dl.Header.Get(stream.HeaderDeliveries) != "2" {
		t.Errorf("dead letter: error %q after %s deliveries, want the schema error after 2", reason, dl.Header.Get(stream.HeaderDeliveries))
	}
	if got, err := news.Decode(dl.Data); err != nil || got.ID != x.ID {
		t.Errorf("dead letter holds %+v (%v), want message %s", got, err, x.ID)
	}
}

// TestWorker_EnrichTTLExpiry: once a story's cache entries expire, the next
// copy of it costs a new LLM call.
func TestWorker_EnrichTTLExpiry(t *testing.T) {
	t.Parallel()
	b := setup(t)
	fake := llmtest.NewOpenAIServer(t, llmtest.Options{})
	rdb := redistest.Client(t)
	prefix := redistest.Prefix(t, rdb)
	p := b.startProc(t, fake, procConfig{
		cache:    cache.Config{KeyPrefix: prefix, MemoryTTL: time.Second, RedisTTL: time.Second, CallTimeout: redistest.PatientTimeout},
		redisURL: redistest.PatientURL(),
		worker:   worker.Config{Batch: batcher.Config{MaxMessages: 10, MaxWait: 20 * time.Millisecond}},
	})
	m := b.story(1, 0)
	b.publishMsg(t, m)
	b.flushPublishes(t)
	b.drained(t, 1, 30*time.Second)
	if got := fake.CallsFor(m.Title); got != 1 {
		t.Fatalf("%d calls for the story, want 1", got)
	}
	key := prefix + "llm:" + p.enr.Key(m.ContentHash())
	if n, err := rdb.Exists(t.Context(), key).Result(); err != nil || n != 1 {
		t.Fatalf("story not cached in Redis under %s: exists=%d, %v", key, n, err)
	}
	eventually(t, 10*time.Second, "the Redis entry to expire", func() (bool, string) {
		n, err := rdb.Exists(t.Context(), key).Result()
		return err == nil && n == 0, fmt.Sprintf("exists=%d, %v", n, err)
	})
	again := b.story(1, 1) // same story, new id
	b.publishMsg(t, again)
	b.flushPublishes(t)
	b.drained(t, 2, 30*time.Second)
	if got := fake.CallsFor(m.Title); got != 2 {
		t.Fatalf("%d calls for the story after its TTL, want 2", got)
	}
	b.checkEnriched(t, 2, p.client.Model())
}

// TestWorker_DrainDuringLLMOutage: with the LLM failing (breaker open) the
// pipeline holds its messages; a SIGTERM whose grace ends before the LLM
// recovers hands them back, and the drain end line says how many are left
// for redelivery, at warn level.
func TestWorker_DrainDuringLLMOutage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	fake := llmtest.NewGeminiServer(t, llmtest.Options{})
	fake.FailNext(1_000_000, 503, "")
	core, logs := observer.New(zap.InfoLevel)
	log := zap.New(zapcore.NewTee(core, zaptest.NewLogger(t).Core()))
	p := b.startProc(t, fake, procConfig{
		provider: llm.ProviderGemini,
		client:   llm.ClientConfig{Concurrency: 4, MaxRetries: 0, BreakerFailures: 2, BreakerCooldown: time.Hour},
		worker: worker.Config{Batch: batcher.Config{MaxMessages: 10, MaxWait: 20 * time.Millisecond},
			RetryMin: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond, DrainTimeout: 300 * time.Millisecond},
		log: log,
	})
	const n = 50
	for i := range n {
		b.publishMsg(t, b.story(i, 0))
	}
	b.flushPublishes(t)
	eventually(t, 30*time.Second, "50 messages held with the breaker open", func() (bool, string) {
		held := metric(t, p.reg, "newsflow_messages_held")
		return held == n && p.client.BreakerOpen(), fmt.Sprintf("held %v, breaker open %v", held, p.client.BreakerOpen())
	})
	if err := p.stop(t); err != nil {
		t.Fatal(err)
	}
	ends := logs.FilterMessage("drain end").All()
	if len(ends) != 1 {
		t.Fatalf("%d drain end lines, want 1", len(ends))
	}
	fields := ends[0].ContextMap()
	if ends[0].Level != zap.WarnLevel || fields["messages"] != int64(0) || fields["unacked_left_for_redelivery"] != int64(n) {
		t.Errorf("drain end: level %s, fields %v; want warn, messages 0, unacked_left_for_redelivery %d", ends[0].Level, fields, n)
	}
}
