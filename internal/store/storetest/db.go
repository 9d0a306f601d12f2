package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultDatabaseURL is the test Postgres server used when
// NEWSFLOW_TEST_DATABASE_URL is unset.
const DefaultDatabaseURL = "postgres://root@127.0.0.1:5432/test?sslmode=disable"

// DatabaseURL returns NEWSFLOW_TEST_DATABASE_URL, or DefaultDatabaseURL.
func DatabaseURL() string {
	if u := os.Getenv("NEWSFLOW_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultDatabaseURL
}

// PostgresDSN creates a schema t_<random> on the test server and returns a
// DSN whose search_path is that schema, so a store opened on it sees only its
// own tables. The schema is dropped (CASCADE) in t.Cleanup. The test fails if
// the server is unreachable.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	base := DatabaseURL()
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	exec(t, base, "CREATE SCHEMA "+schema)
	t.Cleanup(func() { exec(t, base, "DROP SCHEMA IF EXISTS "+schema+" CASCADE") })
	return WithSearchPath(base, schema)
}

// WithSearchPath returns dsn (URL or key=value form) with its search_path
// set to schema; pgx sends it as a session parameter.
func WithSearchPath(dsn, schema string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err == nil {
			q := u.Query()
			q.Set("search_path", schema)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return dsn + " search_path=" + schema
}

// exec runs one statement on a short-lived connection to dsn.
func exec(t testing.TB, dsn, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("storetest: connect to the test database: %v", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("storetest: %s: %v", sql, err)
	}
}

// SQLitePath returns the path of a database file, not yet created, in
// t.TempDir() (which the testing package removes).
func SQLitePath(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "newsflow.db")
}
