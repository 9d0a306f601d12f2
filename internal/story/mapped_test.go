package story

import (
	"testing"

	"newsflow/internal/news"
)

// TestIdentifier_CloseReleasesMemory: the in-process index's mappings are
// returned when its Identifier is closed, and Assign after Close still
// works (on an empty index).
func TestIdentifier_CloseReleasesMemory(t *testing.T) {
	// Not parallel: mappedBytes counts every index of the process.
	before := mappedBytes.Load()
	id, err := New(Config{}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	rows := genArticles(t, 20_000)
	for start := 0; start < len(rows); start += 100 {
		id.Assign(t.Context(), rows[start:start+100])
	}
	if mappedBytes.Load() == before {
		t.Fatal("20,000 articles mapped no memory: the index is on the heap, where its size inflates the collector's goal")
	}
	id.Close()
	if got := mappedBytes.Load(); got != before {
		t.Fatalf("after Close %d bytes stay mapped, want %d", got, before)
	}
	again := []news.Article{rows[0]}
	again[0].StoryID = news.Hash{}
	id.Assign(t.Context(), again)
	if again[0].StoryID == (news.Hash{}) {
		t.Fatal("Assign after Close set no story id")
	}
}
