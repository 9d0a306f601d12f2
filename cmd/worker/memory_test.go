package main

import (
	"testing"

	"newsflow/internal/story"
	"newsflow/internal/worker"
)

// TestMemoryLimit: the soft limit grows by what `worker run` holds in
// process, so that it stays above the live heap.
func TestMemoryLimit(t *testing.T) {
	t.Parallel()
	index := 2 * story.HeapBytes(0)
	for _, tc := range []struct {
		name string
		s    worker.Settings
		want int64
	}{
		{"remote NATS and Redis", worker.Settings{NATSURL: "nats://n", RedisURL: "redis://r"}, defaultMemoryLimit},
		{"remote NATS, in-process index", worker.Settings{NATSURL: "nats://n"}, defaultMemoryLimit + index},
		{"remote NATS, near-dup off", worker.Settings{NATSURL: "nats://n", NearDup: story.Config{Off: true}}, defaultMemoryLimit},
		{"embedded", worker.Settings{}, defaultMemoryLimit + embeddedNATSBytes + index},
		{"embedded, smaller index", worker.Settings{NearDup: story.Config{MaxMemory: 1000}},
			defaultMemoryLimit + embeddedNATSBytes + 2*story.HeapBytes(1000)},
		{"embedded with Redis", worker.Settings{RedisURL: "redis://r"}, defaultMemoryLimit + embeddedNATSBytes},
	} {
		if got := memoryLimit(tc.s); got != tc.want {
			t.Errorf("%s: memoryLimit = %d, want %d", tc.name, got, tc.want)
		}
	}
}
