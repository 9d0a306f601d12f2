package story

import (
	"slices"
	"sync"

	"newsflow/internal/news"
)

// bucketCap bounds the members one LSH bucket lists, the newest ones: a
// bucket that every post of a template lands in must not grow without
// bound, and a new variant is most likely of a recent story.
const bucketCap = 8

// maxCandidates bounds the candidates verified per article, those sharing
// the most bands first: posts of one template can share a few bands with
// many others, a variant shares many.
const maxCandidates = 8

// item is one article to assign.
type item struct {
	id    news.Hash
	sk    *Sketch
	bands [Bands]uint64
}

// result is the index's decision for one item.
type result struct {
	story    news.Hash
	kind     Kind
	checked  int
	rejected [numGuards]int
}

// member is one article of the in-process index.
type member struct {
	id, story news.Hash
	sk        *Sketch // nil: exact lookups only
	founder   *member // the member whose id is story (itself for a founder)

	// Candidate bookkeeping of the lookup in progress, guarded by
	// memory.mu: hits counts the bands shared with the article being
	// assigned, valid while seenIn equals memory.lookup.
	seenIn uint64
	hits   int
}

// generation is one window's worth of the in-process index.
type generation struct {
	n       int64
	members map[news.Hash]*member
	buckets map[uint64][]*member
}

func newGeneration(n int64) *generation {
	return &generation{n: n, members: map[news.Hash]*member{}, buckets: map[uint64][]*member{}}
}

// memory is the in-process index: the same decisions as the Redis one, in
// two generations of maps, the current one bounded to max members (when it
// fills up it becomes the previous one).
type memory struct {
	mu        sync.Mutex
	max       int
	need      int
	cur, prev *generation

	// Candidate counting without a map, under mu: a full bucket set gives
	// each article hundreds of candidates, and a map per article spent most
	// of the lookup growing and probing it (go run ./bench --messages 20000
	// --workers 1 --cpuprofile). Each lookup gets a new number; a member's
	// count is reset when it is first met in a lookup.
	lookup uint64
	order  []*member // reused candidate list
}

func newMemory(max, need int) *memory {
	return &memory{max: max, need: need, cur: newGeneration(0), prev: newGeneration(-1)}
}

// size returns the number of members held.
func (m *memory) size() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.cur.members) + len(m.prev.members)
}

// rotate makes gen the current generation.
func (m *memory) rotate(gen int64) {
	switch {
	case gen == m.cur.n:
	case gen == m.cur.n+1:
		m.prev, m.cur = m.cur, newGeneration(gen)
	case gen > m.cur.n:
		m.prev, m.cur = newGeneration(gen-1), newGeneration(gen)
	}
	if len(m.cur.members) >= m.max {
		m.prev, m.cur = m.cur, newGeneration(m.cur.n)
	}
}

// holds reports whether mb is still indexed (the script only sees what its
// two generations hold).
func (m *memory) holds(mb *member) bool {
	return m.cur.members[mb.id] == mb || m.prev.members[mb.id] == mb
}

// assign decides the items in order, each seeing the ones before it.
func (m *memory) assign(gen int64, items []item) []result {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rotate(gen)
	out := make([]result, len(items))
	for i := range items {
		out[i] = m.assignOne(&items[i])
	}
	return out
}

func (m *memory) assignOne(it *item) result {
	if mb, ok := m.cur.members[it.id]; ok {
		return result{story: mb.story, kind: Exact}
	}
	if mb, ok := m.prev.members[it.id]; ok {
		m.cur.members[it.id] = mb
		return result{story: mb.story, kind: Exact}
	}
	r := result{story: it.id, kind: Founded}
	var founder *member
	if it.sk != nil && !it.sk.Empty() {
		// Candidates: members sharing a band, by bands shared, then by first
		// seen (band order; newest first within a bucket), as the script.
		m.lookup++
		order := m.order[:0]
		defer func() { clear(order); m.order = order[:0] }() // keep no member alive
		for _, key := range it.bands {
			for _, g := range [2]*generation{m.cur, m.prev} {
				b := g.buckets[key]
				for j := len(b) - 1; j >= 0; j-- {
					c := b[j]
					if c.seenIn != m.lookup {
						c.seenIn, c.hits = m.lookup, 0
						order = append(order, c)
					}
					c.hits++
				}
			}
		}
		slices.SortStableFunc(order, func(x, y *member) int { return y.hits - x.hits })
		best := -1
		for _, c := range order[:min(len(order), maxCandidates)] {
			r.checked++
			kind, guard, matches := compare(it.sk, c.sk, m.need)
			if kind != Founded && matches > best && c.founder != c && m.holds(c.founder) {
				// A variant of a variant must not contradict the story's
				// founder either: no chain of small steps changes a number.
				guard = guards(it.sk, c.founder.sk)
				if guard != Passed {
					kind = Founded
				}
			}
			if kind == Founded {
				r.rejected[guard]++
				continue
			}
			if matches > best {
				best, r.story, r.kind, founder = matches, c.story, kind, c.founder
			}
		}
	}
	mb := &member{id: it.id, story: r.story, sk: it.sk, founder: founder}
	if founder == nil {
		mb.founder = mb
	}
	m.cur.members[it.id] = mb
	if it.sk != nil && !it.sk.Empty() {
		for _, key := range it.bands {
			b := m.cur.buckets[key]
			if len(b) == bucketCap {
				copy(b, b[1:])
				b = b[:bucketCap-1]
			}
			m.cur.buckets[key] = append(b, mb)
		}
	}
	return r
}
