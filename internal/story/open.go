package story

import "math/bits"

// openTable is the array of an open-addressing table with linear probing
// (bucketTable, storyTable), in mapped memory (mapped.go): a power of two
// slots long, or empty. A slot's home is the top bits of its hash, and the
// zero slot is free.
type openTable[S openSlot] struct {
	slots []S
	mem   mapping // where slots is
	shift uint    // 64 − log2(len(slots)): a slot's home is hash >> shift
	n     int     // slots in use
}

// openSlot is a slot of an openTable.
type openSlot interface {
	bucketSlot | storySlot
	// hash is what places the slot (it is never asked of the zero slot).
	hash() uint64
}

// alloc gives the table an empty array of size slots, a power of two; it
// must have none.
func (t *openTable[S]) alloc(size int) {
	t.slots, t.mem = mapArray[S](size)
	t.shift = uint(64 - bits.Len(uint(size-1)))
}

// release returns the table's array; it has none after.
func (t *openTable[S]) release() {
	t.mem.release()
	*t = openTable[S]{}
}

// reserve grows the array if k more slots in use would fill it beyond 3/4
// (an empty table gets one of minSize slots). Until they are added it does
// not grow, so places found in it stay valid.
func (t *openTable[S]) reserve(k, minSize int) {
	if 4*(t.n+k) > 3*len(t.slots) {
		t.grow(minSize)
	}
}

// grow doubles the array (or makes one of minSize), moving every slot to
// the first free place from its home.
func (t *openTable[S]) grow(minSize int) {
	old, oldMem := t.slots, t.mem
	t.alloc(max(minSize, 2*len(old)))
	mask := uint64(len(t.slots) - 1)
	var free S
	for _, s := range old {
		if s == free {
			continue
		}
		i := s.hash() >> t.shift
		for t.slots[i] != free {
			i = (i + 1) & mask
		}
		t.slots[i] = s
	}
	oldMem.release()
}
