package main

import (
	"context"
	"fmt"
	"time"

	"newsflow/internal/gen"
	"newsflow/internal/news"
	"newsflow/internal/story"
	"newsflow/internal/story/storyeval"
)

// nearDupPhases scores story identity on the labelled corpus (in process
// and on Redis), then measures the pipeline's rate and CPU per message
// with near-dup off and on, alternating, in the same run.
func (b *bench) nearDupPhases(ctx context.Context) error {
	corpus, err := gen.Corpus(gen.CorpusConfig{Seed: 1, Stories: b.cfg.nearDupStories})
	if err != nil {
		return err
	}
	fmt.Printf("\n## near-dup quality: %d stories × 3 variants + hard negatives = %d articles, batches of 100\n", b.cfg.nearDupStories, len(corpus))
	rdb, err := redisClient(b.cfg.redisURL)
	if err != nil {
		return err
	}
	defer rdb.Close()
	prefix := fmt.Sprintf("newsflow-bench:%d:", time.Now().UnixNano())
	defer deleteKeys(context.WithoutCancel(ctx), rdb, prefix)
	for _, index := range []string{"in-process", "redis"} {
		var id *story.Identifier
		if index == "redis" {
			id, err = story.New(story.Config{KeyPrefix: prefix}, rdb, nil, nil)
		} else {
			id, err = story.New(story.Config{}, nil, nil, nil)
		}
		if err != nil {
			return err
		}
		rows := make([]news.Article, len(corpus))
		for i := range corpus {
			rows[i] = news.Article{Message: corpus[i].Message}
		}
		t0 := time.Now()
		for start := 0; start < len(rows); start += 100 {
			id.Assign(ctx, rows[start:min(start+100, len(rows))])
		}
		took := time.Since(t0)
		degraded := id.Degraded()
		id.Close()
		if degraded {
			return fmt.Errorf("near-dup: the Redis index degraded during the quality phase")
		}
		ids := make([]news.Hash, len(rows))
		for i := range rows {
			ids[i] = rows[i].StoryID
		}
		res, err := storyeval.Evaluate(corpus, ids)
		if err != nil {
			return err
		}
		fmt.Printf("RESULT near-dup quality index=%s: %s\nassign: %.1f µs per article (wall, this process)\n", index, res, float64(took.Microseconds())/float64(len(rows)))
	}
	for round := range b.cfg.nearDupRounds {
		for _, mode := range []string{"off", "on"} {
			fmt.Printf("\n## near-dup %s, round %d\n", mode, round+1)
			if err := b.throughput(ctx, 1, fmt.Sprintf(", near-dup %s (Redis), round %d", mode, round+1),
				"NEWSFLOW_NEAR_DUP="+mode, "REDIS_URL="+b.cfg.redisURL, "NEWSFLOW_CACHE_PREFIX="+prefix+mode+fmt.Sprint(round)+":"); err != nil {
				return err
			}
		}
	}
	return nil
}
