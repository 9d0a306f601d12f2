package store

import (
	"context"
	"strings"
	"time"

	"newsflow/internal/news"
)

// CommitIgnoring commits rows the way Commit does after a conflict: with
// insertIgnoreSQL, skipping the optimistic COPY.
func (p *Postgres) CommitIgnoring(ctx context.Context, rows []news.Article) (int, error) {
	p.safeBatches.Store(1)
	return p.Commit(ctx, rows)
}

// CommitPlainInsert commits rows with insertIgnoreSQL less its ON CONFLICT
// clause: the optimistic statement before COPY, kept to re-check the choice.
func (p *Postgres) CommitPlainInsert(ctx context.Context, rows []news.Article) (int, error) {
	b := pgBatchPool.Get().(*pgBatch)
	defer b.release()
	b.reset(rows, time.Now())
	plain := strings.TrimSuffix(insertIgnoreSQL, "\nON CONFLICT (id) DO NOTHING")
	c, err := p.pool.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer c.Release()
	return p.exec(ctx, c, "plain_insert", plain, b)
}

// MigrateTo applies the migrations up to version upTo.
func (p *Postgres) MigrateTo(ctx context.Context, upTo int) error { return p.migrate(ctx, upTo) }

// MigrateTo applies the migrations up to version upTo.
func (s *SQLite) MigrateTo(ctx context.Context, upTo int) error { return s.migrate(ctx, upTo) }

// Exec runs one statement on the writer, for tests that build a table by hand.
func (s *SQLite) Exec(ctx context.Context, sql string, args ...any) error {
	_, err := s.w.ExecContext(ctx, sql, args...)
	return err
}
