package story

import (
	"math/rand/v2"
	"slices"
	"testing"

	"newsflow/internal/news"
)

// refCompare is Compare written plainly: every value counted one at a time,
// containment from the estimated resemblance without containMin.
func refCompare(a, b *Sketch, need int) (Kind, Guard, int) {
	if a.Shingles == 0 || b.Shingles == 0 {
		return Founded, Resemblance, 0
	}
	if !nested(a.Numbers, b.Numbers) {
		return Founded, Numbers, 0
	}
	if !nested(a.Names, b.Names) {
		return Founded, Names, 0
	}
	m := 0
	for i := range a.Sig {
		if a.Sig[i] == b.Sig[i] {
			m++
		}
	}
	if m >= need {
		return Near, Passed, m
	}
	short := min(a.Shingles, b.Shingles)
	if short < MinContainShingles {
		return Founded, Short, m
	}
	if containDen*m*(a.Shingles+b.Shingles) >= containNum*(Bins+m)*short {
		return Contained, Passed, m
	}
	return Founded, Resemblance, m
}

// randomPair returns two sketches whose agreement sits near need or near the
// least agreement that makes one contained in the other, with the values
// that differ spread out or bunched at either end, each differing in one
// bit (any of a lane's 16) or many.
func randomPair(rng *rand.Rand, need int) (a, b Sketch) {
	shingles := func() int {
		switch rng.IntN(4) {
		case 0:
			return rng.IntN(MinContainShingles + 2) // 0 or short
		case 1:
			return MinContainShingles + rng.IntN(40)
		}
		return 1 + rng.IntN(3000)
	}
	a.Shingles, b.Shingles = shingles(), shingles()
	for i := range a.Sig {
		a.Sig[i] = uint16(rng.Uint32())
	}
	b.Sig = a.Sig
	target := need
	if c := containMin(a.Shingles, b.Shingles); c <= Bins && rng.IntN(2) == 0 {
		target = c
	}
	agree := min(Bins, max(0, target+rng.IntN(9)-4))
	if rng.IntN(8) == 0 {
		agree = rng.IntN(Bins + 1)
	}
	pos := rng.Perm(Bins)
	switch rng.IntN(3) {
	case 0: // differences first
		for i := range pos {
			pos[i] = i
		}
	case 1: // differences last
		for i := range pos {
			pos[i] = Bins - 1 - i
		}
	}
	for _, i := range pos[:Bins-agree] {
		d := uint16(1) << rng.IntN(16)
		if rng.IntN(2) == 0 {
			d |= uint16(rng.Uint32())
		}
		b.Sig[i] ^= d
	}
	if rng.IntN(10) == 0 {
		a.Numbers, b.Numbers = []uint64{1, 2}, []uint64{1, 3} // not nested
	}
	if rng.IntN(10) == 0 {
		a.Names, b.Names = []uint64{5}, []uint64{6}
	}
	return a, b
}

// TestCompare_EarlySameAsFull: Compare agrees with refCompare, and the
// index's early-exit comparison returns the same kind and guard as both,
// and the same count whenever it joins the pair.
func TestCompare_EarlySameAsFull(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 8))
	for range 200_000 {
		threshold := DefaultThreshold
		if rng.IntN(2) == 0 {
			threshold = 1 - rng.Float64() // (0, 1]
		}
		need := minMatches(threshold)
		a, b := randomPair(rng, need)
		wk, wg, wm := refCompare(&a, &b, need)
		if k, g, m := Compare(&a, &b, threshold); k != wk || g != wg || m != wm {
			t.Fatalf("Compare(shingles %d, %d; need %d) = %s %s %d, want %s %s %d", a.Shingles, b.Shingles, need, k, g, m, wk, wg, wm)
		}
		var sa, sb packedSig
		k, g, m := compare(a.features(&sa), b.features(&sb), need, true)
		if k != wk || g != wg || (k != Founded && m != wm) {
			t.Fatalf("early compare(shingles %d, %d; need %d) = %s %s %d, want %s %s %d", a.Shingles, b.Shingles, need, k, g, m, wk, wg, wm)
		}
	}
}

// TestMemory_LookupNumbersRunOut: when the lookup numbers run out and start
// again, no member's mark from before counts as met in a new lookup: the
// index decides as one whose numbers did not run out.
func TestMemory_LookupNumbersRunOut(t *testing.T) {
	t.Parallel()
	vs := variants(0, 3)
	// a, then b (lookup 2 marks a); the numbers start again; then other
	// news (lookup 1) and another variant of a (lookup 2 again, meeting a).
	before := []news.Message{vs[0], vs[1]}
	after := []news.Message{msg("Council adds night buses", councilBody), vs[2]}
	items := func(msgs []news.Message) []item {
		out := make([]item, len(msgs))
		for i, m := range msgs {
			sk := Extract(m.Title, m.Body)
			out[i] = item{id: m.ContentHash(), sk: &sk, bands: bandKeys(&sk.Sig)}
		}
		return out
	}
	plain := newMemory(DefaultMaxMemory, minMatches(DefaultThreshold))
	restarted := newMemory(DefaultMaxMemory, minMatches(DefaultThreshold))
	defer plain.close()
	defer restarted.close()
	for _, it := range items(before) {
		plain.assign(1, []item{it})
		restarted.assign(1, []item{it})
	}
	restarted.lookup = 1<<(32-markBits) - 1 // the last: the next is 1
	var want []result
	for i, it := range items(after) {
		want = plain.assign(1, []item{it})
		if got := restarted.assign(1, []item{it}); got[0] != want[0] {
			t.Fatalf("article %d after the lookup numbers ran out: %+v, want %+v", i, got[0], want[0])
		}
	}
	if restarted.lookup != 2 {
		t.Fatalf("lookup number %d, want 2: they did not start again at 1", restarted.lookup)
	}
	if want[0].checked != 2 {
		t.Fatalf("the last variant checked %d candidates, want 2 (the test needs it to meet a and b)", want[0].checked)
	}
}

// TestConfig_MaxMemoryBound: MaxMemory is accepted up to maxMembers, the
// most member indexes a bucket holds, and rejected above.
func TestConfig_MaxMemoryBound(t *testing.T) {
	t.Parallel()
	id, err := New(Config{MaxMemory: maxMembers}, nil, nil, nil)
	if err != nil {
		t.Fatalf("New(MaxMemory: %d): %v", maxMembers, err)
	}
	id.Close()
	if _, err := New(Config{MaxMemory: maxMembers + 1}, nil, nil, nil); err == nil {
		t.Errorf("New(MaxMemory: %d) accepted", maxMembers+1)
	}
}

// TestMemory_HashesOverflowTurnOver: a generation whose hashes would take a
// span's start past 2^32 turns over before the article is added, rather
// than store a start that wrapped around.
func TestMemory_HashesOverflowTurnOver(t *testing.T) {
	t.Parallel()
	m := newMemory(DefaultMaxMemory, minMatches(DefaultThreshold))
	defer m.close()
	// 2^14 chunks counted, none of them there: the next span would start at
	// 2^32, and wrap to 0.
	m.cur.hashes = make([][]uint64, 1<<(32-hashChunkBits))
	m.cur.nHashes = len(m.cur.hashes) << hashChunkBits
	full := m.cur
	vs := variants(0, 1)
	sk := Extract(vs[0].Title, vs[0].Body)
	if len(sk.Numbers)+len(sk.Names) == 0 {
		t.Fatal("the test needs an article with numbers or names")
	}
	m.assign(0, []item{{id: vs[0].ContentHash(), sk: &sk, bands: bandKeys(&sk.Sig)}})
	if m.cur == full || m.prev != full {
		t.Fatal("the generation whose hashes were full did not turn over")
	}
	got := m.cur.features(m.cur.at(0))
	if !slices.Equal(got.numbers, sk.Numbers) || !slices.Equal(got.names, sk.Names) {
		t.Fatalf("member's hashes: numbers %v names %v, want %v %v", got.numbers, got.names, sk.Numbers, sk.Names)
	}
}
