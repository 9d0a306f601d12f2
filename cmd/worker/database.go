package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"newsflow/internal/natsflag"
	"newsflow/internal/news"
	"newsflow/internal/store"
)

// database is what the subcommands need of either store.
type database interface {
	Commit(ctx context.Context, rows []news.Article) (int, error)
	Migrate(ctx context.Context) error
	Ping(ctx context.Context) error
	Top(ctx context.Context, q store.TopQuery) ([]store.TopStory, error)
	Close()
}

// sqlitePath is where the embedded mode keeps its database.
func sqlitePath(dataDir string) string { return filepath.Join(dataDir, "newsflow.db") }

// openDatabase opens Postgres at databaseURL or, when that is empty, the
// SQLite file in dataDir. existingOnly refuses to create a missing SQLite
// file, for the commands that only read. reg may be nil.
func openDatabase(ctx context.Context, databaseURL, dataDir string, pool store.PoolConfig, existingOnly bool,
	log *zap.Logger, reg prometheus.Registerer) (database, error) {
	if databaseURL != "" {
		p, err := store.OpenPostgres(ctx, databaseURL, pool, log, reg)
		if err != nil {
			return nil, fmt.Errorf("open Postgres at %s (DATABASE_URL): %w", natsflag.RedactURL(databaseURL), err)
		}
		return p, nil
	}
	path := sqlitePath(dataDir)
	if existingOnly {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no database at %s: set --database-url, or --data-dir to a worker's", path)
		}
	}
	log.Info("DATABASE_URL unset: using SQLite", zap.String("path", path))
	s, err := store.OpenSQLite(ctx, path, log, reg)
	if err != nil {
		return nil, fmt.Errorf("open SQLite at %s: %w", path, err)
	}
	return s, nil
}
