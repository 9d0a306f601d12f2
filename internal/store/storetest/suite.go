package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"newsflow/internal/news"
	"newsflow/internal/store"
)

// Store is the method set both stores implement and Run exercises.
type Store interface {
	Migrate(ctx context.Context) error
	Commit(ctx context.Context, rows []news.Article) (int, error)
	Top(ctx context.Context, q store.TopQuery) ([]store.TopStory, error)
	Count(ctx context.Context) (int64, error)
	Stats(ctx context.Context) (store.Stats, error)
	Ping(ctx context.Context) error
	Close()
}

// Harness tells Run how to make databases and stores for one implementation.
type Harness struct {
	// NewDB returns the address of a fresh, empty database (a DSN, a file
	// path) and removes it in t.Cleanup.
	NewDB func(t *testing.T) string
	// Open opens a store on addr without migrating it. Run closes it.
	Open func(t *testing.T, addr string) Store
}

// Run runs the conformance suite: each subtest is parallel and gets its own
// database.
func Run(t *testing.T, h Harness) {
	open := func(t *testing.T, addr string) Store {
		t.Helper()
		s := h.Open(t, addr)
		t.Cleanup(s.Close)
		return s
	}
	// setup returns a migrated store on a fresh database.
	setup := func(t *testing.T) Store {
		t.Helper()
		s := open(t, h.NewDB(t))
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		return s
	}

	t.Run("Migrate/Twice", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		s := setup(t)
		mustCommit(t, s, articles("m", 3), 3)
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		wantCount(t, s, 3)
	})

	t.Run("Migrate/Concurrent", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		addr := h.NewDB(t)
		stores := make([]Store, 4)
		for i := range stores {
			stores[i] = open(t, addr)
		}
		errs := make([]error, len(stores))
		var wg sync.WaitGroup
		for i, s := range stores {
			wg.Go(func() { errs[i] = s.Migrate(ctx) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("concurrent Migrate: %v", err)
		}
		mustCommit(t, stores[0], articles("c", 2), 2)
		wantCount(t, stores[3], 2)
	})

	t.Run("Ping", func(t *testing.T) {
		t.Parallel()
		if err := setup(t).Ping(t.Context()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	})

	t.Run("Commit/Inserts", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		mustCommit(t, s, articles("a", 10), 10)
		wantCount(t, s, 10)
	})

	t.Run("Commit/Empty", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		mustCommit(t, s, nil, 0)
		wantCount(t, s, 0)
	})

	t.Run("Commit/RecommitChangesNothing", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		s := setup(t)
		rows := articles("r", 5)
		mustCommit(t, s, rows, 5)
		before := top(t, s, store.TopQuery{})
		again := articles("r", 5)
		for i := range again {
			again[i].Title = "changed"
			again[i].Importance = 99
		}
		mustCommit(t, s, again, 0)
		mustCommit(t, s, append(again, articles("new", 1)...), 1)
		wantCount(t, s, 6)
		after, err := s.Top(ctx, store.TopQuery{})
		if err != nil {
			t.Fatal(err)
		}
		after = slices.DeleteFunc(after, func(st store.TopStory) bool { return strings.HasPrefix(st.URL, "https://example.com/new") })
		if diff := cmp.Diff(before, after); diff != "" {
			t.Errorf("re-commit changed stored rows (-before +after):\n%s", diff)
		}
	})

	t.Run("Commit/DuplicateIDInBatch", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		rows := articles("d", 3)
		dup := rows[0]
		dup.Title = "second copy"
		dup.ContentHash = hash(200)
		mustCommit(t, s, append(rows, dup), 3)
		wantCount(t, s, 3)
		for _, st := range top(t, s, store.TopQuery{}) {
			if st.Title == "second copy" {
				t.Errorf("the second row with id %q was stored; want the first kept", dup.ID)
			}
		}
	})

	t.Run("Commit/PoisonIsDataError", func(t *testing.T) {
		for name, poison := range map[string]func(*news.Article){
			"ImportanceAboveRange": func(a *news.Article) { a.Importance = 101 },
			"ImportanceNegative":   func(a *news.Article) { a.Importance = -1 },
			"ImportanceHuge":       func(a *news.Article) { a.Importance = 1 << 40 },
			"TitleInvalidUTF8":     func(a *news.Article) { a.Title = "bad \xff\xfe title" },
			"BodyNUL":              func(a *news.Article) { a.Body = "nul \x00 byte" },
			"SummaryInvalidUTF8":   func(a *news.Article) { a.Summary = "\xc3\x28" },
		} {
			// AfterStoredID: the batch also holds an id already stored, so
			// a store that tries an insert without ON CONFLICT first meets
			// the poison either way round.
			for _, stored := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/AfterStoredID=%v", name, stored), func(t *testing.T) {
					t.Parallel()
					s := setup(t)
					rows := articles("p", 5)
					want := int64(0)
					if stored {
						mustCommit(t, s, rows[:1], 1)
						want = 1
					}
					poison(&rows[3])
					n, err := s.Commit(t.Context(), rows)
					var de *store.DataError
					if !errors.As(err, &de) {
						t.Fatalf("Commit(poison) = %d, %v; want a *store.DataError", n, err)
					}
					if de.SQLState == "" {
						t.Errorf("DataError %v: no SQLState", de)
					}
					if n != 0 {
						t.Errorf("Commit(poison) inserted %d; want 0", n)
					}
					wantCount(t, s, want) // atomic: the good rows of the batch are not stored either
					mustCommit(t, s, articles("p", 5), 5-int(want))
				})
			}
		}
	})

	t.Run("Commit/ContextCancelledIsRetryable", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := s.Commit(ctx, articles("x", 3))
		var de *store.DataError
		if err == nil || errors.As(err, &de) || !errors.Is(err, context.Canceled) {
			t.Fatalf("Commit(cancelled ctx) error = %v; want no DataError, wrapping context.Canceled", err)
		}
		wantCount(t, s, 0)
	})

	t.Run("Top", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		now := time.Now().UTC().Truncate(time.Second)
		mustCommit(t, s, seed(now), len(seed(now)))
		for _, tc := range []struct {
			name string
			q    store.TopQuery
			want []store.TopStory
		}{
			{"Day", store.TopQuery{Since: 24 * time.Hour}, []store.TopStory{
				storyB(now), storyA(now), storyEDay(now), storyF(now), storyG(now), storyD(now)}},
			{"AllTime", store.TopQuery{}, []store.TopStory{
				storyC(now), storyB(now), storyA(now), storyEAll(now), storyF(now), storyG(now), storyD(now)}},
			{"Limit", store.TopQuery{Since: 24 * time.Hour, Limit: 2}, []store.TopStory{storyB(now), storyA(now)}},
			{"Category", store.TopQuery{Since: 24 * time.Hour, Category: "world"}, []store.TopStory{
				storyA(now), storyEDay(now)}},
			{"NoMatch", store.TopQuery{Category: "sports"}, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got := top(t, s, tc.q)
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("Top(%+v) mismatch (-want +got):\n%s", tc.q, diff)
				}
			})
		}
	})

	t.Run("Stats", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		s := setup(t)
		st, err := s.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(store.Stats{}, st); diff != "" {
			t.Errorf("Stats of an empty store (-want +got):\n%s", diff)
		}
		now := time.Now().UTC().Truncate(time.Second)
		rows := seed(now)
		mustCommit(t, s, rows, len(rows))
		if st, err = s.Stats(ctx); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(store.Stats{Rows: int64(len(rows)), Stories: 7}, st); diff != "" {
			t.Errorf("Stats (-want +got):\n%s", diff)
		}
	})
}

func mustCommit(t *testing.T, s Store, rows []news.Article, want int) {
	t.Helper()
	n, err := s.Commit(t.Context(), rows)
	if err != nil {
		t.Fatalf("Commit(%d rows): %v", len(rows), err)
	}
	if n != want {
		t.Fatalf("Commit(%d rows) inserted %d; want %d", len(rows), n, want)
	}
}

func wantCount(t *testing.T, s Store, want int64) {
	t.Helper()
	n, err := s.Count(t.Context())
	if err != nil {
		t.Fatalf("Count: %v", err)
	}
	if n != want {
		t.Fatalf("Count = %d; want %d", n, want)
	}
}

func top(t *testing.T, s Store, q store.TopQuery) []store.TopStory {
	t.Helper()
	got, err := s.Top(t.Context(), q)
	if err != nil {
		t.Fatalf("Top(%+v): %v", q, err)
	}
	return got
}

// hash returns a content hash whose first byte is b, so tests know the
// order hashes sort in.
func hash(b byte) news.Hash {
	var h news.Hash
	h[0] = b
	h[31] = 0xaa
	return h
}

// Articles returns n distinct valid articles with ids prefix-0 … prefix-(n-1),
// each its own story, with ~1 KiB bodies. Integration tests may use it.
func Articles(prefix string, n int) []news.Article {
	return articles(prefix, n)
}

func articles(prefix string, n int) []news.Article {
	body := strings.Repeat("lorem ipsum dolor sit amet ", 38) // ~1 KiB
	rows := make([]news.Article, n)
	for i := range rows {
		id := fmt.Sprintf("%s-%d", prefix, i)
		rows[i] = news.Article{
			Message: news.Message{
				ID: id, Source: "test:" + prefix, Title: "Title " + id, Body: body,
				URL: "https://example.com/" + id, Lang: "en",
				PublishedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC).Add(time.Duration(i) * time.Second),
			},
			StreamSeq: uint64(i + 1),
			Enrichment: news.Enrichment{
				Summary: "Summary of " + id, Category: "world", Importance: i % 101,
				Language: "en", Model: "offline/v1",
			},
		}
		rows[i].ContentHash = rows[i].Message.ContentHash()
	}
	return rows
}

// row builds one seeded article.
func row(id, source string, h news.Hash, title, category string, importance int, published time.Time) news.Article {
	return news.Article{
		Message: news.Message{ID: id, Source: source, Title: title, Body: "body of " + title,
			URL: "https://example.com/" + id, PublishedAt: published},
		StreamSeq:   1,
		ContentHash: h,
		Enrichment:  news.Enrichment{Summary: "summary " + title, Category: category, Importance: importance, Model: "offline/v1"},
	}
}

// seed is the Top dataset: seven stories, some reposted (one also by a
// near-duplicate text), some outside a 24-hour window, one without
// published_at, two tied on importance and time. Rows without a StoryID are
// their own story.
func seed(now time.Time) []news.Article {
	d := row("d1", "tg:delta", hash(4), "D", "science", 10, time.Time{})
	d.IngestedAt = now.Add(-10 * time.Minute)
	// A near-duplicate of A: another text, A's story id.
	variant := row("a4", "x:variant", hash(8), "A, reworded", "world", 55, now.Add(-90*time.Minute))
	variant.StoryID = hash(1)
	return []news.Article{
		row("a2", "rss:beta", hash(1), "A repost", "world", 70, now.Add(-1*time.Hour)),
		row("a1", "tg:alpha", hash(1), "A", "world", 50, now.Add(-3*time.Hour)),
		row("a3", "tg:alpha", hash(1), "A again", "world", 60, now.Add(-2*time.Hour)),
		row("b1", "x:bravo", hash(2), "B", "business", 70, now.Add(-30*time.Minute)),
		row("c1", "x:charlie", hash(3), "C", "technology", 90, now.Add(-48*time.Hour)),
		d,
		row("e1", "rss:echo", hash(5), "E", "world", 40, now.Add(-20*time.Hour)),
		row("e0", "tg:echo", hash(5), "E old", "world", 30, now.Add(-26*time.Hour)),
		row("g1", "x:golf", hash(7), "G", "health", 20, now.Add(-4*time.Hour)),
		row("f1", "x:fox", hash(6), "F", "health", 20, now.Add(-4*time.Hour)),
		variant,
	}
}

func storyA(now time.Time) store.TopStory {
	return store.TopStory{StoryID: hash(1), ContentHash: hash(1), Title: "A", Summary: "summary A", Category: "world",
		URL: "https://example.com/a1", Importance: 70, PublishedAt: now.Add(-3 * time.Hour),
		Sources: []string{"rss:beta", "tg:alpha", "x:variant"}, Reposts: 4, Variants: 2,
		IDs: []string{"a1", "a3", "a4", "a2"}}
}

func storyB(now time.Time) store.TopStory {
	return store.TopStory{StoryID: hash(2), ContentHash: hash(2), Title: "B", Summary: "summary B", Category: "business",
		URL: "https://example.com/b1", Importance: 70, PublishedAt: now.Add(-30 * time.Minute),
		Sources: []string{"x:bravo"}, Reposts: 1, Variants: 1,
		IDs: []string{"b1"}}
}

func storyC(now time.Time) store.TopStory {
	return store.TopStory{StoryID: hash(3), ContentHash: hash(3), Title: "C", Summary: "summary C", Category: "technology",
		URL: "https://example.com/c1", Importance: 90, PublishedAt: now.Add(-48 * time.Hour),
		Sources: []string{"x:charlie"}, Reposts: 1, Variants: 1,
		IDs: []string{"c1"}}
}

func storyD(now time.Time) store.TopStory {
	return store.TopStory{StoryID: hash(4), ContentHash: hash(4), Title: "D", Summary: "summary D", Category: "science",
		URL: "https://example.com/d1", Importance: 10, PublishedAt: now.Add(-10 * time.Minute),
		Sources: []string{"tg:delta"}, Reposts: 1, Variants: 1,
		IDs: []string{"d1"}}
}

// storyEDay is story E seen through a 24-hour window: only its newer row.
func storyEDay(now time.Time) store.TopStory {
	return store.TopStory{StoryID: hash(5), ContentHash: hash(5), Title: "E", Summary: "summary E", Category: "world",
		URL: "https://example.com/e1", Importance: 40, PublishedAt: now.Add(-20 * time.Hour),
		Sources: []string{"rss:echo"}, Reposts: 1, Variants: 1,
		IDs: []string{"e1"}}
}

// storyEAll is story E with both rows: the older one gives title and time.
func storyEAll(now time.Time) store.TopStory {
	return store.TopStory{StoryID: hash(5), ContentHash: hash(5), Title: "E old", Summary: "summary E old", Category: "world",
		URL: "https://example.com/e0", Importance: 40, PublishedAt: now.Add(-26 * time.Hour),
		Sources: []string{"rss:echo", "tg:echo"}, Reposts: 2, Variants: 1,
		IDs: []string{"e0", "e1"}}
}

func storyF(now time.Time) store.TopStory {
	return store.TopStory{StoryID: hash(6), ContentHash: hash(6), Title: "F", Summary: "summary F", Category: "health",
		URL: "https://example.com/f1", Importance: 20, PublishedAt: now.Add(-4 * time.Hour),
		Sources: []string{"x:fox"}, Reposts: 1, Variants: 1,
		IDs: []string{"f1"}}
}

func storyG(now time.Time) store.TopStory {
	return store.TopStory{StoryID: hash(7), ContentHash: hash(7), Title: "G", Summary: "summary G", Category: "health",
		URL: "https://example.com/g1", Importance: 20, PublishedAt: now.Add(-4 * time.Hour),
		Sources: []string{"x:golf"}, Reposts: 1, Variants: 1,
		IDs: []string{"g1"}}
}
