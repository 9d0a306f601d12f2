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
