package story

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"newsflow/internal/await"
	"newsflow/internal/news"
	"newsflow/internal/redistest"
)

// variants returns n near-duplicate variants of story i.
func variants(i, n int) []news.Message {
	body := fmt.Sprintf("Story %d: %s", i, quakeBody)
	out := make([]news.Message, n)
	for v := range out {
		out[v] = news.Message{ID: fmt.Sprintf("s%d:v%d", i, v), Source: "s", Title: "Earthquake hits northern Chile", Body: body}
		switch v % 4 {
		case 1:
			out[v].Body += fmt.Sprintf("\nSubscribe: @channel%d", v)
		case 2:
			out[v].Title = "BREAKING: " + out[v].Title
		case 3:
			out[v].Body += fmt.Sprintf("\n📢 t.me/wire%d", v)
		}
	}
	return out
}

// TestIdentifier_RedisConcurrent: three identifiers (three workers) get
// variants of the same stories at the same instant, each in its own batch;
// every story ends with one story id.
func TestIdentifier_RedisConcurrent(t *testing.T) {
	t.Parallel()
	rdb := redistest.Client(t)
	prefix := redistest.Prefix(t, rdb)
	ids := make([]*Identifier, 3)
	for i := range ids {
		id, err := New(Config{KeyPrefix: prefix}, rdb, nil, prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		defer id.Close()
		ids[i] = id
	}
	const stories = 50
	for s := range stories {
		vs := variants(s, 3)
		rows := make([][]news.Article, len(ids))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for w, id := range ids {
			rows[w] = []news.Article{{Message: vs[w]}}
			wg.Go(func() {
				<-start
				id.Assign(t.Context(), rows[w])
			})
		}
		close(start)
		wg.Wait()
		for w := range ids {
			if ids[w].Degraded() {
				t.Fatalf("identifier %d degraded", w)
			}
			if rows[w][0].StoryID != rows[0][0].StoryID {
				t.Fatalf("story %d: workers 0 and %d gave its variants story ids %s and %s", s, w, rows[0][0].StoryID, rows[w][0].StoryID)
			}
		}
		own := 0
		for w := range ids {
			if rows[w][0].StoryID == rows[w][0].ContentHash {
				own++
			}
		}
		if own != 1 {
			t.Fatalf("story %d: %d variants are the story's founder, want exactly 1", s, own)
		}
	}
}

// TestIdentifier_RedisKilled: the index's Redis (a private redis-server)
// dies mid-run. Assign goes on in process, nothing fails, the identifier
// says it is degraded (metric too); when Redis returns it recovers by
// itself and new stories land in Redis again.
func TestIdentifier_RedisKilled(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), DialTimeout: 200 * time.Millisecond, ReadTimeout: 500 * time.Millisecond, MaxRetries: -1})
	defer func() { _ = rdb.Close() }()
	reg := prometheus.NewRegistry()
	id, err := New(Config{KeyPrefix: "nf:"}, rdb, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	defer id.Close()
	assign := func(s int) []news.Article {
		vs := variants(s, 2)
		rows := []news.Article{{Message: vs[0]}, {Message: vs[1]}}
		id.Assign(t.Context(), rows)
		if rows[0].StoryID != rows[1].StoryID {
			t.Fatalf("story %d: variants in one batch got two story ids", s)
		}
		return rows
	}
	assign(0)
	if n, _ := rdb.Keys(t.Context(), "nf:story:{g}:*").Result(); len(n) != 1 {
		t.Fatalf("index keys in Redis: %v, want one generation", n)
	}
	srv.Kill()
	for s := 1; s <= 5; s++ {
		assign(s)
	}
	if !id.Degraded() || testutil.ToFloat64(id.met.degraded) != 1 {
		t.Fatalf("degraded %v, gauge %v; want degraded with Redis dead", id.Degraded(), testutil.ToFloat64(id.met.degraded))
	}
	srv.Start()
	s := 6
	await.Until(t, 30*time.Second, "recovery after Redis returned", func() (bool, string) {
		if !id.Degraded() {
			return true, ""
		}
		assign(s) // a degraded identifier probes Redis when used, at most once a second
		s++
		return false, "degraded"
	})
	if testutil.ToFloat64(id.met.degraded) != 0 {
		t.Error("gauge still 1 after recovery")
	}
	rows := assign(1000)
	if n, err := rdb.HExists(t.Context(), id.redis.key(id.generation()), "m:"+string(rows[0].ContentHash[:])).Result(); err != nil || !n {
		t.Fatalf("story assigned after recovery not in Redis: %v, %v", n, err)
	}
}

// TestIdentifier_Window: a story stays joinable one to two windows: a
// variant in the next generation joins it (the previous generation is
// read), one two generations later founds a new story. Both indexes.
func TestIdentifier_Window(t *testing.T) {
	t.Parallel()
	rdb := redistest.Client(t)
	for _, index := range []string{"memory", "redis"} {
		t.Run(index, func(t *testing.T) {
			t.Parallel()
			var id *Identifier
			var err error
			if index == "redis" {
				id, err = New(Config{KeyPrefix: redistest.Prefix(t, rdb), Window: time.Hour}, rdb, nil, prometheus.NewRegistry())
			} else {
				id, err = New(Config{Window: time.Hour}, nil, nil, nil)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer id.Close()
			now := time.Date(2026, 3, 2, 10, 30, 0, 0, time.UTC)
			id.now = func() time.Time { return now }
			vs := variants(1, 4)
			assign := func(m news.Message) news.Article {
				rows := []news.Article{{Message: m}}
				id.Assign(t.Context(), rows)
				return rows[0]
			}
			first := assign(vs[0])
			now = now.Add(time.Hour)
			if got := assign(vs[1]); got.StoryID != first.StoryID {
				t.Errorf("a variant one window later founded its own story")
			}
			now = now.Add(2 * time.Hour)
			if got := assign(vs[2]); got.StoryID == first.StoryID {
				t.Errorf("a variant three windows later joined the old story")
			}
			if id.Degraded() {
				t.Error("degraded")
			}
		})
	}
}

// TestRedisIndex_OneSlot: the keys one script call names share a hash tag,
// so they fall in one Redis Cluster slot.
func TestRedisIndex_OneSlot(t *testing.T) {
	t.Parallel()
	for _, prefix := range []string{"newsflow:", "nf:", "a{b}:", ""} {
		r := &redisIndex{prefix: prefix}
		a, b := hashTag(r.key(41)), hashTag(r.key(42))
		if a != b || a == r.key(41) {
			t.Errorf("prefix %q: keys %q and %q hash by %q and %q, want one tag", prefix, r.key(41), r.key(42), a, b)
		}
	}
}

// hashTag returns the part of key Redis Cluster hashes: the text between
// the first '{' and the first '}' after it, when not empty, else key.
func hashTag(key string) string {
	if s := strings.IndexByte(key, '{'); s >= 0 {
		if e := strings.IndexByte(key[s+1:], '}'); e > 0 {
			return key[s+1 : s+1+e]
		}
	}
	return key
}

// TestIdentifier_RedisCluster: on a private three-master Redis Cluster the
// index works unchanged through a cluster client (its script's two keys
// share a slot): variants of one story get one story id, across batches
// and identifiers, and nothing degrades.
func TestIdentifier_RedisCluster(t *testing.T) {
	t.Parallel()
	rdb := redistest.StartCluster(t, 3).Client(t)
	var ids [2]*Identifier
	for i := range ids {
		id, err := New(Config{KeyPrefix: "nf:"}, rdb, nil, prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		defer id.Close()
		ids[i] = id
	}
	for s := range 10 {
		vs := variants(s, 4)
		first := []news.Article{{Message: vs[0]}, {Message: vs[1]}}
		ids[0].Assign(t.Context(), first)
		later := []news.Article{{Message: vs[2]}, {Message: vs[3]}}
		ids[1].Assign(t.Context(), later)
		for _, r := range append(first, later...) {
			if r.StoryID != first[0].ContentHash {
				t.Fatalf("story %d: variant %s got story id %s, want the first variant's %s", s, r.ID, r.StoryID, first[0].ContentHash)
			}
		}
	}
	for i, id := range ids {
		if id.Degraded() {
			t.Errorf("identifier %d degraded on the cluster", i)
		}
	}
}
