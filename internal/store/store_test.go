package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"newsflow/internal/store"
	"newsflow/internal/store/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testPool keeps test pools small: the test server is shared.
var testPool = store.PoolConfig{MaxConns: 3, MinIdleConns: -1}

func openPostgres(t *testing.T, dsn string) *store.Postgres {
	t.Helper()
	s, err := store.OpenPostgres(t.Context(), dsn, testPool, zaptest.NewLogger(t), nil)
	if err != nil {
		t.Fatalf("OpenPostgres: %v", err)
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
	if err == nil || !store.IsRetryable(err) || errors.As(err, &de) {
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
	s, err := store.OpenPostgres(ctx, storetest.PostgresDSN(t), testPool, zaptest.NewLogger(t), reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
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
