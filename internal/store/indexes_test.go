package store_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"newsflow/internal/news"
	"newsflow/internal/store"
	"newsflow/internal/store/storetest"
)

// TestMigrate_PostgresIndexes: on a table populated at version 2, the
// migrations leave only the indexes a query or a constraint uses, the
// primary key and the story-time BRIN (0003 drops the story_id btree), and
// the store still commits and skips a stored id.
func TestMigrate_PostgresIndexes(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openPostgres(t, storetest.PostgresDSN(t))
	defer s.Close()
	if err := s.MigrateTo(ctx, 2); err != nil {
		t.Fatalf("MigrateTo(2): %v", err)
	}
	a := news.Article{Message: news.Message{ID: "a", Source: "s", Title: "t", PublishedAt: time.Now()}, ContentHash: news.Hash{1}, StoryID: news.Hash{1}}
	if _, err := s.Commit(ctx, []news.Article{a}); err != nil {
		t.Fatal(err)
	}
	indexes := func() []string {
		rows, err := s.Pool().Query(ctx, "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'articles' ORDER BY 1")
		if err != nil {
			t.Fatal(err)
		}
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return names
	}
	if got := indexes(); !slices.Contains(got, "articles_story_id_idx") {
		t.Fatalf("indexes at version 2 = %v, want articles_story_id_idx among them", got)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate on a populated table: %v", err)
	}
	if got, want := indexes(), []string{"articles_pkey", "articles_story_time_idx"}; !slices.Equal(got, want) {
		t.Errorf("indexes after Migrate = %v, want %v", got, want)
	}
	b := a
	b.ID = "b"
	if n, err := s.Commit(ctx, []news.Article{a, b}); err != nil || n != 1 {
		t.Errorf("Commit(a again, b) = %d, %v; want 1 row inserted", n, err)
	}
}

// TestMigrate_SQLiteDropsUnusedIndexes applies 0003 to a populated table:
// only the indexes a query uses stay (the id's, which ON CONFLICT (id)
// needs, and the story time's, which bounds top's window), and the rows
// stay readable.
func TestMigrate_SQLiteDropsUnusedIndexes(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openSQLite(t, storetest.SQLitePath(t))
	defer s.Close()
	if err := s.MigrateTo(ctx, 2); err != nil {
		t.Fatalf("MigrateTo(2): %v", err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	for i, id := range []string{"a", "b", "c"} {
		if _, err := s.Commit(ctx, []news.Article{{Message: news.Message{ID: id, Source: "s", Title: id,
			PublishedAt: now.Add(-time.Duration(i) * time.Minute)}, ContentHash: news.Hash{byte(1 + i%2)}}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate on a populated table: %v", err)
	}
	got, err := s.Indexes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"articles_story_time_idx", "sqlite_autoindex_articles_1"}; !slices.Equal(got, want) {
		t.Fatalf("indexes on articles = %q, want %q", got, want)
	}
	top, err := s.Top(ctx, store.TopQuery{Since: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if len(top) != 2 || top[0].Reposts+top[1].Reposts != 3 {
		t.Fatalf("Top after migration = %+v, want 2 stories of 3 rows", top)
	}
}

// TestSQLite_TopSearchesStoryTimeIndex: top with a window reads only the
// window's rows, through the story-time index, instead of scanning the table.
func TestSQLite_TopSearchesStoryTimeIndex(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openSQLite(t, storetest.SQLitePath(t))
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, q := range []store.TopQuery{{Since: time.Hour}, {Since: 24 * time.Hour, Category: "world", Limit: 5}} {
		plan, err := s.TopPlan(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(plan, func(step string) bool {
			return strings.Contains(step, "SEARCH articles USING INDEX articles_story_time_idx")
		}) {
			t.Errorf("plan of Top(%+v) does not search articles_story_time_idx:\n%s", q, strings.Join(plan, "\n"))
		}
	}
}
