package story

import "golang.org/x/sys/unix"

// mapsMemory says whether the index's large arrays are mapped outside the
// Go heap (else they are on it).
const mapsMemory = true

// mapBytes maps size bytes of zeroed private memory, asking for transparent
// huge pages; nil if the system refuses.
func mapBytes(size int) []byte {
	b, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil
	}
	// Advice only: without huge pages (disabled, or none free) the memory
	// is still there, in small pages.
	_ = unix.Madvise(b, unix.MADV_HUGEPAGE)
	return b
}

func unmapBytes(b []byte) {
	// Munmap fails only for a range that was never mapped.
	if err := unix.Munmap(b); err != nil {
		panic("story: unmapping index memory: " + err.Error())
	}
}
