package story

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"newsflow/internal/gen"
	"newsflow/internal/news"
	"newsflow/internal/redistest"
)

func benchMessages(b *testing.B) []news.Message {
	g, err := gen.New(gen.Config{Seed: 1, BodyBytes: 1024})
	if err != nil {
		b.Fatal(err)
	}
	ms := make([]news.Message, 1024)
	for i := range ms {
		ms[i] = g.Next()
	}
	return ms
}

// BenchmarkExtract sketches generated 1 KiB stories; cpu-ns/op is the
// process's CPU time (on a shared machine ns/op counts waits for a core).
func BenchmarkExtract(b *testing.B) {
	ms := benchMessages(b)
	b.ReportAllocs()
	i := 0
	cpu0 := processCPU(b)
	for b.Loop() {
		m := &ms[i%len(ms)]
		_ = Extract(m.Title, m.Body)
		i++
	}
	b.ReportMetric(float64((processCPU(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// BenchmarkAssignMemory runs 20,000 generated 1 KiB messages (15 % exact
// reposts, as the plain bench) through a new in-process index in batches of
// 100 per iteration: the near-dup cost of the plain pipeline (content
// hashes are computed beforehand: near-dup off pays them too).
func BenchmarkAssignMemory(b *testing.B) { benchmarkAssignMemory(b, Config{}) }

// BenchmarkAssignMemoryRotating is BenchmarkAssignMemory with generations
// of 2,000 articles: ten rotations, as a long-running worker's index turns
// over, so most generations start after a full one.
func BenchmarkAssignMemoryRotating(b *testing.B) { benchmarkAssignMemory(b, Config{MaxMemory: 2000}) }

func benchmarkAssignMemory(b *testing.B, cfg Config) {
	g, err := gen.New(gen.Config{Seed: 1, BodyBytes: 1024, DupContent: 0.15})
	if err != nil {
		b.Fatal(err)
	}
	msgs := make([]news.Article, 20_000)
	for i := range msgs {
		msgs[i] = news.Article{Message: g.Next()}
		msgs[i].ContentHash = msgs[i].Message.ContentHash()
	}
	rows := make([]news.Article, len(msgs))
	b.ReportAllocs()
	cpu0 := processCPU(b)
	for b.Loop() {
		id, err := New(cfg, nil, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		copy(rows, msgs)
		for start := 0; start < len(rows); start += 100 {
			id.Assign(b.Context(), rows[start:start+100])
		}
		id.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(msgs)), "ns/msg")
	b.ReportMetric(float64((processCPU(b)-cpu0).Nanoseconds())/float64(b.N*len(msgs)), "cpu-ns/msg")
}

// processCPU returns the CPU time this process has used: on a shared
// machine ns/op counts the waits for a core too.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkAssignRedis assigns batches of 100 fresh generated stories
// through the Redis index on a private redis-server, and reports that
// server's CPU per message (INFO's used_cpu_user + used_cpu_sys): the
// script's cost, apart from whatever else the machine runs.
func BenchmarkAssignRedis(b *testing.B) {
	g, err := gen.New(gen.Config{Seed: 2, BodyBytes: 1024})
	if err != nil {
		b.Fatal(err)
	}
	srv := redistest.StartServer(b)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), ReadTimeout: ScriptReadTimeout})
	defer func() { _ = rdb.Close() }()
	id, err := New(Config{KeyPrefix: "nf:"}, rdb, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer id.Close()
	rows := make([]news.Article, 100)
	n := 0
	cpu0 := serverCPU(b, rdb)
	for b.Loop() {
		for j := range rows {
			rows[j] = news.Article{Message: g.Next()}
		}
		id.Assign(b.Context(), rows)
		n += len(rows)
	}
	if id.Degraded() {
		b.Fatal("degraded")
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/msg")
	b.ReportMetric(float64((serverCPU(b, rdb)-cpu0).Nanoseconds())/float64(n), "redis-cpu-ns/msg")
}

// serverCPU returns the CPU time the redis-server has used.
func serverCPU(b *testing.B, rdb *redis.Client) time.Duration {
	info, err := rdb.Info(b.Context(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var sum float64
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_user" || k == "used_cpu_sys") {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				b.Fatalf("redis INFO cpu: %s: %v", line, err)
			}
			sum += f
		}
	}
	return time.Duration(sum * float64(time.Second))
}

// BenchmarkMemoryIndex is BenchmarkAssignMemory's index alone: the distinct
// articles (~85 %) of its 20,000 messages, or NEWSFLOW_BENCH_MESSAGES (60000
// is the plain bench's stream: a larger index, more cache misses), sketched
// beforehand, through a new in-process index in batches of 100.
func BenchmarkMemoryIndex(b *testing.B) {
	g, err := gen.New(gen.Config{Seed: 1, BodyBytes: 1024, DupContent: 0.15})
	if err != nil {
		b.Fatal(err)
	}
	seen := map[news.Hash]bool{}
	var items []item
	n := 20_000
	if v, err := strconv.Atoi(os.Getenv("NEWSFLOW_BENCH_MESSAGES")); err == nil {
		n = v
	}
	for range n {
		m := g.Next()
		h := m.ContentHash()
		if seen[h] {
			continue
		}
		seen[h] = true
		sk := Extract(m.Title, m.Body)
		it := item{id: h, sk: &sk}
		if !sk.Empty() {
			it.bands = bandKeys(&sk.Sig)
		}
		items = append(items, it)
	}
	b.ReportAllocs()
	cpu0 := processCPU(b)
	for b.Loop() {
		mem := newMemory(DefaultMaxMemory, minMatches(DefaultThreshold))
		for start := 0; start < len(items); start += 100 {
			mem.assign(0, items[start:min(start+100, len(items))])
		}
		mem.close()
	}
	b.ReportMetric(float64((processCPU(b)-cpu0).Nanoseconds())/float64(b.N*len(items)), "cpu-ns/article")
}
