package gen

import (
	"strings"
	"testing"
)

// TestGenerator_StoryNamesOnePlace: a story's title and body name the same
// city, country and person wherever their templates name one, and at most
// two teams (the templates that name two say "{team} beat {team}").
func TestGenerator_StoryNamesOnePlace(t *testing.T) {
	t.Parallel()
	g, err := New(Config{Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	limits := map[string]int{"city": 1, "country": 1, "person": 1, "team": 2}
	for i := range 2000 {
		m := g.Next()
		for slot, limit := range limits {
			// Words of other slots may contain a name ("Midnight in Lisbon").
			text := m.Title + "\n" + m.Body
			for other, words := range slots {
				for _, w := range words {
					if other != slot {
						text = strings.ReplaceAll(text, w, "")
					}
				}
			}
			var named []string
			for _, w := range slots[slot] {
				if strings.Contains(text, w) {
					named = append(named, w)
				}
			}
			if len(named) > limit {
				t.Fatalf("message %d names %d of {%s} %q, want at most %d:\n%s", i, len(named), slot, named, limit, text)
			}
		}
	}
}
