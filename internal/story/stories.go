package story

import (
	"encoding/binary"
	"math/bits"

	"newsflow/internal/news"
)

// storyTable maps articles' content hashes to their story ids: open
// addressing with linear probing over memory mapped outside the Go heap
// (mapped.go), as bucketTable. As a Go map it was the largest part of the
// index left on the heap, where the collector's goal made it cost several
// times its size in fresh pages (README, near-dup).
type storyTable struct {
	openTable[storySlot] // an id's home slot is home(id) >> shift
	// The zero id cannot be a slot's key (a free slot has it): its story is
	// kept here.
	hasZero   bool
	zeroStory news.Hash
}

type storySlot struct{ id, story news.Hash }

// minStorySlots is the size of a table's first array.
const minStorySlots = 1 << 10

// home mixes an id's first 16 bytes: a content hash is uniform, but an id
// made otherwise (a test's) need not be.
func home(id *news.Hash) uint64 {
	return fmix(binary.LittleEndian.Uint64(id[:8]) ^ bits.RotateLeft64(binary.LittleEndian.Uint64(id[8:16]), 31))
}

// len returns the number of ids held.
func (t *storyTable) len() int {
	if t.hasZero {
		return t.n + 1
	}
	return t.n
}

// get returns the story of id and whether id is held.
func (t *storyTable) get(id news.Hash) (news.Hash, bool) {
	if id == (news.Hash{}) {
		return t.zeroStory, t.hasZero
	}
	if t.n == 0 {
		return news.Hash{}, false
	}
	mask := len(t.slots) - 1
	for i := int(home(&id) >> t.shift); ; i = (i + 1) & mask {
		switch s := &t.slots[i]; s.id {
		case id:
			return s.story, true
		case news.Hash{}:
			return news.Hash{}, false
		}
	}
}

// put sets the story of id.
func (t *storyTable) put(id, story news.Hash) {
	if id == (news.Hash{}) {
		t.zeroStory, t.hasZero = story, true
		return
	}
	t.reserve(1, minStorySlots)
	mask := len(t.slots) - 1
	i := int(home(&id) >> t.shift)
	for t.slots[i].id != id && t.slots[i].id != (news.Hash{}) {
		i = (i + 1) & mask
	}
	if t.slots[i].id == (news.Hash{}) {
		t.n++
	}
	t.slots[i] = storySlot{id: id, story: story}
}

// presize makes an empty table hold n ids without growing.
func (t *storyTable) presize(n int) {
	if t.len() != 0 {
		return
	}
	t.release()
	t.alloc(max(minStorySlots, 1<<bits.Len(uint(4*n/3))))
}

// release returns the table's array; the table is empty after.
func (t *storyTable) release() {
	t.openTable.release()
	*t = storyTable{}
}

func (s storySlot) hash() uint64 { return home(&s.id) }
