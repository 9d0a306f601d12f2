package story

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"newsflow/internal/gen"
	"newsflow/internal/news"
	"newsflow/internal/redistest"
)

// TestRedisIndex_SameAsMemory: the script and the in-process index return
// the same result (story, kind, candidates checked, rejections by guard)
// for every article: half the labelled corpus (variants and hard
// negatives) and 4,000 template posts, which give an article dozens of
// candidates to rank, in batches of 100, the last of 1,500 (the script
// reads story ids in parts) with an id twice and a text without a sketch;
// then the corpus's other half one generation later (the script reads the
// previous one).
func TestRedisIndex_SameAsMemory(t *testing.T) {
	t.Parallel()
	corpus, err := gen.Corpus(gen.CorpusConfig{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	// Template posts: the originals of a larger corpus, whose stock templates
	// give an article dozens of candidates (gen.New's stream gives almost none,
	// as real news).
	posts, err := gen.Corpus(gen.CorpusConfig{Seed: 4, Stories: 4000, NumberFamilies: 1, BoilerplateSources: 1})
	if err != nil {
		t.Fatal(err)
	}
	// The corpus's even articles and generated news now, its odd ones (other
	// variants of the same stories) a generation later.
	var now, later []news.Message
	for i, a := range corpus {
		if i%2 == 0 {
			now = append(now, a.Message)
		} else {
			later = append(later, a.Message)
		}
	}
	for _, a := range posts {
		if a.Kind == gen.KindOriginal {
			now = append(now, a.Message)
		}
	}
	items := func(msgs []news.Message) []item {
		out := make([]item, len(msgs))
		for i := range msgs {
			sk := Extract(msgs[i].Title, msgs[i].Body)
			out[i] = item{id: msgs[i].ContentHash(), sk: &sk}
			if !sk.Empty() {
				out[i].bands = bandKeys(&sk.Sig)
			}
		}
		return out
	}
	first, second := items(now), items(later)
	last := len(first) - 1500
	first = append(first, first[last+10], item{id: news.Hash{1, 2, 3}, sk: &Sketch{}})

	rdb := redistest.Client(t)
	red := &redisIndex{rdb: rdb, prefix: redistest.Prefix(t, rdb), need: minMatches(DefaultThreshold), window: DefaultWindow}
	mem := newMemory(DefaultMaxMemory, red.need)
	defer mem.close()
	matched := map[int64]int{}
	check := func(gen int64, batch []item) {
		t.Helper()
		want := mem.assign(gen, batch)
		got, err := red.assign(t.Context(), gen, batch)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("generation %d, item %d of %d: redis %+v, in process %+v", gen, i, len(batch), got[i], want[i])
			}
			if want[i].kind >= Near {
				matched[gen]++
			}
		}
	}
	for start := 0; start < last; start += 100 {
		check(1, first[start:min(start+100, last)])
	}
	check(1, first[last:])
	for start := 0; start < len(second); start += 100 {
		check(2, second[start:min(start+100, len(second))])
	}
	t.Logf("near or contained matches by generation: %v", matched)
	if matched[1] < 100 || matched[2] < 100 {
		t.Fatalf("near or contained matches by generation: %v, want ≥ 100 in each", matched)
	}
}

// TestRedisIndex_SameAsMemoryAtThresholds: both indexes decide alike, and
// as Compare does, pairs agreeing in every number of signature values
// around each threshold (resemblance, containment when the least value
// that merges is and is not a whole number, texts too short to be
// contained), where an early stop off by one would change the decision.
func TestRedisIndex_SameAsMemoryAtThresholds(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	// Shingles of the two texts; 20 and 29 merge by containment from
	// exactly 68 values agreeing.
	sizes := [][2]int{{5, 7}, {20, 29}, {100, 100}, {40, 400}}
	var founders, variants []item
	var want []Kind
	for _, sz := range sizes {
		for differ := 0; differ <= Bins-Rows; differ++ {
			a := Sketch{Shingles: sz[0]}
			for k := range a.Sig {
				a.Sig[k] = uint16(rng.Uint32())
			}
			b := Sketch{Sig: a.Sig, Shingles: sz[1]}
			// The first band stays shared, so b finds a as a candidate.
			for _, k := range rng.Perm(Bins - Rows)[:differ] {
				b.Sig[Rows+k] ^= 1 + uint16(rng.IntN(1<<16-1))
			}
			kind, _, _ := Compare(&b, &a, DefaultThreshold)
			want = append(want, kind)
			for _, sk := range []*Sketch{&a, &b} {
				it := item{sk: sk, bands: bandKeys(&sk.Sig)}
				binary.LittleEndian.PutUint64(it.id[:], rng.Uint64())
				binary.LittleEndian.PutUint64(it.id[8:], rng.Uint64())
				if sk == &a {
					founders = append(founders, it)
				} else {
					variants = append(variants, it)
				}
			}
		}
	}
	rdb := redistest.Client(t)
	red := &redisIndex{rdb: rdb, prefix: redistest.Prefix(t, rdb), need: minMatches(DefaultThreshold), window: DefaultWindow}
	mem := newMemory(DefaultMaxMemory, red.need)
	defer mem.close()
	for bi, batch := range [][]item{founders, variants} {
		got, err := red.assign(t.Context(), 1, batch)
		if err != nil {
			t.Fatal(err)
		}
		inProcess := mem.assign(1, batch)
		for i := range got {
			if got[i] != inProcess[i] {
				t.Fatalf("item %d: redis %+v, in process %+v", i, got[i], inProcess[i])
			}
		}
		if bi == 1 { // the variants
			for i, r := range got {
				if r.kind != want[i] {
					t.Errorf("pair %d (shingles %v, %d values differ): kind %s, Compare says %s", i, sizes[i/(Bins-Rows+1)], i%(Bins-Rows+1), r.kind, want[i])
				}
			}
		}
	}
}
