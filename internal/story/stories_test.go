package story

import (
	"encoding/binary"
	"testing"

	"newsflow/internal/news"
)

// TestStoryTable: ids are found after the table grows, a second put sets
// the story anew, and the zero id and ids equal in their first bytes (made
// by hand, unlike content hashes) are held like any other.
func TestStoryTable(t *testing.T) {
	var tb storyTable
	defer tb.release()
	id := func(i int) news.Hash {
		var h news.Hash
		binary.LittleEndian.PutUint64(h[24:], uint64(i)) // the first 24 bytes zero
		return h
	}
	story := func(i int) news.Hash { h := id(i); h[0] = 0xff; return h }
	const n = 3 * minStorySlots // grows twice
	for i := range n {
		tb.put(id(i), story(i))
	}
	tb.put(id(7), story(8))
	if tb.len() != n {
		t.Fatalf("len = %d, want %d (the zero id included)", tb.len(), n)
	}
	for i := range n {
		want := story(i)
		if i == 7 {
			want = story(8)
		}
		if got, ok := tb.get(id(i)); !ok || got != want {
			t.Fatalf("get(id %d) = %x…, %v; want %x…", i, got[:1], ok, want[:1])
		}
	}
	if _, ok := tb.get(id(n)); ok {
		t.Fatal("an id never put was found")
	}
	var empty storyTable
	if _, ok := empty.get(news.Hash{}); ok || empty.len() != 0 {
		t.Fatal("an empty table holds the zero id")
	}
}
