package story

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"newsflow/internal/news"
	"newsflow/internal/redishealth"
)

// Defaults of Config.
const (
	// DefaultWindow is how long a story stays joinable: index entries live
	// one to two windows.
	DefaultWindow = 72 * time.Hour
	// DefaultMaxMemory bounds the in-process index: at most twice this many
	// articles (two generations).
	DefaultMaxMemory = 200_000
	// DefaultKeyPrefix prefixes the Redis keys; the worker passes the cache's.
	DefaultKeyPrefix = "newsflow:"
	// ScriptReadTimeout is the read timeout the index's Redis client
	// should have: one script decides a whole batch.
	ScriptReadTimeout = 5 * time.Second
)

// memoryBytesPerArticle bounds the memory one article holds in the
// in-process index: its live heap and its share of the mappings (mapped.go).
// On the generated stream, whose unrelated stories share as few shingles as
// real news does (so nearly every band key is a bucket of its own), it was
// at most 1,806 bytes from 10,000 to 200,000 articles (2,102 with 32 bands),
// the most just after the bucket table doubled;
// TestMemoryBytesPerArticle_Bound checks it.
const memoryBytesPerArticle = 2000

// heapBytesPerArticle bounds the part of memoryBytesPerArticle on the Go
// heap where the index maps its arrays (mapsMemory; at most 192 bytes,
// measured as memoryBytesPerArticle): what the collector counts toward its
// goal and the soft memory limit.
const heapBytesPerArticle = 250

// generationBytes bounds what a generation holds beyond its articles'
// share, from its first article on: its last member chunk and hash chunk,
// a huge page each however little of them is used, and its bucket table and
// story table, each rounded up to a whole huge page or, smaller than that,
// on the heap (mapped.go). A small index holds mostly this;
// TestMemoryBytes_SmallIndex checks it.
const generationBytes = 4 * hugePage

// generationHeapBytes is the part of generationBytes on the Go heap where
// the index maps its arrays: a bucket table and a story table too small to
// map (under 1 MiB each), and the fixed part of the generation's lists.
const generationHeapBytes = hugePage

// MemoryBytes is the most memory the in-process index holds with
// Config.MaxMemory maxMemory (0 means DefaultMaxMemory): two full generations.
func MemoryBytes(maxMemory int) int64 {
	return twoGenerations(maxMemory, memoryBytesPerArticle, generationBytes)
}

// HeapBytes is the part of MemoryBytes(maxMemory) on the Go heap: all of it
// where the index maps no memory (other systems than Linux, mapped.go).
// While the system refuses a mapping, that array is on the heap too.
func HeapBytes(maxMemory int) int64 {
	if !mapsMemory {
		return MemoryBytes(maxMemory)
	}
	return twoGenerations(maxMemory, heapBytesPerArticle, generationHeapBytes)
}

// twoGenerations is what two full generations of maxMemory articles (0:
// DefaultMaxMemory) hold at perArticle bytes each and perGeneration more.
func twoGenerations(maxMemory int, perArticle, perGeneration int64) int64 {
	return 2 * (int64(cmp.Or(maxMemory, DefaultMaxMemory))*perArticle + perGeneration)
}

// Config configures an Identifier. New fills a zero field with its Default*.
type Config struct {
	// Off turns near-duplicate detection off: the story id is the content
	// hash (exact duplicates only).
	Off bool
	// Threshold is the estimated resemblance from which two texts are one
	// story, in (0, 1]. Default DefaultThreshold.
	Threshold float64
	// Window is how long a story stays joinable. Default DefaultWindow.
	Window time.Duration
	// MaxMemory bounds the in-process index, in articles per generation.
	// Default DefaultMaxMemory.
	MaxMemory int
	// KeyPrefix prefixes the Redis keys. Default DefaultKeyPrefix.
	KeyPrefix string
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	switch {
	case !(c.Threshold > 0 && c.Threshold <= 1):
		return fmt.Errorf("story: --near-dup-threshold must be in (0, 1], got %v", c.Threshold)
	case c.Window < time.Minute:
		return fmt.Errorf("story: --near-dup-window must be at least 1m, got %s", c.Window)
	case c.MaxMemory < 1 || c.MaxMemory > maxMembers:
		return fmt.Errorf("story: MaxMemory must be in [1, %d], got %d", maxMembers, c.MaxMemory)
	}
	return nil
}

func (c Config) withDefaults() Config {
	c.Threshold = cmp.Or(c.Threshold, DefaultThreshold)
	c.Window = cmp.Or(c.Window, DefaultWindow)
	c.MaxMemory = cmp.Or(c.MaxMemory, DefaultMaxMemory)
	c.KeyPrefix = cmp.Or(c.KeyPrefix, DefaultKeyPrefix)
	return c
}

// Identifier assigns story ids, through Redis when it has a client and
// Redis answers, else through its in-process index. Create it with New.
type Identifier struct {
	cfg   Config
	log   *zap.Logger
	mem   *memory
	redis *redisIndex // nil: in-process only
	met   *metrics
	now   func() time.Time
	// health says whether to ask Redis; it probes a degraded Redis.
	health *redishealth.Monitor

	// known remembers the story id of content hashes this process saw, so
	// an exact repost costs neither a sketch nor a Redis lookup: a content
	// hash's story never changes. Two generations of at most knownMax.
	knownMu    sync.Mutex
	known, was map[news.Hash]news.Hash
}

// knownMax bounds a generation of Identifier.known.
const knownMax = 100_000

func (id *Identifier) lookupKnown(h news.Hash) (news.Hash, bool) {
	if s, ok := id.known[h]; ok {
		return s, true
	}
	s, ok := id.was[h]
	return s, ok
}

func (id *Identifier) remember(h, story news.Hash) {
	if len(id.known) >= knownMax {
		id.was, id.known = id.known, make(map[news.Hash]news.Hash, knownMax)
	}
	id.known[h] = story
}

type metrics struct {
	matches   *prometheus.CounterVec
	checked   prometheus.Counter
	rejected  *prometheus.CounterVec
	memory    prometheus.GaugeFunc
	perMsg    prometheus.Histogram
	degraded  prometheus.Gauge
	kinds     [len(kindNames)]prometheus.Counter
	guards    [numGuards]prometheus.Counter
	collected []prometheus.Collector
}

// New returns an Identifier. rdb may be nil (in-process index only); reg and
// log may be nil.
func New(cfg Config, rdb redis.UniversalClient, log *zap.Logger, reg prometheus.Registerer) (*Identifier, error) {
	if log == nil {
		log = zap.NewNop()
	}
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	need := minMatches(cfg.Threshold)
	id := &Identifier{cfg: cfg, log: log.Named("story"), mem: newMemory(cfg.MaxMemory, need), now: time.Now,
		known: map[news.Hash]news.Hash{}}
	if rdb != nil {
		id.redis = &redisIndex{rdb: rdb, prefix: cfg.KeyPrefix, need: need, window: cfg.Window}
	}
	m := &metrics{
		matches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "newsflow_story_matches_total",
			Help: "Articles by how they got their story id: new (founded a story), exact (same content hash), near (resemblance), contained (short text inside a longer one).",
		}, []string{"kind"}),
		checked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "newsflow_story_candidates_checked_total",
			Help: "Near-duplicate candidates (LSH band hits) verified.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "newsflow_story_candidates_rejected_total",
			Help: "Near-duplicate candidates rejected, by guard: numbers, names, short, resemblance.",
		}, []string{"guard"}),
		memory: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "newsflow_story_index_memory_stories",
			Help: "Articles held by the in-process near-duplicate index.",
		}, func() float64 { return float64(id.mem.size()) }),
		perMsg: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "newsflow_story_assign_seconds_per_message",
			Help:    "Time to assign story ids, per batch divided by its messages.",
			Buckets: prometheus.ExponentialBuckets(1e-6, 4, 10),
		}),
		degraded: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "newsflow_story_redis_degraded",
			Help: "1 while Redis is unreachable and story ids come from the in-process index.",
		}),
	}
	for k := range kindNames {
		m.kinds[k] = m.matches.WithLabelValues(kindNames[k])
	}
	for g := Numbers; g < numGuards; g++ {
		m.guards[g] = m.rejected.WithLabelValues(guardNames[g])
	}
	m.collected = []prometheus.Collector{m.matches, m.checked, m.rejected, m.memory, m.perMsg, m.degraded}
	if reg != nil {
		for _, c := range m.collected {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("story: register metrics: %w", err)
			}
		}
	}
	id.met = m
	id.health = redishealth.New(rdb, redishealth.Config{
		Gauge:       m.degraded,
		Log:         id.log,
		DownMessage: "redis unreachable, story ids from the in-process index (variants on other workers may found other stories)",
		UpMessage:   "redis reachable again, story ids from the shared index",
	})
	return id, nil
}

// Off reports whether near-duplicate detection is off.
func (id *Identifier) Off() bool { return id.cfg.Off }

// Degraded reports whether Redis is configured but unreachable, so story
// ids come from the in-process index (variants that reach other workers may
// get other story ids, and cost an LLM call each, until Redis is back).
func (id *Identifier) Degraded() bool { return id.health.Degraded() }

// Close stops the background probe and releases the in-process index's
// memory (mapped.go). Assign after Close starts an empty index, whose
// memory another Close releases.
func (id *Identifier) Close() {
	id.health.Close()
	id.mem.close()
}

// Assign sets the StoryID of every row, computing ContentHash where it is
// unset. Rows are decided in order, so a row joins the story of an earlier
// row of the same batch. It never fails: when Redis fails it uses the
// in-process index and says so (Degraded).
func (id *Identifier) Assign(ctx context.Context, rows []news.Article) {
	start := time.Now()
	for i := range rows {
		if rows[i].ContentHash == (news.Hash{}) {
			rows[i].ContentHash = rows[i].Message.ContentHash()
		}
	}
	if id.cfg.Off {
		for i := range rows {
			rows[i].StoryID = rows[i].ContentHash
		}
		return
	}
	// One item per distinct content hash not seen before by this process;
	// its exact duplicates in the batch follow it without a sketch.
	const knownItem = -1
	first := make(map[news.Hash]int, len(rows))
	items := make([]item, 0, len(rows))
	of := make([]int, len(rows)) // row → item, or knownItem
	sketches := make([]Sketch, len(rows))
	id.knownMu.Lock()
	for i := range rows {
		if s, ok := id.lookupKnown(rows[i].ContentHash); ok {
			rows[i].StoryID, of[i] = s, knownItem
		}
	}
	id.knownMu.Unlock()
	for i := range rows {
		h := rows[i].ContentHash
		if of[i] == knownItem {
			continue
		}
		if j, ok := first[h]; ok {
			of[i] = j
			continue
		}
		first[h] = len(items)
		of[i] = len(items)
		sk := &sketches[len(items)]
		*sk = Extract(rows[i].Title, rows[i].Body)
		it := item{id: h, sk: sk}
		if !sk.Empty() {
			it.bands = bandKeys(&sk.Sig)
		}
		items = append(items, it)
	}
	var res []result
	if len(items) > 0 {
		res = id.assign(ctx, items)
		id.knownMu.Lock()
		for j := range items {
			id.remember(items[j].id, res[j].story)
		}
		id.knownMu.Unlock()
	}
	seen := make([]bool, len(items))
	for i := range rows {
		j := of[i]
		if j == knownItem {
			id.met.kinds[Exact].Inc()
			continue
		}
		rows[i].StoryID = res[j].story
		kind := res[j].kind
		if seen[j] {
			kind = Exact
		}
		seen[j] = true
		id.met.kinds[kind].Inc()
	}
	for _, r := range res {
		id.met.checked.Add(float64(r.checked))
		for g := Numbers; g < numGuards; g++ {
			if r.rejected[g] > 0 {
				id.met.guards[g].Add(float64(r.rejected[g]))
			}
		}
	}
	if len(rows) > 0 {
		id.met.perMsg.Observe(time.Since(start).Seconds() / float64(len(rows)))
	}
}

// generation returns the current generation number.
func (id *Identifier) generation() int64 {
	return id.now().UnixNano() / int64(id.cfg.Window)
}

// assign decides items in Redis when it is up, else in process.
func (id *Identifier) assign(ctx context.Context, items []item) []result {
	gen := id.generation()
	if id.health.Up() { // degraded: false at once, Redis is probed in the background
		res, err := id.redis.assign(ctx, gen, items)
		if err == nil {
			return res
		}
		if ctx.Err() == nil || !errors.Is(err, ctx.Err()) {
			id.health.Down(err)
		}
	}
	return id.mem.assign(gen, items)
}
