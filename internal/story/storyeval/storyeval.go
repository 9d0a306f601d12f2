// Package storyeval scores story ids against a labelled corpus (gen.Corpus):
// pairwise precision and recall, recall by variant kind, merges of hard
// negatives, and story ids per true story. It is used by tests and the bench
// harness, never by the worker.
package storyeval

import (
	"fmt"
	"slices"
	"strings"

	"newsflow/internal/gen"
	"newsflow/internal/news"
)

// Result is the score of one assignment.
type Result struct {
	// Articles is the corpus size.
	Articles int
	// Precision is the share of article pairs given one story id that are
	// one true story; Recall the share of true pairs given one story id.
	Precision, Recall float64
	// RecallByKind is, per variant kind, the share of variants given their
	// original's story id.
	RecallByKind map[string]float64
	// HardPairs and HardMerged count, per hard-negative kind (numbers,
	// boilerplate), the pairs of articles within one family or source and
	// those of them given one story id.
	HardPairs, HardMerged map[string]int
	// IDsPerStory is the mean number of story ids per true story with
	// variants.
	IDsPerStory float64
}

// Evaluate scores ids (one per corpus article, in order).
func Evaluate(corpus []gen.Labelled, ids []news.Hash) (Result, error) {
	if len(ids) != len(corpus) {
		return Result{}, fmt.Errorf("storyeval: %d story ids for %d articles", len(ids), len(corpus))
	}
	res := Result{Articles: len(corpus), RecallByKind: map[string]float64{}, HardPairs: map[string]int{}, HardMerged: map[string]int{}}
	type cell struct {
		story int
		id    news.Hash
	}
	pairs := func(n int) int { return n * (n - 1) / 2 }
	byTruth, byID, byCell := map[int]int{}, map[news.Hash]int{}, map[cell]int{}
	for i, a := range corpus {
		byTruth[a.Story]++
		byID[ids[i]]++
		byCell[cell{a.Story, ids[i]}]++
	}
	var tp, truePairs, predPairs int
	for _, n := range byCell {
		tp += pairs(n)
	}
	for _, n := range byTruth {
		truePairs += pairs(n)
	}
	for _, n := range byID {
		predPairs += pairs(n)
	}
	res.Precision, res.Recall = ratio(tp, predPairs), ratio(tp, truePairs)

	kindN, kindHit := map[string]int{}, map[string]int{}
	origID := map[int]news.Hash{}
	idsOf := map[int]map[news.Hash]bool{}
	for i, a := range corpus {
		switch a.Kind {
		case gen.KindOriginal:
			origID[a.Story] = ids[i]
		case gen.KindNumbers, gen.KindBoilerplate:
		default:
			kindN[a.Kind]++
			if origID[a.Story] == ids[i] {
				kindHit[a.Kind]++
			}
		}
		if a.Kind != gen.KindNumbers && a.Kind != gen.KindBoilerplate {
			if idsOf[a.Story] == nil {
				idsOf[a.Story] = map[news.Hash]bool{}
			}
			idsOf[a.Story][ids[i]] = true
		}
	}
	for k, n := range kindN {
		res.RecallByKind[k] = ratio(kindHit[k], n)
	}
	total := 0
	for _, s := range idsOf {
		total += len(s)
	}
	res.IDsPerStory = ratio(total, len(idsOf))

	// Hard negatives: pairs within a family (numbers) or source (boilerplate).
	groups := map[string][]int{}
	for i, a := range corpus {
		if a.Kind == gen.KindNumbers || a.Kind == gen.KindBoilerplate {
			groups[a.Kind+"\x00"+a.Source] = append(groups[a.Kind+"\x00"+a.Source], i)
		}
	}
	for key, members := range groups {
		kind, _, _ := strings.Cut(key, "\x00")
		for x := range members {
			for y := x + 1; y < len(members); y++ {
				res.HardPairs[kind]++
				if ids[members[x]] == ids[members[y]] {
					res.HardMerged[kind]++
				}
			}
		}
	}
	return res, nil
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 1
	}
	return float64(a) / float64(b)
}

// String summarises the result on a few lines.
func (r Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "articles %d: pairwise precision %.4f, recall %.4f; story ids per true story %.3f\n", r.Articles, r.Precision, r.Recall, r.IDsPerStory)
	kinds := make([]string, 0, len(r.RecallByKind))
	for k := range r.RecallByKind {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	b.WriteString("recall by kind:")
	for _, k := range kinds {
		fmt.Fprintf(&b, " %s %.3f", k, r.RecallByKind[k])
	}
	b.WriteString("\nhard negatives merged:")
	for _, k := range []string{gen.KindNumbers, gen.KindBoilerplate} {
		fmt.Fprintf(&b, " %s %d/%d", k, r.HardMerged[k], r.HardPairs[k])
	}
	return b.String()
}
