package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"newsflow/internal/news"
	"newsflow/internal/store"
	"newsflow/internal/store/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testPool keeps test pools small: the test server is shared.
var testPool = store.PoolConfig{MaxConns: 3}

func openPostgres(t *testing.T, dsn string) *store.Postgres {
	t.Helper()
	s, err := store.OpenPostgres(t.Context(), dsn, testPool, zaptest.NewLogger(t), nil)
	if err != nil {
		t.Fatalf("OpenPostgres: %v", err)
	}
	return s
}

// migratedPostgres opens a store on a fresh migrated schema, closed at the
// test's end; reg receives its metrics.
func migratedPostgres(t *testing.T, reg prometheus.Registerer) *store.Postgres {
	t.Helper()
	s, err := store.OpenPostgres(t.Context(), storetest.PostgresDSN(t), testPool, zaptest.NewLogger(t), reg)
	if err != nil {
		t.Fatalf("OpenPostgres: %v", err)
	}
	t.Cleanup(s.Close)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

func openSQLite(t *testing.T, path string) *store.SQLite {
	t.Helper()
	s, err := store.OpenSQLite(t.Context(), path, zaptest.NewLogger(t), nil)
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	return s
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	storetest.Run(t, storetest.Harness{
		NewDB: func(t *testing.T) string { return storetest.PostgresDSN(t) },
		Open:  func(t *testing.T, dsn string) storetest.Store { return openPostgres(t, dsn) },
	})
}

func TestSQLite(t *testing.T) {
	t.Parallel()
	storetest.Run(t, storetest.Harness{
		NewDB: func(t *testing.T) string { return storetest.SQLitePath(t) },
		Open:  func(t *testing.T, path string) storetest.Store { return openSQLite(t, path) },
	})
}

// TestPostgres_TerminateBackend kills the server process of a commit that is
// waiting on a row lock: Commit must return a retryable error, and the next
// Commit must succeed on a fresh connection.
func TestPostgres_TerminateBackend(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dsn := storetest.PostgresDSN(t)
	s := openPostgres(t, dsn)
	t.Cleanup(s.Close)
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	rows := storetest.Articles("k", 10)

	// A second session inserts one id of the batch and keeps its
	// transaction open, so the store's INSERT blocks on that row.
	blocker, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { blocker.Close(context.WithoutCancel(ctx)) })
	tx, err := blocker.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO articles (id, source, content_hash) VALUES ($1, 'x', '\\x00')", rows[5].ID); err != nil {
		t.Fatal(err)
	}
	var blockerPID uint32
	if err := tx.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&blockerPID); err != nil {
		t.Fatal(err)
	}

	done := make(chan error, 1)
	go func() {
		_, err := s.Commit(ctx, rows)
		done <- err
	}()

	// Wait until the commit is blocked behind the open transaction, then
	// terminate it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var terminated int
		err := tx.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE $1 = ANY(pg_blocking_pids(pid))`, blockerPID).Scan(&terminated)
		if err != nil {
			t.Fatal(err)
		}
		if terminated > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the commit never blocked on the open transaction")
		}
		select {
		case err := <-done:
			t.Fatalf("Commit returned before it was terminated: %v", err)
		case <-time.After(10 * time.Millisecond): // poll interval, not synchronisation
		}
	}
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Commit did not return after its backend was terminated")
	}
	var de *store.DataError
	if err == nil || errors.As(err, &de) {
		t.Fatalf("Commit on a terminated backend = %v; want a retryable error", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}

	n, err := s.Commit(ctx, rows)
	if err != nil || n != len(rows) {
		t.Fatalf("Commit after reconnect = %d, %v; want %d, nil", n, err, len(rows))
	}
}

func TestPostgres_Metrics(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	reg := prometheus.NewRegistry()
	s := migratedPostgres(t, reg)
	rows := storetest.Articles("m", 4)
	if _, err := s.Commit(ctx, rows); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Commit(ctx, rows[:3]); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{
		"newsflow_db_rows_inserted_total":  4,
		"newsflow_db_rows_duplicate_total": 3,
		"newsflow_db_pool_max_conns":       3,
	} {
		if got := gathered(t, reg, name); got != want {
			t.Errorf("%s = %v; want %v", name, got, want)
		}
	}
	for _, name := range []string{"acquired_conns", "idle_conns", "total_conns", "acquire_wait_total", "acquire_seconds_total"} {
		gathered(t, reg, "newsflow_db_pool_"+name)
	}
}

// TestPostgres_OptimisticInsert: a batch meeting stored ids is re-run with
// ON CONFLICT and counted once; the batches after it skip the optimistic
// statement until safeRun (100) of them found no stored id, and then a
// conflict falls back (and is counted) again.
func TestPostgres_OptimisticInsert(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	reg := prometheus.NewRegistry()
	s := migratedPostgres(t, reg)
	rows := storetest.Articles("o", 110)
	commit := func(rows []news.Article, want int) {
		t.Helper()
		n, err := s.Commit(ctx, rows)
		if err != nil {
			t.Fatalf("Commit: %v", err)
		}
		if n != want {
			t.Fatalf("Commit inserted %d; want %d", n, want)
		}
	}
	fallbacks := func(want float64) {
		t.Helper()
		if got := gathered(t, reg, "newsflow_db_insert_fallbacks_total"); got != want {
			t.Fatalf("newsflow_db_insert_fallbacks_total = %v; want %v", got, want)
		}
	}
	commit(rows[0:4], 4)
	fallbacks(0)
	commit(rows[2:6], 2) // 2 and 3 stored: the plain INSERT fails, ON CONFLICT skips them
	fallbacks(1)
	commit(rows[4:8], 2) // 4 and 5 stored: straight to ON CONFLICT
	fallbacks(1)
	for i := 8; i < 108; i++ { // 100 batches without a stored id
		commit(rows[i:i+1], 1)
	}
	fallbacks(1)
	commit(rows[107:110], 2) // optimistic again: 107 stored
	fallbacks(2)
	wantRows := int64(110)
	if n, err := s.Count(ctx); err != nil || n != wantRows {
		t.Fatalf("Count = %d, %v; want %d", n, err, wantRows)
	}
}

func TestSQLite_Metrics(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	reg := prometheus.NewRegistry()
	s, err := store.OpenSQLite(ctx, storetest.SQLitePath(t), zaptest.NewLogger(t), reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	rows := storetest.Articles("m", 2)
	for range 2 {
		if _, err := s.Commit(ctx, rows); err != nil {
			t.Fatal(err)
		}
	}
	if got := gathered(t, reg, "newsflow_db_rows_duplicate_total"); got != 2 {
		t.Errorf("newsflow_db_rows_duplicate_total = %v; want 2", got)
	}
}

// gathered returns the value of the single-series metric name in g.
func gathered(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name || len(mf.GetMetric()) != 1 {
			continue
		}
		m := mf.GetMetric()[0]
		switch {
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s not gathered as one series", name)
	return 0
}

func TestPoolConfig_Validate(t *testing.T) {
	t.Parallel()
	for _, c := range []store.PoolConfig{
		{MaxConns: 0},
		{MaxConns: 2, MinIdleConns: 3},
		{MaxConns: 2, MinIdleConns: -1},
		{MaxConns: 2, HealthCheckPeriod: -time.Second},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("PoolConfig%+v.Validate() = nil; want an error", c)
		}
	}
	if _, err := store.OpenPostgres(t.Context(), "postgres://u:secret@127.0.0.1:1/db", store.PoolConfig{MaxConns: 1, MinIdleConns: 2}, zaptest.NewLogger(t), nil); err == nil {
		t.Error("OpenPostgres with MinIdleConns > MaxConns succeeded")
	}
}

// TestPostgres_RoundTrip checks the store's own binary encodings of every
// column against what the server stores: the COPY stream of the optimistic
// path, and the arrays of the ON CONFLICT statement it falls back to.
func TestPostgres_RoundTrip(t *testing.T) {
	t.Parallel()
	for _, fallback := range []bool{false, true} {
		t.Run(fmt.Sprintf("Fallback=%v", fallback), func(t *testing.T) {
			t.Parallel()
			testRoundTrip(t, fallback)
		})
	}
}

func testRoundTrip(t *testing.T, fallback bool) {
	ctx := t.Context()
	reg := prometheus.NewRegistry()
	s := migratedPostgres(t, reg)
	rows := storetest.Articles("rt", 4)
	rows[0].PublishedAt = time.Date(1969, 7, 20, 20, 17, 40, 123456000, time.UTC) // before both epochs
	rows[0].IngestedAt = time.Date(1999, 12, 31, 23, 59, 59, 999999000, time.UTC)
	rows[0].StreamSeq = 1<<63 - 1
	rows[0].Importance = 100
	rows[0].Title = "héllo, 世界 🌍"
	rows[1].PublishedAt = time.Time{}                                                    // NULL
	rows[1].ContentHash = [32]byte{}                                                     // computed by Commit
	rows[2].IngestedAt = time.Date(2030, 1, 1, 0, 0, 0, 1000, time.FixedZone("x", 3600)) // not UTC
	rows[3].Lang, rows[3].URL, rows[3].Summary, rows[3].Category, rows[3].Model = "", "", "", "", ""
	batch, wantFallbacks := rows, 0.0
	if fallback { // a stored id at the end of the batch: COPY fails on it, late
		old := storetest.Articles("old", 1)
		if n, err := s.Commit(ctx, old); err != nil || n != 1 {
			t.Fatalf("Commit(old) = %d, %v", n, err)
		}
		batch, wantFallbacks = append(slices.Clone(rows), old...), 1
	}
	if n, err := s.Commit(ctx, batch); err != nil || n != len(rows) {
		t.Fatalf("Commit = %d, %v; want %d", n, err, len(rows))
	}
	if got := gathered(t, reg, "newsflow_db_insert_fallbacks_total"); got != wantFallbacks {
		t.Fatalf("newsflow_db_insert_fallbacks_total = %v; want %v", got, wantFallbacks)
	}
	type stored struct {
		ID, Source, URL, Title, Body, Lang string
		PublishedAt                        *time.Time
		IngestedAt                         time.Time
		ContentHash                        []byte
		Summary, Category                  string
		Importance                         int16
		Model                              string
		StreamSeq                          int64
	}
	for i, a := range rows {
		var got stored
		err := s.Pool().QueryRow(ctx, `SELECT id, source, url, title, body, lang, published_at, ingested_at,
			content_hash, summary, category, importance, llm_model, stream_seq FROM articles WHERE id = $1`, a.ID).Scan(
			&got.ID, &got.Source, &got.URL, &got.Title, &got.Body, &got.Lang, &got.PublishedAt, &got.IngestedAt,
			&got.ContentHash, &got.Summary, &got.Category, &got.Importance, &got.Model, &got.StreamSeq)
		if err != nil {
			t.Fatal(err)
		}
		h := a.ContentHash
		if i == 1 {
			h = a.Message.ContentHash()
		}
		want := stored{a.ID, a.Source, a.URL, a.Title, a.Body, a.Lang, nil, a.IngestedAt.UTC(), h[:],
			a.Summary, a.Category, int16(a.Importance), a.Model, int64(a.StreamSeq)}
		if !a.PublishedAt.IsZero() {
			p := a.PublishedAt.UTC()
			want.PublishedAt = &p
		}
		if got.PublishedAt != nil {
			*got.PublishedAt = got.PublishedAt.UTC()
		}
		got.IngestedAt = got.IngestedAt.UTC()
		if i == 1 || i == 3 { // IngestedAt zero: the commit time
			if time.Since(got.IngestedAt) > time.Minute {
				t.Errorf("row %d: ingested_at %v; want about now", i, got.IngestedAt)
			}
			want.IngestedAt = got.IngestedAt
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("row %d stored (-want +got):\n%s", i, diff)
		}
	}
}
