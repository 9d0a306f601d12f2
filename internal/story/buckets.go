package story

import "math/bits"

// bucketTable maps band keys to buckets: open addressing with linear
// probing over one array of slots, key and bucket side by side.
//
// Written here rather than a Go map because the 32 band lookups per article
// were most of the in-process index's CPU, nearly all of it waiting on memory
// (go run ./bench --messages 20000 --workers 1 --cpuprofile: mapaccess2 and
// its first control-word read). This table reads a bucket in one access,
// updates it in place (no second lookup to store it), and lets a lookup
// touch the 32 slots first (touch), so the memory system fetches them
// in parallel rather than one after another.
type bucketTable struct {
	slots []bucketSlot // a power of two long, or empty
	n     int          // slots in use
	shift uint         // 64 − log2(len(slots)): a key's home slot is key >> shift
}

type bucketSlot struct {
	key uint64 // 0: free (the key 0 is stored as 1)
	b   bucket
}

// minSlots is the size of a table's first array.
const minSlots = 1 << 10

func slotKey(key uint64) uint64 {
	if key == 0 {
		return 1
	}
	return key
}

// len returns the number of buckets.
func (t *bucketTable) len() int { return t.n }

// touch reads the home slots of keys, so that the lookups that follow find
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

// get returns the bucket of key, or nil.
func (t *bucketTable) get(key uint64) *bucket {
	if t.n == 0 {
		return nil
	}
	if s := t.slot(slotKey(key)); s.key != 0 {
		return &s.b
	}
	return nil
}

// put returns the bucket of key, adding an empty one if there is none. The
// pointer is valid until the next put.
func (t *bucketTable) put(key uint64) *bucket {
	if 4*(t.n+1) > 3*len(t.slots) {
		t.grow()
	}
	key = slotKey(key)
	s := t.slot(key)
	if s.key == 0 {
		s.key = key
		t.n++
	}
	return &s.b
}

// slot returns the slot of key (a slotKey), or the free slot where it
// would go. The table must have a free slot.
func (t *bucketTable) slot(key uint64) *bucketSlot {
	mask := uint64(len(t.slots) - 1)
	for i := key >> t.shift; ; i = (i + 1) & mask {
		if s := &t.slots[i]; s.key == key || s.key == 0 {
			return s
		}
	}
}

// reserve makes an empty table slots long (rounded up to a power of two),
// so that it does not grow until it holds 3/4 of that.
func (t *bucketTable) reserve(slots int) {
	if t.n != 0 || slots <= len(t.slots) {
		return
	}
	t.alloc(max(minSlots, 1<<bits.Len(uint(slots-1))))
}

// alloc gives the table an empty array of size slots, a power of two.
func (t *bucketTable) alloc(size int) {
	t.slots = make([]bucketSlot, size)
	t.shift = uint(64 - bits.Len(uint(size-1)))
}

func (t *bucketTable) grow() {
	old := t.slots
	t.alloc(max(minSlots, 2*len(old)))
	mask := uint64(len(t.slots) - 1)
	for _, s := range old {
		if s.key == 0 {
			continue
		}
		i := s.key >> t.shift
		for t.slots[i].key != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = s
	}
}
