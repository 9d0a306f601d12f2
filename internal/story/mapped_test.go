package story

import (
	"reflect"
	"testing"
	"unsafe"

	"newsflow/internal/news"
)

// TestIdentifier_CloseReleasesMemory: the in-process index's mappings are
// returned when its Identifier is closed, Assign after Close still works
// (on an empty index), and closing again returns what that mapped.
func TestIdentifier_CloseReleasesMemory(t *testing.T) {
	// Not parallel: mappedBytes counts every index of the process.
	before := mappedBytes.Load()
	id, err := New(Config{}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	rows := genArticles(t, 20_001)
	for start := 0; start+100 < len(rows); start += 100 {
		id.Assign(t.Context(), rows[start:start+100])
	}
	if mapsMemory && mappedBytes.Load() == before {
		t.Fatal("20,000 articles mapped no memory: the index is on the heap, where its size inflates the collector's goal")
	}
	id.Close()
	if got := mappedBytes.Load(); got != before {
		t.Fatalf("after Close %d bytes stay mapped, want %d", got, before)
	}
	// An article the Identifier has not seen, so that the index (not the
	// content hashes it remembers) decides it.
	again := rows[len(rows)-1:]
	id.Assign(t.Context(), again)
	if again[0].StoryID == (news.Hash{}) {
		t.Fatal("Assign after Close set no story id")
	}
	id.Close()
	if got := mappedBytes.Load(); got != before {
		t.Fatalf("after a second Close %d bytes stay mapped, want %d", got, before)
	}
}

// TestGeneration_HashSpans: spans that fill a chunk exactly, that do not
// fit in what is left of one, and that are longer than a chunk each read
// back as written, and release returns every mapping.
func TestGeneration_HashSpans(t *testing.T) {
	// Not parallel: mappedBytes counts every index of the process.
	const chunk = 1 << hashChunkBits
	before := mappedBytes.Load()
	g := newGeneration(1, 0)
	var spans []span
	var want [][]uint64
	next := uint64(1)
	for _, n := range []int{3, chunk - 3, 1, chunk + 5, 7, chunk, 2*chunk - 1, 0, 2} {
		hs := make([]uint64, n)
		for i := range hs {
			hs[i] = next
			next++
		}
		spans = append(spans, g.appendHashes(hs))
		want = append(want, hs)
	}
	for i, s := range spans {
		got := g.span(s)
		if len(got) != len(want[i]) || cap(got) != len(want[i]) {
			t.Fatalf("span %d: len %d cap %d, want %d", i, len(got), cap(got), len(want[i]))
		}
		for j := range got {
			if got[j] != want[i][j] {
				t.Fatalf("span %d: hash %d is %d, want %d", i, j, got[j], want[i][j])
			}
		}
	}
	g.release()
	if got := mappedBytes.Load(); got != before {
		t.Fatalf("after release %d bytes stay mapped, want %d", got, before)
	}
}

// TestMapArray_HugePageAligned: a mapped array starts on a huge page, so
// that huge pages can back all of it (the kernel aligns it by itself only
// from Linux 6.7 on).
func TestMapArray_HugePageAligned(t *testing.T) {
	// Not parallel: mappedBytes counts every index of the process.
	if !mapsMemory {
		t.Skip("the index maps no memory here")
	}
	for _, n := range []int{hugePage / 8, hugePage/8 + 1, 3 * hugePage / 8} {
		a, m := mapArray[uint64](n)
		if m == nil {
			t.Fatalf("%d hashes were not mapped", n)
		}
		if p := uintptr(unsafe.Pointer(unsafe.SliceData(a))); p%hugePage != 0 {
			t.Errorf("%d hashes mapped at %#x, not a multiple of %d", n, p, hugePage)
		}
		if len(m)%hugePage != 0 {
			t.Errorf("%d hashes mapped in %d bytes, not whole huge pages", n, len(m))
		}
		a[0], a[n-1] = 1, 2 // the ends are there
		m.release()
	}
}

// TestHoldsPointers: what mapArray accepts, and that it would refuse the
// index's element types if someone added a pointer to them.
func TestHoldsPointers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		typ  reflect.Type
		want bool
	}{
		{reflect.TypeFor[member](), false},
		{reflect.TypeFor[bucketSlot](), false},
		{reflect.TypeFor[uint64](), false},
		{reflect.TypeFor[[0]*int](), false},
		{reflect.TypeFor[struct {
			member
			p *int
		}](), true},
		{reflect.TypeFor[struct{ s [2]string }](), true},
		{reflect.TypeFor[struct{ b []byte }](), true},
		{reflect.TypeFor[struct{ f func() }](), true},
		{reflect.TypeFor[any](), true},
		{reflect.TypeFor[unsafe.Pointer](), true},
	} {
		if got := holdsPointers(tc.typ); got != tc.want {
			t.Errorf("holdsPointers(%s) = %v, want %v", tc.typ, got, tc.want)
		}
	}
}

// TestMapArray_RefusesPointers: mapArray panics on an element type the
// collector would have to scan.
func TestMapArray_RefusesPointers(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Error("mapArray of a type holding a pointer did not panic")
		}
	}()
	mapArray[struct {
		bucketSlot
		p *int
	}](1)
}
