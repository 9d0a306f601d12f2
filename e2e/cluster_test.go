package e2e

import (
	"fmt"
	"testing"
	"time"

	"newsflow/internal/llm/llmtest"
	"newsflow/internal/news"
	"newsflow/internal/redistest"
)

// TestE2E_RedisCluster: two worker processes configured with
// NEWSFLOW_REDIS_MODE=cluster and REDIS_URL naming a private three-master
// Redis Cluster's seed nodes commit every message, ask the LLM about each
// story exactly once between them (copies of a story published back to
// back, so they meet on both workers), keep neither the cache nor the story
// index degraded, and spread their keys over every master.
func TestE2E_RedisCluster(t *testing.T) {
	t.Parallel()
	cl := redistest.StartCluster(t, 3)
	fake := llmtest.NewOpenAIServer(t, llmtest.Options{Latency: 20 * time.Millisecond})
	w := setup(t, "REDIS_URL="+cl.URL(), "NEWSFLOW_REDIS_MODE=cluster", "NEWSFLOW_BATCH_WAIT=100ms",
		"LLM_PROVIDER=openai", "OPENAI_BASE_URL="+fake.URL, "OPENAI_API_KEY="+fake.APIKey())
	procs := []string{httpAddr(t, w.start(t)), httpAddr(t, w.start(t))}

	const stories = 300
	var msgs []news.Message
	for i := range stories {
		for n := range 1 + i%3 {
			msgs = append(msgs, news.Message{ID: fmt.Sprintf("%s:%d:%d", w.name, i, n), Source: fmt.Sprintf("src%d", n),
				Title: fmt.Sprintf("Cluster story %d", i), Body: fmt.Sprintf("Body of cluster story %d, told once and reposted.", i)})
		}
	}
	w.publish(t, msgs)
	w.waitRows(t, int64(len(msgs)), true, 2*time.Minute)

	var twice []string
	for i := range stories {
		if n := fake.CallsFor(fmt.Sprintf("Cluster story %d", i)); n != 1 {
			twice = append(twice, fmt.Sprintf("story %d: %d", i, n))
		}
	}
	if len(twice) > 0 {
		t.Errorf("%d of %d stories not asked about exactly once, e.g. %v", len(twice), stories, twice[:min(5, len(twice))])
	}
	var shared float64 // stories one worker took from the other through the cluster
	for i, addr := range procs {
		fams, err := scrape(addr)
		if err != nil {
			t.Fatal(err)
		}
		if v := fams.value("newsflow_messages_processed_total"); v == 0 {
			t.Errorf("worker %d processed no messages: the two must share the stream", i)
		}
		for _, g := range []string{"newsflow_cache_redis_degraded", "newsflow_story_redis_degraded"} {
			if v := fams.value(g); v != 0 {
				t.Errorf("worker %d: %s = %v, want 0", i, g, v)
			}
		}
		if v := fams.value("newsflow_redis_pool_total_conns"); v == 0 {
			t.Errorf("worker %d: no connection to the cluster", i)
		}
		shared += fams.value("newsflow_cache_hits_total", "tier", "redis") + fams.value("newsflow_cache_singleflight_waits_total", "scope", "cluster")
	}
	if shared == 0 {
		t.Error("no Redis hit and no cluster-wide wait on either worker: they did not share the cluster")
	}
	for i, n := range cl.Keys(t) {
		if n == 0 {
			t.Errorf("cluster node %d holds no keys", i)
		}
	}
}
