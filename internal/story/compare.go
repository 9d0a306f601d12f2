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
	return compare(a.features(), b.features(), minMatches(threshold))
}

// features is what compare reads of a sketch: a Sketch's own, or a member's
// of the in-process index.
type features struct {
	sig            *[Bins]uint16
	shingles       int
	numbers, names []uint64
}

func (s *Sketch) features() features {
	return features{sig: &s.Sig, shingles: s.Shingles, numbers: s.Numbers, names: s.Names}
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

func compare(a, b features, need int) (Kind, Guard, int) {
	if a.shingles == 0 || b.shingles == 0 {
		return Founded, Resemblance, 0
	}
	if g := guards(a, b); g != Passed {
		return Founded, g, 0
	}
	m := 0
	for i := range a.sig {
		if a.sig[i] == b.sig[i] {
			m++
		}
	}
	if m >= need {
		return Near, Passed, m
	}
	short := min(a.shingles, b.shingles)
	if short < MinContainShingles {
		return Founded, Short, m
	}
	// Containment of the shorter text, from the estimated resemblance
	// J = m/Bins: |A∩B| = J(|A|+|B|)/(1+J), divided by |A|; in integers.
	if containDen*m*(a.shingles+b.shingles) >= containNum*(Bins+m)*short {
		return Contained, Passed, m
	}
	return Founded, Resemblance, m
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
