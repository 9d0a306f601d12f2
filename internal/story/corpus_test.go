package story_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"newsflow/internal/gen"
	"newsflow/internal/news"
	"newsflow/internal/redistest"
	"newsflow/internal/story"
	"newsflow/internal/story/storyeval"
)

// TestCorpus_Regression runs the labelled corpus through both indexes in
// batches of 100 and holds the quality the issue asks for: recall ≥ 0.95 on
// every variant kind, no merged hard negatives, and the two indexes agree.
func TestCorpus_Regression(t *testing.T) {
	t.Parallel()
	corpus, err := gen.Corpus(gen.CorpusConfig{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	rdb := redistest.Client(t)
	assign := func(id *story.Identifier) []news.Hash {
		rows := make([]news.Article, len(corpus))
		for i := range corpus {
			rows[i] = news.Article{Message: corpus[i].Message}
		}
		for start := 0; start < len(rows); start += 100 {
			id.Assign(t.Context(), rows[start:min(start+100, len(rows))])
		}
		out := make([]news.Hash, len(rows))
		for i := range rows {
			out[i] = rows[i].StoryID
		}
		return out
	}
	mem, err := story.New(story.Config{}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	red, err := story.New(story.Config{KeyPrefix: redistest.Prefix(t, rdb)}, rdb, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	defer red.Close()
	memIDs, redIDs := assign(mem), assign(red)
	for i := range memIDs {
		if memIDs[i] != redIDs[i] {
			t.Errorf("article %s (%s): in-process and Redis indexes disagree", corpus[i].ID, corpus[i].Kind)
		}
	}
	res, err := storyeval.Evaluate(corpus, memIDs)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", res)
	for kind, r := range res.RecallByKind {
		if r < 0.95 {
			t.Errorf("recall of %s variants %.3f, want ≥ 0.95", kind, r)
		}
	}
	for kind, n := range res.HardMerged {
		if n > 0 {
			t.Errorf("%d of %d %s hard-negative pairs merged, want none", n, res.HardPairs[kind], kind)
		}
	}
	if res.Precision < 0.999 {
		t.Errorf("precision %.4f, want ≥ 0.999", res.Precision)
	}
}
