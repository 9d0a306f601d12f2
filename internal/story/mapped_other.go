//go:build !linux

package story

// mapsMemory says whether the index's large arrays are mapped outside the
// Go heap (else they are on it).
const mapsMemory = false

// mapBytes is nil: elsewhere than on Linux the index's arrays are on the Go
// heap.
func mapBytes(int) []byte { return nil }

func unmapBytes([]byte) {}
