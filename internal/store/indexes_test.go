package store_test

import (
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"newsflow/internal/news"
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
