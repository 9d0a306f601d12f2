package story

import (
	"fmt"
	"math"
)

// Kind is how an article joined its story.
type Kind uint8

// Kinds of Match.
const (
	// Founded: the article founds a story (its content hash is the story id).
	Founded Kind = iota
	// Exact: the same content hash was seen before.
	Exact
	// Near: estimated resemblance reached the threshold.
	Near
	// Contained: the shorter text is contained in the longer one.
	Contained
)

var kindNames = [...]string{"new", "exact", "near", "contained"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Guard is why Compare rejected a candidate.
type Guard uint8

// Guards, in the order Compare applies them.
const (
	// Passed: not rejected.
	Passed Guard = iota
	// Numbers: the texts' numbers are not nested sets (one changed a number).
	Numbers
	// Names: the texts' names are not nested sets.
	Names
	// Short: the shorter text is too short to merge by containment and the
	// resemblance is below the threshold.
	Short
	// Resemblance: neither resemblance nor containment is high enough.
	Resemblance
	numGuards
)

var guardNames = [...]string{"passed", "numbers", "names", "short", "resemblance"}

func (g Guard) String() string {
	if int(g) < len(guardNames) {
		return guardNames[g]
	}
	return fmt.Sprintf("guard(%d)", g)
}

// DefaultThreshold is the default estimated resemblance from which two texts
// are one story.
const DefaultThreshold = 0.8

// minMatches returns how many of Bins signature values must agree for a
// resemblance of at least threshold: the index and its Lua twin compare
// integers, so both decide alike.
func minMatches(threshold float64) int {
	return int(math.Ceil(threshold*Bins - 1e-9))
}

// Compare tells whether a and b are one story, with the number of agreeing
// signature values (0 when a guard rejected the pair before they were
// counted) and the guard that rejected them otherwise. threshold is the
// estimated resemblance needed (DefaultThreshold).
func Compare(a, b *Sketch, threshold float64) (Kind, Guard, int) {
	var sa, sb packedSig
	return compare(a.features(&sa), b.features(&sb), minMatches(threshold), false)
}

// packedSig is a signature as sigWords words, word w holding values 4w to
// 4w+3 from its low bits up (as bandKeys packs a band): compared a word,
// four values, at a time.
type packedSig [sigWords]uint64

// sigWords is the number of words of a packed signature: all of it, not
// only the LSH bands.
const sigWords = Bins / Rows

// These fail to compile unless the sigWords words of Rows values are the
// whole signature, which pack and compare assume, and compare's blocks of 8
// words cover them.
var (
	_ = [1]struct{}{}[sigWords*Rows-Bins]
	_ = [1]struct{}{}[sigWords%8]
)

func pack(out *packedSig, sig *[Bins]uint16) {
	for w := range out {
		v := sig[w*Rows : (w+1)*Rows : (w+1)*Rows]
		out[w] = uint64(v[0]) | uint64(v[1])<<16 | uint64(v[2])<<32 | uint64(v[3])<<48
	}
}

// features is what compare reads of a sketch: a Sketch's own, or a member's
// of the in-process index.
type features struct {
	sig            *packedSig
	shingles       int
	numbers, names []uint64
}

// features returns s's features, its signature packed into sig.
func (s *Sketch) features(sig *packedSig) features {
	pack(sig, &s.Sig)
	return features{sig: sig, shingles: s.Shingles, numbers: s.Numbers, names: s.Names}
}

// guards applies the number and name guards.
func guards(a, b features) Guard {
	if !nested(a.numbers, b.numbers) {
		return Numbers
	}
	if !nested(a.names, b.names) {
		return Names
	}
	return Passed
}

// compare decides a pair. With early, once too few values can still agree
// for either resemblance or containment it stops counting: the kind and
// guard are the same, but a rejected pair's count is only an upper bound
// (the index uses only the count of a match).
func compare(a, b features, need int, early bool) (Kind, Guard, int) {
	if a.shingles == 0 || b.shingles == 0 {
		return Founded, Resemblance, 0
	}
	if g := guards(a, b); g != Passed {
		return Founded, g, 0
	}
	short := min(a.shingles, b.shingles)
	// Below least values agreeing, neither test can pass (contained is
	// monotone in m: see containedAt).
	least := need
	if short >= MinContainShingles {
		least = min(least, containMin(a.shingles, b.shingles))
	}
	miss := Bins - least // most values that may differ
	if !early {
		miss = Bins
	}
	// Each word's differing values, as one bit per 16-bit lane (the lane's
	// top bit, shifted down), summed lane-wise over 8 words and then across
	// lanes: no branch per value.
	const low, top = 0x7fff_7fff_7fff_7fff, 0x8000_8000_8000_8000
	differ := 0
	for w := 0; w < sigWords; w += 8 {
		as, bs := (*[8]uint64)(a.sig[w:w+8]), (*[8]uint64)(b.sig[w:w+8])
		var lanes uint64
		for j, x := range as {
			x ^= bs[j]
			lanes += ((((x & low) + low) | x) & top) >> 15
		}
		differ += int(lanes * 0x0001_0001_0001_0001 >> 48)
		if differ > miss {
			break
		}
	}
	m := Bins - differ
	if m >= need {
		return Near, Passed, m
	}
	if short < MinContainShingles {
		return Founded, Short, m
	}
	if containedAt(m, a.shingles, b.shingles) {
		return Contained, Passed, m
	}
	return Founded, Resemblance, m
}

// containedAt reports whether m agreeing values of Bins make the shorter of
// texts of a and b shingles contained in the longer: from the estimated
// resemblance J = m/Bins, |A∩B| = J(|A|+|B|)/(1+J), divided by the shorter;
// in integers. It is monotone in m (containMin).
func containedAt(m, a, b int) bool {
	return containDen*m*(a+b) >= containNum*(Bins+m)*min(a, b)
}

// containMin returns the fewest agreeing values for which containedAt holds,
// or Bins+1 if none: m·(den·(a+b) − num·short) ≥ num·Bins·short.
func containMin(a, b int) int {
	d := containDen*(a+b) - containNum*min(a, b)
	if d <= 0 {
		return Bins + 1
	}
	return min(Bins+1, (containNum*Bins*min(a, b)+d-1)/d)
}

// nested reports whether the smaller of two sorted sets is a subset of the
// larger.
func nested(a, b []uint64) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	j := 0
	for _, x := range a {
		for j < len(b) && b[j] < x {
			j++
		}
		if j == len(b) || b[j] != x {
			return false
		}
		j++
	}
	return true
}
