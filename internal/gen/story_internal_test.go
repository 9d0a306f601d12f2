package gen

import (
	"math/rand/v2"
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
	for _, set := range []*templateSet{&stock, &varied} {
		for _, c := range set.categories {
			if len(c.sentences) > 64 || len(set.generic) == 0 || len(set.generic) > 64 {
				t.Fatalf("category %s: %d sentences, %d generic; sentence needs at most 64 and 1 to 64", c.name, len(c.sentences), len(set.generic))
			}
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

// TestVaried_PhrasesResolve: every {@name} of the varied set names a list
// in every category's lexicon or in phrases (fill would panic on one that
// does not).
func TestVaried_PhrasesResolve(t *testing.T) {
	t.Parallel()
	for _, c := range varied.categories {
		seen := map[string]bool{}
		var walk func(where string, ts []template)
		walk = func(where string, ts []template) {
			for _, tpl := range ts {
				for _, seg := range tpl {
					if seg.phrase == "" || seen[seg.phrase] {
						continue
					}
					seen[seg.phrase] = true
					list := c.lex[seg.phrase]
					if list == nil {
						list = phrases[seg.phrase]
					}
					if len(list) == 0 {
						t.Fatalf("category %s: {@%s} in %s names no list", c.name, seg.phrase, where)
					}
					walk("{@"+seg.phrase+"}", list)
				}
			}
		}
		walk("titles", c.titles)
		walk("frames", varied.generic)
		for _, ts := range phrases {
			walk("phrases", ts)
		}
	}
}

// TestGenerator_UnrelatedStoriesShareFewRuns: two unrelated stories of the
// varied set share few 3-word runs, as unrelated real news does (internal/story
// shingles texts into them): random pairs' mean resemblance of their sets of
// 3-word runs is below 0.01 (random pairs of BBC news articles: ~0.0005 by
// the sketch's estimate, see the README; the stock set: above 0.1).
func TestGenerator_UnrelatedStoriesShareFewRuns(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		set      *templateSet
		min, max float64
	}{{&varied, 0, 0.01}, {&stock, 0.1, 1}} {
		g, err := New(Config{Seed: 8})
		if err != nil {
			t.Fatal(err)
		}
		g.set = tc.set
		runs := make([]map[string]bool, 1000)
		for i := range runs {
			m := g.Next()
			w := strings.FieldsFunc(strings.ToLower(m.Title+" "+m.Body), func(r rune) bool {
				return !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '\'' || r >= 0x80)
			})
			runs[i] = map[string]bool{}
			for j := 0; j+3 <= len(w); j++ {
				runs[i][strings.Join(w[j:j+3], " ")] = true
			}
		}
		r := rand.New(rand.NewPCG(1, 2))
		sum, n := 0.0, 0
		for range 20000 {
			i, j := r.IntN(len(runs)), r.IntN(len(runs))
			a, b := runs[i], runs[j]
			if i == j || len(a) == 0 {
				continue
			}
			both := 0
			for k := range a {
				if b[k] {
					both++
				}
			}
			sum += float64(both) / float64(len(a)+len(b)-both)
			n++
		}
		if mean := sum / float64(n); mean < tc.min || mean > tc.max {
			t.Errorf("stock %v: mean resemblance %.4f of random pairs, want within [%g, %g]", tc.set == &stock, mean, tc.min, tc.max)
		} else if testing.Verbose() {
			t.Logf("stock %v: mean resemblance %.4f of random pairs", tc.set == &stock, mean)
		}
	}
}
