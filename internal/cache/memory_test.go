package cache

import (
	"fmt"
	"testing"
	"time"
)

func TestMemTier_BytesBound(t *testing.T) {
	t.Parallel()
	m := newMemTier(1000, 10*(entryOverhead+10), time.Hour)
	t.Cleanup(m.Purge)
	for i := range 50 {
		m.Add(fmt.Sprintf("k%04d", i), []byte("12345")) // 10 bytes of key and value
		if b := m.Bytes(); b > m.maxBytes {
			t.Fatalf("after %d adds the tier holds %d bytes, bound %d", i+1, b, m.maxBytes)
		}
	}
	if n := m.lru.Len(); n != 10 {
		t.Errorf("%d entries kept, want 10", n)
	}
	if _, ok := m.Get("k0049"); !ok {
		t.Error("the newest entry was evicted")
	}
	if _, ok := m.Get("k0000"); ok {
		t.Error("the oldest entry was kept")
	}
	m.Add("k0049", []byte("1")) // replacing shrinks the account
	if want := int64(9*(entryOverhead+10) + entryOverhead + 6); m.Bytes() != want {
		t.Errorf("after a replace: %d bytes, want %d", m.Bytes(), want)
	}
	m.Add("huge", make([]byte, m.maxBytes))
	if _, ok := m.Get("huge"); ok || m.lru.Len() != 10 {
		t.Errorf("a value larger than the tier was kept (%d entries)", m.lru.Len())
	}
	m.Purge()
	if m.Bytes() != 0 {
		t.Errorf("after Purge: %d bytes", m.Bytes())
	}
}
