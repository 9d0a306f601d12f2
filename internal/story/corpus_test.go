package story_test

import (
	"math"
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

// TestCorpus_Seeds runs twenty labelled corpora (seeds 1–20, 1,000 stories
// each, 92,000 articles) through the in-process index and logs the totals:
// one corpus's figures move by single variants whenever the sketch's hashes
// change, twenty show whether its quality did. It holds over all of them
// what TestCorpus_Regression holds for one, precision on the mean.
func TestCorpus_Seeds(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("twenty corpora")
	}
	const seeds = 20
	var precision, recall, ids float64
	missed, variants, hard := map[string]int{}, map[string]int{}, 0
	for seed := int64(1); seed <= seeds; seed++ {
		corpus, err := gen.Corpus(gen.CorpusConfig{Seed: seed, Stories: 1000})
		if err != nil {
			t.Fatal(err)
		}
		id, err := story.New(story.Config{}, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		rows := make([]news.Article, len(corpus))
		for i := range corpus {
			rows[i] = news.Article{Message: corpus[i].Message}
		}
		for start := 0; start < len(rows); start += 100 {
			id.Assign(t.Context(), rows[start:min(start+100, len(rows))])
		}
		id.Close()
		got := make([]news.Hash, len(rows))
		for i := range rows {
			got[i] = rows[i].StoryID
		}
		res, err := storyeval.Evaluate(corpus, got)
		if err != nil {
			t.Fatal(err)
		}
		precision, recall, ids = precision+res.Precision/seeds, recall+res.Recall/seeds, ids+res.IDsPerStory/seeds
		n := map[string]int{}
		for _, a := range corpus {
			n[a.Kind]++
		}
		for kind, r := range res.RecallByKind {
			variants[kind] += n[kind]
			missed[kind] += int(math.Round((1 - r) * float64(n[kind])))
			if r < 0.95 {
				t.Errorf("seed %d: recall of %s variants %.3f, want ≥ 0.95", seed, kind, r)
			}
		}
		for _, m := range res.HardMerged {
			hard += m
		}
	}
	t.Logf("%d corpora: mean precision %.5f, recall %.5f, story ids per true story %.4f; hard-negative pairs merged %d; variants missed by kind %v of %v",
		seeds, precision, recall, ids, hard, missed, variants)
	if hard > 0 {
		t.Errorf("%d hard-negative pairs merged, want none", hard)
	}
	if precision < 0.999 {
		t.Errorf("mean precision %.5f, want ≥ 0.999", precision)
	}
}
