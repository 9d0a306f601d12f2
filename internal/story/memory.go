package story

import (
	"cmp"
	"slices"
	"sync"
	"unsafe"

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

// member is an article of the in-process index with a sketch. It must hold
// no pointer: members are in memory mapped outside the Go heap, which the
// collector does not scan (mapArray panics on a type with one).
//
// What compare reads first (shingles, the spans of numbers and names) is in
// the member's first cache line, with the start of the signature.
type member struct {
	shingles int32
	founded  bool // founder is this member
	founder  ref  // the member whose id is story
	// numbers and names are in the generation's hashes.
	numbers, names span
	sig            packedSig
	story          news.Hash
}

// ref names a member: its generation's serial number and its index there.
type ref struct{ gen, i uint32 }

// span is a member's slice of generation.hashes: n hashes from start, of
// the generation's hashes counted across its chunks.
type span struct{ start, n uint32 }

// membersPerChunk is the size of the chunks members are stored in, a huge
// page each (mapped.go), so a growing generation never copies its members.
const membersPerChunk = hugePage / uint32(unsafe.Sizeof(member{}))

// This fails to compile unless every member of a chunk (which starts on a
// page) starts a cache line, as member's comment says.
var _ = [1]struct{}{}[unsafe.Sizeof(member{})%64]

// hashChunkBits sizes the chunks of generation.hashes: 2^hashChunkBits
// hashes, a huge page each. A span is in one chunk, or starts one made as
// long as it needs.
const hashChunkBits = 18

// This fails to compile unless a chunk of hashes is a huge page.
var _ = [1]struct{}{}[hugePage-8<<hashChunkBits]

// generation is one window's worth of the in-process index.
type generation struct {
	serial  uint32     // unique among the generations of a memory
	n       int64      // window number
	stories storyTable // story id of every article (with a sketch or not)
	buckets bucketTable
	chunks  [][]member
	members uint32     // members with a sketch
	hashes  [][]uint64 // hashes[c] is from hash c<<hashChunkBits on (its capacity may go on past the chunk)
	nHashes int        // hashes stored, counting the chunks' unused ends
	mapped  []mapping  // of chunks and hashes
	// marks[i] is member i's candidate bookkeeping: the lookup number in
	// its high bits, its place in that lookup's candidate list in its low
	// markBits. Apart from the members so it stays in cache.
	marks []uint32
}

func newGeneration(serial uint32, n int64) *generation {
	return &generation{serial: serial, n: n}
}

func (g *generation) at(i uint32) *member {
	return &g.chunks[i/membersPerChunk][i%membersPerChunk]
}

// add appends a member and returns its index.
func (g *generation) add() (uint32, *member) {
	i := g.members
	if int(i/membersPerChunk) == len(g.chunks) {
		c, m := mapArray[member](int(membersPerChunk))
		g.chunks, g.mapped = append(g.chunks, c), append(g.mapped, m)
	}
	g.members++
	g.marks = append(g.marks, 0)
	return i, g.at(i)
}

// hashesFit reports whether n more hashes, in two spans, fit a span's
// uint32 start: each span may start a new chunk (and the second may follow
// a first that took several), so they end by (len(g.hashes)+2) chunks + n.
func (g *generation) hashesFit(n int) bool {
	return uint64(len(g.hashes)+2)<<hashChunkBits+uint64(n) <= 1<<32
}

// appendHashes stores hs and returns its span. hashesFit must allow it.
func (g *generation) appendHashes(hs []uint64) span {
	if len(hs) == 0 {
		return span{}
	}
	const chunk = 1 << hashChunkBits
	if g.nHashes>>hashChunkBits == len(g.hashes) || g.nHashes%chunk+len(hs) > chunk {
		// A new chunk, or as many as the span needs, side by side.
		g.nHashes = len(g.hashes) << hashChunkBits
		chunks := (len(hs) + chunk - 1) / chunk
		c, m := mapArray[uint64](chunks * chunk)
		for i := range chunks {
			g.hashes = append(g.hashes, c[i*chunk:])
		}
		g.mapped = append(g.mapped, m)
	}
	s := span{start: uint32(g.nHashes), n: uint32(len(hs))}
	copy(g.span(s), hs)
	g.nHashes += len(hs)
	return s
}

// span returns the hashes of s.
func (g *generation) span(s span) []uint64 {
	if s.n == 0 {
		return nil
	}
	c, i := s.start>>hashChunkBits, s.start%(1<<hashChunkBits)
	return g.hashes[c][i : i+s.n : i+s.n]
}

func (g *generation) features(mb *member) features {
	return features{sig: &mb.sig, shingles: int(mb.shingles), numbers: g.span(mb.numbers), names: g.span(mb.names)}
}

// release returns the generation's mapped memory; it must not be used
// after.
func (g *generation) release() {
	g.buckets.release()
	g.stories.release()
	for _, m := range g.mapped {
		m.release()
	}
	g.chunks, g.hashes, g.mapped = nil, nil, nil
}

// candidate is a member met in a lookup: of the current generation (gen
// 0) or the previous one (1).
type candidate struct{ gen, i uint32 }

// markBits holds a place in a lookup's candidate list, which has at most
// one candidate per bucket member read: 2 generations × Bands × bucketCap.
const markBits = 9

// These fail to compile unless the candidate list's places fit in markBits.
var _ = [1<<markBits - 2*Bands*bucketCap]struct{}{}

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
	// --workers 1 --cpuprofile). Each lookup gets a new number; a member met
	// in it marks itself with that and its place in order (generation.marks),
	// and its count is hits at that place, so a member costs one random
	// access the first time it is met and none after (go test -bench
	// MemoryIndex).
	lookup uint32
	order  []candidate // reused candidate list
	hits   [1 << markBits]uint8
	top    []candidate
	sink   uint64    // what was read ahead, so the reads stay
	sig    packedSig // the article's, packed
}

func newMemory(max, need int) *memory {
	return &memory{max: max, need: need, cur: newGeneration(1, 0), prev: newGeneration(0, -1), serial: 1}
}

// size returns the number of articles held.
func (m *memory) size() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cur.stories.len() + m.prev.stories.len()
}

// next returns a new generation numbered n, sized like like (nil: empty).
// A generation fills about as far as the one before it; allocated at that
// size it does not grow its bucket table, map and lists from empty, which
// rehashes every bucket once per doubling (a fresh worker's first generation
// does: bucketTable.grow is 12.5 % of its CPU in go run ./bench --messages
// 60000 --workers 1 --latency-rate 0 --cpuprofile).
func (m *memory) next(n int64, like *generation) *generation {
	m.serial++
	g := newGeneration(m.serial, n)
	if like != nil {
		g.stories.presize(like.stories.len())
		g.buckets.presize(len(like.buckets.slots), len(like.buckets.over))
		g.marks = make([]uint32, 0, like.members)
	}
	return g
}

// rotate makes gen the current generation.
func (m *memory) rotate(gen int64) {
	switch {
	case gen == m.cur.n:
	case gen == m.cur.n+1:
		m.turn(m.cur, m.next(gen, m.cur))
	case gen > m.cur.n:
		m.turn(m.next(gen-1, nil), m.next(gen, m.cur))
	}
	if m.cur.stories.len() >= m.max {
		m.turn(m.cur, m.next(m.cur.n, m.cur))
	}
}

// turn makes prev and cur the generations, releasing those it drops.
func (m *memory) turn(prev, cur *generation) {
	for _, g := range [2]*generation{m.prev, m.cur} {
		if g != prev && g != cur {
			g.release()
		}
	}
	m.prev, m.cur = prev, cur
}

// close releases the generations' memory; the index is empty after.
func (m *memory) close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.turn(m.next(m.prev.n, nil), m.next(m.cur.n, nil))
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
	if s, ok := m.cur.stories.get(it.id); ok {
		return result{story: s, kind: Exact}
	}
	if s, ok := m.prev.stories.get(it.id); ok {
		m.cur.stories.put(it.id, s)
		return result{story: s, kind: Exact}
	}
	r := result{story: it.id, kind: Founded}
	if it.sk == nil || it.sk.Empty() {
		m.cur.stories.put(it.id, it.id)
		return r
	}
	// A bucket holds a member's index +1 in 24 bits. rotate turns a
	// generation of MaxMemory ≤ maxMembers articles over between batches;
	// this turns over one that a batch fills to maxMembers, or whose hashes
	// a span's start would no longer reach (only texts full of numbers and
	// names, 32 GiB of them, get there).
	if m.cur.members == maxMembers || !m.cur.hashesFit(len(it.sk.Numbers)+len(it.sk.Names)) {
		m.turn(m.cur, m.next(m.cur.n, m.cur))
	}
	sk := it.sk.features(&m.sig)
	// Candidates: members sharing a band, by bands shared, then by first
	// seen (band order; newest first within a bucket), as the script.
	stamp := m.nextLookup() << markBits
	order := m.order[:0]
	gens := [2]*generation{m.cur, m.prev}
	if m.prev.buckets.len() == 0 {
		gens[1] = nil
	}
	// The current generation's table has room for the article's buckets, so
	// they go where the lookups found them (places[0]).
	m.cur.buckets.reserve(Bands)
	var places [2][Bands]int
	var found [2]uint32 // bit b: key b has a bucket
	for gi, g := range gens {
		if g != nil {
			found[gi] = g.buckets.lookup(&it.bands, &places[gi])
		}
	}
	for b := range it.bands {
		if found[0]&(1<<b) != 0 {
			order = m.count(order, m.cur, 0, places[0][b], stamp)
		}
		if found[1]&(1<<b) != 0 {
			order = m.count(order, m.prev, 1, places[1][b], stamp)
		}
	}
	m.order = order
	m.top = mostShared(m.top[:0], order, m.hits[:len(order)], maxCandidates)
	// The candidates' first lines (shingles, spans, the signature's start)
	// and numbers, read together rather than one after another.
	for _, c := range m.top {
		g := gens[c.gen]
		mb := g.at(c.i)
		m.sink += uint64(mb.shingles)
		if mb.numbers.n > 0 {
			m.sink += g.span(mb.numbers)[0]
		}
	}
	best := -1
	var founder ref
	for _, c := range m.top {
		r.checked++
		g := gens[c.gen]
		mb := g.at(c.i)
		kind, guard, matches := compare(sk, g.features(mb), m.need, true)
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
	g := m.cur
	g.stories.put(it.id, r.story)
	i, mb := g.add()
	*mb = member{story: r.story, founder: founder, shingles: int32(it.sk.Shingles), sig: m.sig}
	if r.kind == Founded {
		mb.founder, mb.founded = ref{gen: g.serial, i: i}, true
	}
	mb.numbers = g.appendHashes(it.sk.Numbers)
	mb.names = g.appendHashes(it.sk.Names)
	for b, key := range it.bands {
		g.buckets.insert(places[0][b], key, i+1)
	}
	return r
}

// count counts the members of g's bucket in slot place (g is generation gi
// of the lookup stamp), appending those met first to order.
func (m *memory) count(order []candidate, g *generation, gi uint32, place int, stamp uint32) []candidate {
	var ms [bucketCap]uint32
	for _, i := range ms[:g.buckets.membersAt(place, &ms)] {
		mk := &g.marks[i-1]
		if *mk&^(1<<markBits-1) != stamp {
			*mk = stamp | uint32(len(order))
			m.hits[len(order)&(1<<markBits-1)] = 1
			order = append(order, candidate{gen: gi, i: i - 1})
			continue
		}
		m.hits[*mk&(1<<markBits-1)]++
	}
	return order
}

// mostSharedSorted is mostShared by a stable sort.
func mostSharedSorted(dst, order []candidate, hits []uint8, k int) []candidate {
	byHits := make([]int, len(order))
	for j := range byHits {
		byHits[j] = j
	}
	slices.SortStableFunc(byHits, func(a, b int) int { return cmp.Compare(hits[b], hits[a]) })
	for _, j := range byHits[:min(k, len(byHits))] {
		dst = append(dst, order[j])
	}
	return dst
}

// nextLookup returns a new lookup number for marks, never 0 (a new
// member's mark): when the numbers run out, the marks are cleared and they
// start again.
func (m *memory) nextLookup() uint32 {
	m.lookup++
	if m.lookup == 1<<(32-markBits) {
		clear(m.cur.marks)
		clear(m.prev.marks)
		m.lookup = 1
	}
	return m.lookup
}

// mostShared appends to dst the k candidates of order sharing the most
// bands (hits, by place in order), in order of bands shared and then of
// order: a stable sort's first k, without the sort, in two passes: count by
// bands shared, then place.
func mostShared(dst, order []candidate, hits []uint8, k int) []candidate {
	hits = hits[:len(order)]
	// Most candidates share one band: those are counted last, from the
	// others, so the loop mostly neither stores nor waits on a store.
	var count [Bands + 1]int32
	for _, h := range hits {
		if h > 1 {
			if h > Bands { // only if an article's band keys collided
				return mostSharedSorted(dst, order, hits, k)
			}
			count[h]++
		}
	}
	// The k chosen are all those sharing more than least bands and the
	// first few sharing least; place[h] is where the next one sharing h
	// goes.
	var place [Bands + 1]int32
	n, least := int32(0), uint8(1)
	for h := Bands; h > 0; h-- {
		place[h] = n
		if h == 1 {
			count[1] = int32(len(hits)) - n
		}
		n += count[h]
		if int(n) >= k {
			least = uint8(h)
			break
		}
	}
	n = min(n, int32(k))
	start := len(dst)
	dst = append(dst, make([]candidate, n)...)
	out := dst[start:]
	for j, h := range hits {
		if h < least {
			continue
		}
		if p := place[h]; p < n {
			out[p] = order[j]
			place[h]++
		}
	}
	return dst
}
