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

// TopPlan returns SQLite's query plan of Top(q), one detail line per step.
func (s *SQLite) TopPlan(ctx context.Context, q TopQuery) ([]string, error) {
	query, args := q.sqlite(time.Now())
	rows, err := s.db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return nil, err
		}
		plan = append(plan, detail)
	}
	return plan, rows.Err()
}

// Indexes returns the names of the indexes on articles.
func (s *SQLite) Indexes(ctx context.Context) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'articles' ORDER BY name")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, rows.Err()
}
