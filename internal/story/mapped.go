package story

import (
	"reflect"
	"sync/atomic"
	"unsafe"
)

// The in-process index keeps its large arrays (the slots of its bucket and
// story tables, the members, their numbers' and names' hashes) outside the
// Go heap, in memory mapped from the operating system, on Linux (mapped_linux.go;
// elsewhere they are on the heap, mapped_other.go). They hold no pointers,
// so the collector need not see them, and off the heap:
//   - they do not raise the collector's goal (GOGC 400: five times what is
//     live), which would spread the worker's garbage over memory new to
//     the process, a page fault per 4 KiB;
//   - a table that doubles returns its old array at once, not at the next
//     collection;
//   - they are asked for transparent huge pages (MADV_HUGEPAGE): a fault
//     per 2 MiB, and fewer TLB misses for the band lookups' random reads.
//
// Measured in README, near-dup: go run ./bench --messages 60000 --workers 1
// --latency-rate 0.
//
// The index releases a mapping as soon as it drops the array (a table that
// grew, a generation turned out, an Identifier closed).

// hugePage is the size of a transparent huge page on amd64 Linux (and arm64
// with 4 KiB pages): an array of half of it or more is mapped in a multiple
// of it, starting at a multiple of it (mapBytes), so that huge pages can
// back all of it.
const hugePage = 2 << 20

// mappedBytes is the memory the index's mappings hold, in bytes: what the
// memory tests add to the live heap, and TestMain checks returns to 0.
var mappedBytes atomic.Int64

// mapping is memory mapped for an array; nil when the array is on the Go
// heap (mapping unsupported or refused).
type mapping []byte

// mapArray returns an array of n zero Ts and its mapping. Where mapping
// fails the array is allocated on the heap instead (and the mapping is nil).
// T must hold no pointers: the collector does not scan a mapping, so what a
// pointer there alone kept alive would be freed under it. mapArray panics
// if T holds one, so that a pointer added to member or bucketSlot fails
// every test that builds an index.
func mapArray[T any](n int) ([]T, mapping) {
	if t := reflect.TypeFor[T](); holdsPointers(t) {
		panic("story: mapArray of " + t.String() + ", which holds pointers")
	}
	size := n * int(unsafe.Sizeof(*new(T)))
	if size < hugePage/2 {
		return make([]T, n), nil // not worth a mapping of its own
	}
	m := mapBytes(roundUp(size, hugePage))
	if m == nil {
		return make([]T, n), nil
	}
	mappedBytes.Add(int64(len(m)))
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(m))), n), m
}

// release returns m to the operating system. The array mapped there must
// not be used after.
func (m mapping) release() {
	if m != nil {
		mappedBytes.Add(-int64(len(m)))
		unmapBytes(m)
	}
}

// holdsPointers reports whether a value of type t holds a pointer the
// collector must see: a pointer, slice, string, map, channel, function or
// interface, or an array or struct with one.
func holdsPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return false
	case reflect.Array:
		return t.Len() > 0 && holdsPointers(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if holdsPointers(t.Field(i).Type) {
				return true
			}
		}
		return false
	}
	return true
}

func roundUp(n, to int) int { return (n + to - 1) / to * to }
