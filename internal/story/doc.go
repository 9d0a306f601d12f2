// Package story gives every article its story id: the content hash of the
// first article of its near-duplicate cluster, so reposts that differ by a
// channel signature, a "BREAKING:" prefix, a cut last paragraph with a
// "Read more" link, a typo fix or a rewritten headline share one id, one
// LLM call and one line in `worker top`.
//
// Identity is decided in three steps. An exact repost (same content hash) is
// the first and cheapest check. Otherwise Extract cleans the text (case
// folded; links, @handles, #tags, short call-to-action lines and leading
// "BREAKING"-style labels dropped; punctuation, quotes and emoji are
// separators) and sketches it: 3-word shingles, a 128-bin one-permutation
// MinHash with optimal densification (one hash per shingle rather than 128),
// and 24 LSH bands of 4 rows to find candidates. Compare then verifies a
// candidate: the numbers (each bound to the word before it) and the names
// (capitalised words not starting a sentence) of the two texts must be
// nested sets — a repost may lose a number with a cut paragraph, never change
// one — and then the estimated resemblance must reach the threshold (0.8 by
// default), or the shorter text (at least MinContainShingles shingles) must
// be contained in the longer one (estimated containment ≥ 0.85).
//
// The index of sketches is in Redis (one Lua script per batch: one round
// trip, atomic, so variants reaching two workers at the same instant get one
// story id) or in process (bounded, for the embedded mode and while Redis is
// down). Entries live one to two windows (--near-dup-window): they are kept
// in one hash per window-long generation, and the current and previous
// generations are read.
//
// Identifier is safe for concurrent use.
package story
