package story

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// mapsMemory says whether the index's large arrays are mapped outside the
// Go heap (else they are on it).
const mapsMemory = true

// mapBytes maps size bytes of zeroed private memory at an address that is a
// multiple of hugePage, asking for transparent huge pages; nil if the
// system refuses. A huge page backs only an aligned 2 MiB, and Linux aligns
// a large anonymous mapping itself only from 6.7 on: this maps a huge page
// more than asked and unmaps the unaligned ends.
func mapBytes(size int) []byte {
	p, err := unix.MmapPtr(-1, 0, nil, uintptr(size+hugePage), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil
	}
	head := roundUp(int(uintptr(p)), hugePage) - int(uintptr(p))
	if head > 0 {
		unmap(p, head)
	}
	if tail := hugePage - head; tail > 0 {
		unmap(unsafe.Add(p, head+size), tail)
	}
	b := unsafe.Slice((*byte)(unsafe.Add(p, head)), size)
	// Advice only: without huge pages (disabled, or none free) the memory
	// is still there, in small pages.
	_ = unix.Madvise(b, unix.MADV_HUGEPAGE)
	return b
}

func unmapBytes(b []byte) { unmap(unsafe.Pointer(unsafe.SliceData(b)), len(b)) }

func unmap(p unsafe.Pointer, size int) {
	// munmap fails only for an address that is not page-aligned.
	if err := unix.MunmapPtr(p, uintptr(size)); err != nil {
		panic("story: unmapping index memory: " + err.Error())
	}
}
