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

// TestGenerator_BodyRepeatsNoSentence: a body of the default size draws each
// sentence once, and bodies far longer than the lists still fill.
func TestGenerator_BodyRepeatsNoSentence(t *testing.T) {
	t.Parallel()
	for _, c := range categories {
		if len(c.sentences) == 0 || len(c.sentences) > 64 || len(generic) > 64 {
			t.Fatalf("category %s: %d sentences, %d generic; sentence needs 1 to 64", c.name, len(c.sentences), len(generic))
		}
	}
	g, err := New(Config{Seed: 6})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2000 {
		m := g.Next()
		seen := map[string]bool{}
		for _, s := range strings.SplitAfter(m.Body, ". ") {
			s = strings.TrimSpace(s)
			if seen[s] {
				t.Fatalf("message %d repeats %q:\n%s", i, s, m.Body)
			}
			seen[s] = true
		}
	}
	long, err := New(Config{Seed: 7, BodyBytes: 60 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if m := long.Next(); len(m.Body) < 60<<10 {
		t.Fatalf("a 60 KiB body has %d bytes", len(m.Body))
	}
}
