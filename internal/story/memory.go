package story

import (
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

// member is an article of the in-process index with a sketch. It holds no
// pointer (nor does anything of a generation but its chunk list), so the
// garbage collector does not scan the index: with pointers, marking it was
// a visible share of the worker's CPU.
type member struct {
	story    news.Hash
	founder  ref  // the member whose id is story
	founded  bool // founder is this member
	shingles int32
	sig      [Bins]uint16
	// numbers and names are in the generation's hashes.
	numbers, names span
}

// bucket lists the members of one LSH bucket, newest first, each +1 (0:
// none): the newest bucketCap, inline, so reading a bucket costs one memory
// access rather than one per member.
type bucket [bucketCap]uint32

// ref names a member: its generation's serial number and its index there.
type ref struct{ gen, i uint32 }

// span is a member's slice of generation.hashes.
type span struct{ start, n uint32 }

// chunkBits sizes the chunks members are stored in (2^chunkBits each), so
// a growing generation never copies its members.
const chunkBits = 10

// generation is one window's worth of the in-process index.
type generation struct {
	serial  uint32                  // unique among the generations of a memory
	n       int64                   // window number
	stories map[news.Hash]news.Hash // story id of every article (with a sketch or not)
	buckets bucketTable
	chunks  [][]member
	members uint32 // members with a sketch
	hashes  []uint64
	// marks[i] is member i's candidate bookkeeping: the lookup number in
	// its high bits, the bands it shares with that lookup's article in its
	// low 8 (at most Bands). Apart from the members so it stays in cache.
	marks []uint64
}

func newGeneration(serial uint32, n int64) *generation {
	return &generation{serial: serial, n: n, stories: map[news.Hash]news.Hash{}}
}

func (g *generation) at(i uint32) *member {
	return &g.chunks[i>>chunkBits][i&(1<<chunkBits-1)]
}

// add appends a member and returns its index.
func (g *generation) add() (uint32, *member) {
	i := g.members
	if int(i>>chunkBits) == len(g.chunks) {
		g.chunks = append(g.chunks, make([]member, 1<<chunkBits))
	}
	g.members++
	g.marks = append(g.marks, 0)
	return i, g.at(i)
}

func (g *generation) appendHashes(hs []uint64) span {
	s := span{start: uint32(len(g.hashes)), n: uint32(len(hs))}
	g.hashes = append(g.hashes, hs...)
	return s
}

func (g *generation) features(mb *member) features {
	return features{
		sig:      &mb.sig,
		shingles: int(mb.shingles),
		numbers:  g.hashes[mb.numbers.start : mb.numbers.start+mb.numbers.n],
		names:    g.hashes[mb.names.start : mb.names.start+mb.names.n],
	}
}

// candidate is a member met in a lookup.
type candidate struct {
	g    *generation
	i    uint32
	hits uint32
}

// memory is the in-process index: the same decisions as the Redis one, in
// two generations, the current one bounded to max articles (when it fills
// up it becomes the previous one).
type memory struct {
	mu        sync.Mutex
	max       int
	need      int
	cur, prev *generation
	serial    uint32 // of the newest generation

	// Candidate counting without a map, under mu: a full bucket set gives
	// each article hundreds of candidates, and a map per article spent most
	// of the lookup growing and probing it (go run ./bench --messages 20000
	// --workers 1 --cpuprofile). Each lookup gets a new number; a member's
	// count (generation.marks) is reset when it is first met in a lookup.
	lookup uint64
	order  []candidate // reused candidate list
	top    []candidate
	sink   uint64 // bucketTable.touch's sum
}

func newMemory(max, need int) *memory {
	return &memory{max: max, need: need, cur: newGeneration(1, 0), prev: newGeneration(0, -1), serial: 1}
}

// size returns the number of articles held.
func (m *memory) size() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.cur.stories) + len(m.prev.stories)
}

// next returns a new generation numbered n, sized like like (nil: empty).
// A generation fills about as far as the one before it; allocated at that
// size it does not grow its bucket table, map and lists from empty, which
// rehashed every bucket once per doubling (bucketTable.grow was ~7 % of the
// worker's CPU with near-dup on: go run ./bench --messages 60000 --workers
// 1 --latency-rate 0 --cpuprofile).
func (m *memory) next(n int64, like *generation) *generation {
	m.serial++
	g := newGeneration(m.serial, n)
	if like != nil {
		g.stories = make(map[news.Hash]news.Hash, len(like.stories))
		g.buckets.reserve(len(like.buckets.slots))
		g.marks = make([]uint64, 0, like.members)
		g.hashes = make([]uint64, 0, len(like.hashes))
	}
	return g
}

// rotate makes gen the current generation.
func (m *memory) rotate(gen int64) {
	switch {
	case gen == m.cur.n:
	case gen == m.cur.n+1:
		m.prev, m.cur = m.cur, m.next(gen, m.cur)
	case gen > m.cur.n:
		m.prev, m.cur = m.next(gen-1, nil), m.next(gen, m.cur)
	}
	if len(m.cur.stories) >= m.max {
		m.prev, m.cur = m.cur, m.next(m.cur.n, m.cur)
	}
}

// resolve returns the member r names and its generation, or nil if it is
// no longer indexed (the script only sees what its two generations hold).
func (m *memory) resolve(r ref) (*generation, *member) {
	for _, g := range [2]*generation{m.cur, m.prev} {
		if g.serial == r.gen {
			return g, g.at(r.i)
		}
	}
	return nil, nil
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
	if s, ok := m.cur.stories[it.id]; ok {
		return result{story: s, kind: Exact}
	}
	if s, ok := m.prev.stories[it.id]; ok {
		m.cur.stories[it.id] = s
		return result{story: s, kind: Exact}
	}
	r := result{story: it.id, kind: Founded}
	if it.sk == nil || it.sk.Empty() {
		m.cur.stories[it.id] = it.id
		return r
	}
	sk := it.sk.features()
	// Candidates: members sharing a band, by bands shared, then by first
	// seen (band order; newest first within a bucket), as the script.
	m.lookup++
	stamp := m.lookup << 8
	order := m.order[:0]
	defer func() { clear(order); m.order = order[:0] }() // keep no generation alive
	gens := [2]*generation{m.cur, m.prev}
	if m.prev.buckets.len() == 0 {
		gens[1] = nil
	}
	for _, g := range gens {
		if g != nil {
			m.sink += g.buckets.touch(&it.bands)
		}
	}
	for _, key := range it.bands {
		for _, g := range gens {
			if g == nil {
				continue
			}
			bk := g.buckets.get(key)
			if bk == nil {
				continue
			}
			for _, i := range bk {
				if i == 0 {
					break
				}
				mk := &g.marks[i-1]
				if *mk&^0xff != stamp {
					*mk = stamp
					order = append(order, candidate{g: g, i: i - 1})
				}
				*mk++
			}
		}
	}
	m.top = mostShared(m.top[:0], order, maxCandidates)
	best := -1
	var founder ref
	for _, c := range m.top {
		r.checked++
		mb := c.g.at(c.i)
		kind, guard, matches := compare(sk, c.g.features(mb), m.need)
		if kind != Founded && matches > best && !mb.founded {
			// A variant of a variant must not contradict the story's
			// founder either: no chain of small steps changes a number.
			if fg, f := m.resolve(mb.founder); f != nil {
				guard = guards(sk, fg.features(f))
				if guard != Passed {
					kind = Founded
				}
			}
		}
		if kind == Founded {
			r.rejected[guard]++
			continue
		}
		if matches > best {
			best, r.story, r.kind, founder = matches, mb.story, kind, mb.founder
		}
	}
	clear(m.top)
	g := m.cur
	g.stories[it.id] = r.story
	i, mb := g.add()
	*mb = member{story: r.story, founder: founder, shingles: int32(it.sk.Shingles), sig: it.sk.Sig}
	if r.kind == Founded {
		mb.founder, mb.founded = ref{gen: g.serial, i: i}, true
	}
	mb.numbers = g.appendHashes(it.sk.Numbers)
	mb.names = g.appendHashes(it.sk.Names)
	for _, key := range it.bands {
		bk := g.buckets.put(key)
		copy(bk[1:], bk[:bucketCap-1])
		bk[0] = i + 1
	}
	return r
}

// mostShared appends to dst the k candidates of order sharing the most
// bands, in order of bands shared and then of order: a stable sort's first
// k, without the sort.
func mostShared(dst, order []candidate, k int) []candidate {
	var count [256]int // a count is 8 bits (more than Bands only if band keys collided)
	top := uint32(0)
	for j := range order {
		c := &order[j]
		c.hits = uint32(c.g.marks[c.i] & 0xff)
		count[c.hits]++
		top = max(top, c.hits)
	}
	for h := int(top); h > 0 && len(dst) < k; h-- {
		if count[h] == 0 {
			continue
		}
		for _, c := range order {
			if c.hits == uint32(h) {
				dst = append(dst, c)
				if len(dst) == k {
					break
				}
			}
		}
	}
	return dst
}
