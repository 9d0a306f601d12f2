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
	for range 2000 {
		n := rng.IntN(40)
		hits := make([]uint8, n)
		order := make([]candidate, n)
		for i := range order {
			hits[i] = uint8(1 + rng.IntN(1+rng.IntN(Bands)))
			if rng.IntN(1000) == 0 {
				hits[i] = uint8(Bands + 1 + rng.IntN(200)) // band keys collided
			}
			order[i] = candidate{i: uint32(i)}
		}
		k := 1 + rng.IntN(10)
		got := mostShared(nil, order, hits, k)
		want := slices.Clone(order)
		slices.SortStableFunc(want, func(x, y candidate) int { return cmp.Compare(hits[y.i], hits[x.i]) })
		want = want[:min(k, len(want))]
		if !slices.Equal(got, want) {
			t.Fatalf("k=%d of %v: got %v, want %v", k, hits, got, want)
		}
	}
}

// TestContainMin: containMin is the least m for which containedAt holds.
func TestContainMin(t *testing.T) {
	t.Parallel()
	for a := 1; a < 400; a++ {
		for b := 1; b < 400; b += 1 + b/50 {
			want := Bins + 1
			for m := 0; m <= Bins; m++ {
				if containedAt(m, a, b) {
					want = m
					break
				}
			}
			if got := containMin(a, b); got != want {
				t.Fatalf("containMin(%d, %d) = %d, want %d", a, b, got, want)
			}
		}
	}
}

// TestBucket_PushMembers: a bucket lists the newest bucketCap members
// pushed, newest first, up to the largest index.
func TestBucket_PushMembers(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	var b bucket
	var want []uint32
	var got [bucketCap]uint32
	for range 100 {
		v := 1 + uint32(rng.IntN(maxMembers))
		if rng.IntN(4) == 0 {
			v = maxMembers
		}
		b.push(v)
		want = append([]uint32{v}, want...)[:min(len(want)+1, bucketCap)]
		if n := b.members(&got); !slices.Equal(got[:n], want) {
			t.Fatalf("got %v, want %v", got[:n], want)
		}
	}
}

// TestBucketTable_Insert: a table lists per key the newest bucketCap members
// inserted, newest first, whether they are inline or in over, across growth.
func TestBucketTable_Insert(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	var tb bucketTable
	defer tb.release()
	want := map[uint64][]uint32{}
	var got [bucketCap]uint32
	for i := range 20_000 {
		// Article i's keys: a few of a small set (buckets fill up), the rest new.
		keys := make([]uint64, 1+rng.IntN(Bands))
		for k := range keys {
			keys[k] = rng.Uint64()
			if rng.IntN(3) == 0 {
				keys[k] = uint64(2 + rng.IntN(500)) // not 0 and 1, one slot key (slotKey)
			}
		}
		tb.reserve(len(keys))
		places := make([]int, len(keys))
		for k, key := range keys {
			places[k], _ = tb.find(key)
		}
		v := uint32(i%maxMembers) + 1
		for k, key := range keys {
			tb.insert(places[k], key, v)
			want[key] = append([]uint32{v}, want[key]...)[:min(len(want[key])+1, bucketCap)]
		}
	}
	if tb.len() != len(want) {
		t.Fatalf("%d buckets, want %d", tb.len(), len(want))
	}
	for key, w := range want {
		if n := tb.get(key, &got); !slices.Equal(got[:n], w) {
			t.Fatalf("key %d: got %v, want %v", key, got[:n], w)
		}
	}
}
