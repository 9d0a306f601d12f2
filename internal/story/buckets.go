package story

import "math/bits"

// bucketTable maps band keys to buckets: open addressing with linear
// probing over one array of slots, key and bucket side by side.
//
// Written here rather than a Go map because the band lookups per article
// were most of the in-process index's CPU, nearly all of it waiting on memory
// (go run ./bench --messages 20000 --workers 1 --cpuprofile: mapaccess2 and
// its first control-word read). This table reads a small bucket in one
// access, reads an article's Bands home slots together and then its larger
// buckets together (lookup), so the memory system fetches them in parallel
// rather than one after another, and adds to a bucket where the lookup
// found it (insert), without a second search.
//
// A slot is 16 bytes: its key and up to two members inline, or the place of
// its bucket in over. Most buckets hold one member, so this is half the
// memory of 32-byte slots with every bucket inline, and no slower with
// lookup reading the larger buckets ahead (README, near-dup:
// NEWSFLOW_BENCH_MESSAGES=60000 go test -run '^$' -bench MemoryIndex
// ./internal/story/).
type bucketTable struct {
	openTable[bucketSlot]          // a key's home slot is key >> shift
	over                  []bucket // buckets of more than two members
	sink                  uint64   // what lookup read ahead, so the reads stay
}

type bucketSlot struct {
	key uint64 // 0: free (the key 0 is stored as 1)
	// v is members inline, newest first in bits 0–23 and 24–47 (each +1,
	// 0: none), or with overBit its bucket's place in over.
	v uint64
}

const overBit = 1 << 63

// bucket lists the members of an LSH bucket of more than two, newest
// first, each +1 (0: none): the newest bucketCap, side by side, so reading
// it costs one memory access rather than one per member. Member e is bits
// 24e to 24e+23 of the 192-bit number the words make, lowest word first.
type bucket [3]uint64

// maxMembers bounds the members of a generation: a bucket holds a member's
// index +1 in 24 bits.
const maxMembers = 1<<24 - 1

const memberMask = 1<<24 - 1

// members unpacks b into out and returns how many it lists.
func (b *bucket) members(out *[bucketCap]uint32) int {
	w0, w1, w2 := b[0], b[1], b[2]
	*out = [bucketCap]uint32{
		uint32(w0 & memberMask), uint32(w0 >> 24 & memberMask), uint32((w0>>48 | w1<<16) & memberMask),
		uint32(w1 >> 8 & memberMask), uint32(w1 >> 32 & memberMask), uint32((w1>>56 | w2<<8) & memberMask),
		uint32(w2 >> 16 & memberMask), uint32(w2 >> 40),
	}
	// Members fill the number from its low bits: count its 24-bit digits.
	switch {
	case w2 != 0:
		return (128 + bits.Len64(w2) + 23) / 24
	case w1 != 0:
		return (64 + bits.Len64(w1) + 23) / 24
	}
	return (bits.Len64(w0) + 23) / 24
}

// push makes v (a member index +1, below 2^24) the newest member, dropping
// the oldest if the bucket is full.
func (b *bucket) push(v uint32) {
	b[2] = b[2]<<24 | b[1]>>40
	b[1] = b[1]<<24 | b[0]>>40
	b[0] = b[0]<<24 | uint64(v)
}

// These fail to compile unless a bucket holds bucketCap members.
var _ = [1]struct{}{}[len(bucket{})*64-bucketCap*24]

// minSlots is the size of a table's first array.
const minSlots = 1 << 10

func slotKey(key uint64) uint64 {
	if key == 0 {
		return 1
	}
	return key
}

// membersAt unpacks the bucket of slot i (in use) into out and returns how
// many members it lists.
func (t *bucketTable) membersAt(i int, out *[bucketCap]uint32) int {
	v := t.slots[i].v
	if v&overBit != 0 {
		return t.over[uint32(v)].members(out)
	}
	out[0], out[1] = uint32(v&memberMask), uint32(v>>24)
	if out[1] == 0 {
		return 1
	}
	return 2
}

// len returns the number of buckets.
func (t *bucketTable) len() int { return t.n }

// touch reads the home slots of keys, so that a lookup soon after finds
// them in cache; it returns a value only so the reads are not optimised
// away.
func (t *bucketTable) touch(keys *[Bands]uint64) uint64 {
	if t.n == 0 {
		return 0
	}
	var sum uint64
	for _, k := range keys {
		sum += t.slots[slotKey(k)>>t.shift].key
	}
	return sum
}

// lookup finds keys: places[b] is where find puts keys[b], and bit b of
// the result says whether it is there. It reads the keys' home slots first
// and then the buckets of more than two members, each batch together, so
// that the memory system fetches them in parallel rather than one after
// another. The table must have a free slot.
func (t *bucketTable) lookup(keys *[Bands]uint64, places *[Bands]int) uint32 {
	if t.n == 0 { // every home slot is free
		for b, k := range keys {
			places[b] = int(slotKey(k) >> t.shift)
		}
		return 0
	}
	sum := t.touch(keys)
	var found uint32
	for b, k := range keys {
		i, ok := t.find(k)
		places[b] = i
		if ok {
			found |= 1 << b
			if v := t.slots[i].v; v&overBit != 0 {
				sum += t.over[uint32(v)][0]
			}
		}
	}
	t.sink += sum
	return found
}

// This fails to compile unless lookup's result has a bit per band.
var _ = [1]struct{}{}[Bands/33]

// reserve grows the table if adding n buckets would fill it beyond 3/4.
// Until n buckets are added, it does not grow, so the places find returns
// stay valid.
func (t *bucketTable) reserve(n int) { t.openTable.reserve(n, minSlots) }

// find returns the place of key's bucket, or that of the free slot where
// it would go, and whether it is there. The table must have a free slot.
func (t *bucketTable) find(key uint64) (int, bool) {
	key = slotKey(key)
	mask := len(t.slots) - 1
	for i := int(key >> t.shift); ; i = (i + 1) & mask {
		switch t.slots[i].key {
		case key:
			return i, true
		case 0:
			return i, false
		}
	}
}

// get unpacks the bucket of key into out and returns how many members it
// lists (0: no bucket).
func (t *bucketTable) get(key uint64, out *[bucketCap]uint32) int {
	if t.n == 0 {
		return 0
	}
	if i, ok := t.find(key); ok {
		return t.membersAt(i, out)
	}
	return 0
}

// insert pushes v onto the bucket of key, adding the bucket if there is
// none. from is where find last put key; since then buckets may have been
// added (each where find put it), but the table has not grown.
func (t *bucketTable) insert(from int, key uint64, v uint32) {
	key = slotKey(key)
	mask := len(t.slots) - 1
	i := from
	for t.slots[i].key != key && t.slots[i].key != 0 {
		i = (i + 1) & mask // a bucket added since took the free slot
	}
	s := &t.slots[i]
	switch {
	case s.key == 0:
		s.key, s.v = key, uint64(v)
		t.n++
	case s.v&overBit != 0:
		t.over[uint32(s.v)].push(v)
	case s.v>>24 == 0:
		s.v = s.v<<24 | uint64(v)
	default: // a third member: the bucket moves to over
		var b bucket
		b.push(uint32(s.v >> 24))
		b.push(uint32(s.v & memberMask))
		b.push(v)
		s.v = overBit | uint64(len(t.over))
		t.over = append(t.over, b)
	}
}

// presize makes an empty table slots long (rounded up to a power of two),
// so that it does not grow until it holds 3/4 of that, with room for over
// buckets of more than two members.
func (t *bucketTable) presize(slots, over int) {
	if t.n != 0 || slots <= len(t.slots) {
		return
	}
	t.release()
	t.alloc(max(minSlots, 1<<bits.Len(uint(slots-1))))
	t.over = make([]bucket, 0, over)
}

// release returns the table's array; the table is empty after.
func (t *bucketTable) release() {
	t.openTable.release()
	*t = bucketTable{}
}

func (s bucketSlot) hash() uint64 { return s.key }
