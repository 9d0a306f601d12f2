package story

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestMostShared_StableSortPrefix: mostShared picks what a stable sort by
// bands shared (most first) puts first.
func TestMostShared_StableSortPrefix(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	g := &generation{}
	for range 2000 {
		n := rng.IntN(40)
		g.marks = make([]uint64, n)
		order := make([]candidate, n)
		for i := range order {
			g.marks[i] = uint64(1 + rng.IntN(1+rng.IntN(Bands)))
			order[i] = candidate{g: g, i: uint32(i)}
		}
		k := 1 + rng.IntN(10)
		got := mostShared(nil, order, k)
		want := slices.Clone(order)
		slices.SortStableFunc(want, func(x, y candidate) int { return cmp.Compare(y.hits, x.hits) })
		want = want[:min(k, len(want))]
		if !slices.Equal(got, want) {
			t.Fatalf("k=%d of %v: got %v, want %v", k, g.marks, got, want)
		}
	}
}
