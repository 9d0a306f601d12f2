package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"newsflow/internal/news"
	"newsflow/internal/redact"
)

// DB is what the worker's commands need of either store.
type DB interface {
	Commit(ctx context.Context, rows []news.Article) (int, error)
	Migrate(ctx context.Context) error
	Ping(ctx context.Context) error
	Top(ctx context.Context, q TopQuery) ([]TopStory, error)
	Close()
}

// SQLitePath is where the embedded mode keeps its database in dataDir.
func SQLitePath(dataDir string) string { return filepath.Join(dataDir, "newsflow.db") }

// Open opens Postgres at databaseURL or, when that is empty, the SQLite
// file in dataDir. existingOnly refuses to create a missing SQLite file,
// for the commands that only read. reg may be nil.
func Open(ctx context.Context, databaseURL, dataDir string, pool PoolConfig, existingOnly bool,
	log *zap.Logger, reg prometheus.Registerer) (DB, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if databaseURL != "" {
		p, err := OpenPostgres(ctx, databaseURL, pool, log, reg)
		if err != nil {
			return nil, fmt.Errorf("open Postgres at %s (DATABASE_URL): %w", redact.String(databaseURL), err)
		}
		return p, nil
	}
	path := SQLitePath(dataDir)
	if existingOnly {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no database at %s: set --database-url, or --data-dir to a worker's", path)
		}
	}
	log.Info("DATABASE_URL unset: using SQLite", zap.String("path", path))
	s, err := OpenSQLite(ctx, path, log, reg)
	if err != nil {
		return nil, fmt.Errorf("open SQLite at %s: %w", path, err)
	}
	return s, nil
}
