package cache

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
)

// entryOverhead estimates the heap an in-process entry costs beyond its key
// and value bytes: the LRU's list element, map slot, expiry bucket slot and
// the slice and string headers.
const entryOverhead = 160

// memTier is the in-process tier: an LRU with TTL bounded both in entries
// and in bytes (keys, values and a per-entry overhead), so that its share of
// the worker's heap is known whatever the values' size.
type memTier struct {
	lru      *expirable.LRU[string, []byte]
	maxBytes int64
	bytes    atomic.Int64 // updated under lru's lock by its eviction callback, and by add
	mu       sync.Mutex   // serialises add's replace-and-trim
}

func newMemTier(entries int, maxBytes int64, ttl time.Duration) *memTier {
	m := &memTier{maxBytes: maxBytes}
	m.lru = expirable.NewLRU(entries, func(k string, v []byte) { m.bytes.Add(-size(k, v)) }, ttl)
	return m
}

func size(k string, v []byte) int64 { return int64(len(k) + len(v) + entryOverhead) }

// Get returns the value of key, if present and not expired.
func (m *memTier) Get(key string) ([]byte, bool) { return m.lru.Get(key) }

// Add stores key, evicting the least recently used entries while the tier
// holds more than its bytes. A value larger than the whole tier is not kept.
func (m *memTier) Add(key string, v []byte) {
	n := size(key, v)
	if n > m.maxBytes {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lru.Remove(key) // a replaced value leaves through the callback, which subtracts its size
	m.bytes.Add(n)
	m.lru.Add(key, v)
	for m.bytes.Load() > m.maxBytes {
		if _, _, ok := m.lru.RemoveOldest(); !ok {
			break
		}
	}
}

// Purge empties the tier.
func (m *memTier) Purge() { m.lru.Purge() }

// Bytes returns the bytes the tier accounts for.
func (m *memTier) Bytes() int64 { return m.bytes.Load() }
