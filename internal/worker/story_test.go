package worker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"newsflow/internal/batcher"
	"newsflow/internal/cache"
	"newsflow/internal/consumer"
	"newsflow/internal/gen"
	"newsflow/internal/llm/llmtest"
	"newsflow/internal/news"
	"newsflow/internal/redistest"
	"newsflow/internal/worker"
)

// TestWorker_NearDupThreeWorkersOneCallPerStory: three worker processes
// share one stream carrying a labelled corpus: 150 stories with 5
// near-duplicate variants each, published back to back so that variants of
// a story reach different workers at the same instant, and 600 hard
// negatives (template families differing only in numbers, posts sharing a
// source's boilerplate). No two true stories ever share a story id, and
// every variant carries its story's enrichment.
//
// Variants that are all near one another (signatures, prefixes, typos,
// quote styles) make exactly one story and one LLM call, cluster-wide,
// whatever order they arrive in. With cut posts and new headlines too, two
// variants may each be near the original but not near each other: when both
// arrive before it they found two stories. The goal bounds that:
// at most 1.02 LLM calls per true story.
func TestWorker_NearDupThreeWorkersOneCallPerStory(t *testing.T) {
	t.Parallel()
	t.Run("MutuallyNear", func(t *testing.T) {
		t.Parallel()
		testNearDup(t, []string{gen.KindSignature, gen.KindPrefix, gen.KindTypo, gen.KindStyle}, 1)
	})
	t.Run("AllKinds", func(t *testing.T) {
		t.Parallel()
		testNearDup(t, gen.VariantKinds, 1.02)
	})
}

// testNearDup runs the corpus of variant kinds through three workers and
// allows at most maxPerStory LLM calls (and story ids) per true story.
func testNearDup(t *testing.T, kinds []string, maxPerStory float64) {
	b := setup(t)
	fake := llmtest.NewOpenAIServer(t, llmtest.Options{Latency: 20 * time.Millisecond})
	prefix := redistest.Prefix(t, redistest.Client(t))
	procs := make([]*proc, 3)
	for i := range procs {
		procs[i] = b.startProc(t, fake, procConfig{
			cache:    cache.Config{KeyPrefix: prefix},
			redisURL: redistest.URL(),
			worker:   worker.Config{Batch: batcher.Config{MaxMessages: 10, MaxWait: 50 * time.Millisecond}},
			consumer: func(c *consumer.Config) { c.FetchBatch = 2 },
			nearDup:  true,
		})
	}
	corpus, err := gen.Corpus(gen.CorpusConfig{Seed: 7, Stories: 150, Variants: 5, Kinds: kinds})
	if err != nil {
		t.Fatal(err)
	}
	truth := map[string]int{} // message id → true story
	stories := map[int]bool{}
	for _, a := range corpus {
		m := a.Message
		m.ID = b.name + ":" + m.ID
		truth[m.ID] = a.Story
		stories[a.Story] = true
		b.publishMsg(t, m)
	}
	b.flushPublishes(t)
	b.drained(t, int64(len(corpus)), 3*time.Minute)
	noDeadLetters(t, b)

	conn, err := pgx.Connect(t.Context(), b.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(t.Context()))
	rows, err := conn.Query(t.Context(), "SELECT id, story_id, summary FROM articles")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[int]map[news.Hash]bool{} // true story → story ids
	summaryOf := map[news.Hash]string{}
	storyOf := map[news.Hash]int{}
	n := 0
	for rows.Next() {
		var id, summary string
		var sid []byte
		if err := rows.Scan(&id, &sid, &summary); err != nil {
			t.Fatal(err)
		}
		n++
		var h news.Hash
		copy(h[:], sid)
		s, ok := truth[id]
		if !ok {
			t.Fatalf("unexpected row %s", id)
		}
		if ids[s] == nil {
			ids[s] = map[news.Hash]bool{}
		}
		ids[s][h] = true
		if other, ok := storyOf[h]; ok && other != s {
			t.Errorf("stories %d and %d share story id %s (row %s)", s, other, h, id)
		}
		if prev, ok := summaryOf[h]; ok && prev != summary {
			t.Errorf("story id %s: row %s has another enrichment than the story's first row", h, id)
		}
		storyOf[h], summaryOf[h] = s, summary
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(corpus) {
		t.Fatalf("%d rows, want %d", n, len(corpus))
	}
	split := 0
	for _, hs := range ids {
		split += len(hs) - 1
	}
	limit := int(maxPerStory * float64(len(stories)))
	if got := fake.Calls(); got > limit || got < len(stories) {
		t.Errorf("LLM calls = %d for %d true stories (%d messages), want %d to %d", got, len(stories), len(corpus), len(stories), limit)
	}
	if got := len(stories) + split; got > limit {
		t.Errorf("%d story ids for %d true stories, want at most %d", got, len(stories), limit)
	}
	if got := fake.Calls(); got != len(stories)+split {
		t.Errorf("LLM calls = %d for %d story ids, want one each", got, len(stories)+split)
	}
	var msgs [3]int64
	for i, p := range procs {
		msgs[i] = p.w.Totals().Messages.Load()
		if msgs[i] == 0 {
			t.Errorf("worker %d committed no messages: the three must share the stream", i)
		}
		if p.ids.Degraded() {
			t.Errorf("worker %d: story index degraded", i)
		}
	}
	near := 0.0
	for _, p := range procs {
		near += metric(t, p.reg, "newsflow_story_matches_total", "kind", "near") + metric(t, p.reg, "newsflow_story_matches_total", "kind", "contained")
	}
	if near == 0 {
		t.Error("no near or contained matches counted")
	}
	t.Logf("%d messages of %d true stories: %d story ids, %d LLM calls; messages per worker %v; near/contained matches %v",
		len(corpus), len(stories), len(stories)+split, fake.Calls(), msgs, fmt.Sprint(near))
}
