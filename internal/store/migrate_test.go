package store_test

import (
	"context"
	"testing"
	"time"

	"newsflow/internal/news"
	"newsflow/internal/store"
	"newsflow/internal/store/storetest"
)

// versioned is a store that can stop migrating at a version and run SQL.
type versioned interface {
	storetest.Store
	MigrateTo(ctx context.Context, upTo int) error
}

// TestMigrate_StoryIDOnPopulatedTable applies 0002_story_id to a table that
// already has rows: each old row becomes its own story, and new rows carry
// the story id they are given.
func TestMigrate_StoryIDOnPopulatedTable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		open   func(t *testing.T) versioned
		insert func(t *testing.T, s versioned, id string, h news.Hash, at time.Time)
	}{
		{"postgres", func(t *testing.T) versioned { return openPostgres(t, storetest.PostgresDSN(t)) },
			func(t *testing.T, s versioned, id string, h news.Hash, at time.Time) {
				if _, err := s.(*store.Postgres).Pool().Exec(t.Context(),
					"INSERT INTO articles (id, source, title, content_hash, published_at, importance) VALUES ($1, 's', $1, $2, $3, 50)", id, h[:], at); err != nil {
					t.Fatal(err)
				}
			}},
		{"sqlite", func(t *testing.T) versioned { return openSQLite(t, storetest.SQLitePath(t)) },
			func(t *testing.T, s versioned, id string, h news.Hash, at time.Time) {
				if err := s.(*store.SQLite).Exec(t.Context(),
					"INSERT INTO articles (id, source, title, content_hash, published_at, ingested_at, importance) VALUES (?, 's', ?, ?, ?, ?, 50)",
					id, id, h[:], at.UnixNano(), at.UnixNano()); err != nil {
					t.Fatal(err)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s := tc.open(t)
			defer s.Close()
			if err := s.MigrateTo(ctx, 1); err != nil {
				t.Fatalf("MigrateTo(1): %v", err)
			}
			now := time.Now().UTC().Truncate(time.Second)
			old := []news.Hash{{1}, {2}, {2}}
			for i, h := range old {
				tc.insert(t, s, []string{"old-a", "old-b", "old-c"}[i], h, now.Add(-time.Duration(3-i)*time.Minute))
			}
			if err := s.Migrate(ctx); err != nil {
				t.Fatalf("Migrate on a populated table: %v", err)
			}
			st, err := s.Stats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.Rows != 3 || st.Stories != 2 {
				t.Fatalf("Stats after migration = %+v, want 3 rows of 2 stories", st)
			}
			// A new variant of old-a's story, by another text.
			v := news.Article{Message: news.Message{ID: "new-a", Source: "t", Title: "variant", PublishedAt: now},
				ContentHash: news.Hash{3}, StoryID: news.Hash{1}}
			if _, err := s.Commit(ctx, []news.Article{v}); err != nil {
				t.Fatalf("Commit after migration: %v", err)
			}
			got, err := s.Top(ctx, store.TopQuery{})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 {
				t.Fatalf("Top = %d stories, want 2: %+v", len(got), got)
			}
			for _, g := range got {
				switch g.StoryID {
				case news.Hash{1}:
					if g.Variants != 2 || g.Reposts != 2 || g.ContentHash != (news.Hash{1}) {
						t.Errorf("story 1 = %+v, want 2 rows of 2 texts", g)
					}
				case news.Hash{2}:
					if g.Variants != 1 || g.Reposts != 2 || len(g.IDs) != 2 || g.IDs[0] != "old-b" {
						t.Errorf("story 2 = %+v, want rows old-b, old-c of one text", g)
					}
				default:
					t.Errorf("unexpected story %s", g.StoryID)
				}
			}
		})
	}
}
