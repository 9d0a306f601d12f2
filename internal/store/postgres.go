package store

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"newsflow/internal/news"
	"newsflow/internal/tracing"
)

// Defaults of PoolConfig.
const (
	DefaultMaxConns          = 8
	DefaultMinIdleConns      = 2
	DefaultHealthCheckPeriod = 30 * time.Second
	DefaultMaxConnLifetime   = 30 * time.Minute
)

// DefaultPoolConfig returns the default pool.
func DefaultPoolConfig() PoolConfig {
	return PoolConfig{MaxConns: DefaultMaxConns, MinIdleConns: DefaultMinIdleConns,
		HealthCheckPeriod: DefaultHealthCheckPeriod, MaxConnLifetime: DefaultMaxConnLifetime}
}

// PoolConfig sizes the Postgres connection pool. MinIdleConns 0 means none;
// the other fields have no meaning at zero and take their Default*.
type PoolConfig struct {
	// MaxConns caps open connections. Default DefaultMaxConns.
	MaxConns int32
	// MinIdleConns is how many idle connections the pool keeps ready.
	// DefaultPoolConfig sets DefaultMinIdleConns; 0 keeps none.
	MinIdleConns int32
	// HealthCheckPeriod is how often idle connections are checked. Default DefaultHealthCheckPeriod.
	HealthCheckPeriod time.Duration
	// MaxConnLifetime is when a connection is closed and replaced. Default DefaultMaxConnLifetime.
	MaxConnLifetime time.Duration
}

// withDefaults fills the fields that have no meaning at zero.
func (c PoolConfig) withDefaults() PoolConfig {
	c.MaxConns = cmp.Or(c.MaxConns, DefaultMaxConns)
	c.HealthCheckPeriod = cmp.Or(c.HealthCheckPeriod, DefaultHealthCheckPeriod)
	c.MaxConnLifetime = cmp.Or(c.MaxConnLifetime, DefaultMaxConnLifetime)
	return c
}

// Validate checks the pool bounds.
func (c PoolConfig) Validate() error {
	switch {
	case c.MaxConns < 1:
		return fmt.Errorf("store: PoolConfig.MaxConns must be ≥ 1, got %d", c.MaxConns)
	case c.MinIdleConns < 0:
		return fmt.Errorf("store: PoolConfig.MinIdleConns must be ≥ 0, got %d", c.MinIdleConns)
	case c.MinIdleConns > c.MaxConns:
		return fmt.Errorf("store: PoolConfig.MinIdleConns must be ≤ MaxConns (%d), got %d", c.MaxConns, c.MinIdleConns)
	case c.HealthCheckPeriod < 0:
		return fmt.Errorf("store: PoolConfig.HealthCheckPeriod must be ≥ 0, got %s", c.HealthCheckPeriod)
	case c.MaxConnLifetime < 0:
		return fmt.Errorf("store: PoolConfig.MaxConnLifetime must be ≥ 0, got %s", c.MaxConnLifetime)
	}
	return nil
}

// Postgres is the production store: a pgx connection pool on one schema
// (the DSN's search_path, else the server's default).
type Postgres struct {
	pool    *pgxpool.Pool
	log     *zap.Logger
	metrics *rowMetrics
	pc      prometheus.Collector
	reg     prometheus.Registerer
	// safeBatches counts down the batches still to commit with
	// insertIgnoreSQL; see commit.
	safeBatches atomic.Int32
}

// OpenPostgres parses dsn (URL or key=value form; unknown parameters such as
// search_path become session parameters), opens a pool sized by cfg and pings
// the server. It does not migrate; call Migrate. reg, when non-nil, receives
// the pool and row metrics.
func OpenPostgres(ctx context.Context, dsn string, cfg PoolConfig, log *zap.Logger, reg prometheus.Registerer) (*Postgres, error) {
	if log == nil {
		log = zap.NewNop()
	}
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	pcfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The parse error quotes the DSN; return only its cause.
		cause := errors.Unwrap(err)
		if cause == nil {
			cause = errors.New("malformed")
		}
		return nil, fmt.Errorf("store: parse database URL: %w", cause)
	}
	pcfg.MaxConns = cfg.MaxConns
	pcfg.MinIdleConns = cfg.MinIdleConns
	pcfg.HealthCheckPeriod = cfg.HealthCheckPeriod
	pcfg.MaxConnLifetime = cfg.MaxConnLifetime
	pcfg.MaxConnLifetimeJitter = cfg.MaxConnLifetime / 10
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("store: open postgres pool: %w", err)
	}
	p := &Postgres{pool: pool, log: log.Named("store"), metrics: newRowMetrics()}
	if err := p.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	if reg != nil {
		p.pc = newPoolCollector(pool)
		for _, c := range []prometheus.Collector{p.pc, p.metrics.inserted, p.metrics.duplicate, p.metrics.fallbacks} {
			if err := reg.Register(c); err != nil {
				p.unregister(reg)
				pool.Close()
				return nil, fmt.Errorf("store: register metrics: %w", err)
			}
		}
		p.reg = reg
	}
	p.log.Info("postgres store open",
		zap.String("host", pcfg.ConnConfig.Host), zap.String("database", pcfg.ConnConfig.Database),
		zap.Int32("max_conns", cfg.MaxConns), zap.Int32("min_idle_conns", cfg.MinIdleConns))
	return p, nil
}

func (p *Postgres) unregister(reg prometheus.Registerer) {
	for _, c := range []prometheus.Collector{p.pc, p.metrics.inserted, p.metrics.duplicate, p.metrics.fallbacks} {
		if c != nil {
			reg.Unregister(c)
		}
	}
}

// Pool returns the underlying pool, for health checks and tests.
func (p *Postgres) Pool() *pgxpool.Pool { return p.pool }

// Ping checks that the server answers.
func (p *Postgres) Ping(ctx context.Context) error {
	if err := p.pool.Ping(ctx); err != nil {
		return fmt.Errorf("store: ping postgres: %w", classifyPG(err))
	}
	return nil
}

// Close closes the pool, waiting for acquired connections to be released,
// and unregisters the metrics.
func (p *Postgres) Close() {
	if p.reg != nil {
		p.unregister(p.reg)
	}
	p.pool.Close()
}

// migrateLockKey is the advisory lock key for migrating schema: one fixed key
// per schema, so stores on different schemas never wait for each other.
func migrateLockKey(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("newsflow/store/migrate/"))
	h.Write([]byte(schema))
	return int64(h.Sum64())
}

// Migrate applies the embedded migrations not yet recorded in
// schema_migrations, all in one transaction that holds a transaction-level
// advisory lock keyed by the current schema. Concurrent callers wait for the
// first and then find nothing to do. The lock is released by commit or
// rollback, so a cancelled Migrate cannot leave it held on a pooled
// connection.
func (p *Postgres) Migrate(ctx context.Context) error { return p.migrate(ctx, math.MaxInt) }

// migrate applies the migrations up to version upTo.
func (p *Postgres) migrate(ctx context.Context, upTo int) error {
	ms, err := loadMigrations("postgres")
	if err != nil {
		return err
	}
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("store: migrate: begin: %w", classifyPG(err))
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after commit
	var schema *string
	if err := tx.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return fmt.Errorf("store: migrate: current schema: %w", classifyPG(err))
	}
	if schema == nil {
		return errors.New("store: migrate: no current schema: the search_path names no existing schema")
	}
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrateLockKey(*schema)); err != nil {
		return fmt.Errorf("store: migrate: lock: %w", classifyPG(err))
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("store: migrate: create schema_migrations: %w", classifyPG(err))
	}
	rows, _ := tx.Query(ctx, "SELECT version FROM schema_migrations")
	applied, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return fmt.Errorf("store: migrate: read versions: %w", classifyPG(err))
	}
	var done []string
	for _, m := range ms {
		if slices.Contains(applied, int32(m.version)) || m.version > upTo {
			continue
		}
		if _, err := tx.Exec(ctx, m.sql, pgx.QueryExecModeSimpleProtocol); err != nil {
			return fmt.Errorf("store: migrate: apply %s: %w", m.name, classifyPG(err))
		}
		if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name); err != nil {
			return fmt.Errorf("store: migrate: record %s: %w", m.name, classifyPG(err))
		}
		done = append(done, m.name)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("store: migrate: commit: %w", classifyPG(err))
	}
	if len(done) > 0 {
		p.log.Info("schema migrated", zap.String("schema", *schema), zap.Strings("migrations", done))
	}
	return nil
}

// copySQL is the optimistic statement, see Postgres.commit: the batch as one
// binary COPY stream (pgBatch.copyStream), straight into articles. One
// statement is one transaction: the batch commits or fails whole.
const copySQL = `COPY articles (id, source, url, title, body, lang, published_at, ingested_at,
	content_hash, summary, category, importance, llm_model, stream_seq, story_id) FROM STDIN (FORMAT binary)`

// insertIgnoreSQL inserts one batch passed as one array per column
// (pgBatch.arrays), skipping every id already stored or repeated within the
// batch, in one round trip. The arrays are unnested in the select list, not
// FROM unnest(...): the select-list form streams rows through a ProjectSet
// node instead of materialising them in a tuplestore first (figures in
// README's Benchmarks). A batch's arrays have equal lengths, so both forms
// give the same rows.
const insertIgnoreSQL = `INSERT INTO articles (id, source, url, title, body, lang, published_at, ingested_at,
	content_hash, summary, category, importance, llm_model, stream_seq, story_id)
SELECT unnest($1::text[]), unnest($2::text[]), unnest($3::text[]), unnest($4::text[]), unnest($5::text[]),
	unnest($6::text[]), unnest($7::timestamptz[]), unnest($8::timestamptz[]), unnest($9::bytea[]),
	unnest($10::text[]), unnest($11::text[]), unnest($12::int4[]), unnest($13::text[]), unnest($14::int8[]),
	unnest($15::bytea[])
ON CONFLICT (id) DO NOTHING`

// Commit inserts rows in one transaction, skipping ids already stored
// (ON CONFLICT (id) DO NOTHING, also for a repeated id within rows), and
// returns how many rows it inserted. A zero IngestedAt becomes the commit
// time; a zero ContentHash is computed from the message. On error nothing is
// inserted: a *DataError if the data was rejected, else a retryable error.
func (p *Postgres) Commit(ctx context.Context, rows []news.Article) (int, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	n, err := p.commit(ctx, rows)
	if err != nil {
		return 0, fmt.Errorf("store: commit %d rows: %w", len(rows), classifyPG(err))
	}
	p.metrics.observe(n, len(rows)-n)
	return n, nil
}

// insertIgnoreStmt names insertIgnoreSQL, prepared on each connection.
const insertIgnoreStmt = "newsflow_insert_articles_ignore"

// safeRun is how many batches commit with insertIgnoreSQL after one that
// found an id already stored, before the optimistic COPY is tried again.
const safeRun = 100

// commit inserts rows in one statement, which is one transaction.
//
// Almost every batch holds only new ids: duplicates reach the database only
// when a message is redelivered after a crash or re-published outside
// JetStream's duplicate window. So commit first copies the batch straight
// into articles (copySQL), and runs insertIgnoreSQL (ON CONFLICT (id) DO
// NOTHING) only if that fails on a unique violation. COPY inserts a page's
// worth of rows at a time, with one WAL record per page, and skips ON
// CONFLICT's speculative insertion (an index probe before each row, then a
// speculative insert and its confirmation); the client sends the stream
// unbuffered instead of rebuilding a 100+ KiB Bind message, so it costs
// both sides less CPU per message (README's Benchmarks; go run ./bench
// --workers 1 --latency-rate 0, and BenchmarkCommit). The result is the same either
// way: a failed statement rolled back, so the batch is still committed once,
// in one transaction, and ids already stored are skipped. After a conflict,
// the next safeRun batches use insertIgnoreSQL directly (a batch that finds
// another duplicate restarts the count), so a stream of redeliveries, such
// as a replay, wastes at most one statement in safeRun+1.
func (p *Postgres) commit(ctx context.Context, rows []news.Article) (int, error) {
	b := pgBatchPool.Get().(*pgBatch)
	defer b.release()
	b.reset(rows, time.Now())
	c, err := p.pool.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer c.Release() // a connection that broke is closed, and the pool drops it
	if p.safeBatches.Load() <= 0 {
		tag, err := c.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(b.copyStream()), copySQL)
		if err != nil {
			// When the connection broke, pgconn returns without waiting for
			// its goroutine that reads the stream: leave the buffer to it.
			b.copyData = nil
		}
		if !isUniqueViolation(err) {
			return int(tag.RowsAffected()), err
		}
		p.metrics.fallbacks.Inc() // the run below finds the duplicates and sets safeBatches
		if span := trace.SpanFromContext(ctx); span.IsRecording() {
			span.SetAttributes(tracing.NewsflowCommitFallback.Bool(true))
		}
	}
	n, err := p.exec(ctx, c, insertIgnoreStmt, insertIgnoreSQL, b)
	switch {
	case err != nil:
	case n < len(rows):
		p.safeBatches.Store(safeRun)
	default:
		p.safeBatches.Add(-1)
	}
	return n, err
}

// exec runs the named statement on b's arrays, preparing it on first use on
// c, and returns how many rows it inserted.
func (p *Postgres) exec(ctx context.Context, c *pgxpool.Conn, name, sql string, b *pgBatch) (int, error) {
	// Prepare is a map lookup once the connection has the statement.
	if _, err := c.Conn().Prepare(ctx, name, sql); err != nil {
		return 0, err
	}
	tag, err := c.Conn().PgConn().ExecPrepared(ctx, name, b.arrays(), binaryFormats, nil).Close()
	if err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}

// isUniqueViolation reports whether err is Postgres' unique_violation.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// topSQLPostgres: $1 window start (NULL = unbounded), $2 limit, $3 category (” = all), $4
// MaxTopIDs. Rows group by story id; rows written before it existed are their own story.
const topSQLPostgres = `
WITH w AS (
	SELECT coalesce(story_id, content_hash) AS sid, content_hash, title, summary, category, url, importance, source,
		coalesce(published_at, ingested_at) AS ts, id
	FROM articles
	WHERE ($1::timestamptz IS NULL OR coalesce(published_at, ingested_at) >= $1)
	  AND ($3::text = '' OR category = $3::text)
), g AS (
	SELECT sid, max(importance) AS importance, max(ts) AS latest, count(*) AS reposts,
		count(DISTINCT content_hash) AS variants, array_agg(DISTINCT source) AS sources,
		(array_agg(id ORDER BY ts, id))[1:$4::int] AS ids
	FROM w GROUP BY sid
	ORDER BY importance DESC, latest DESC, sid
	LIMIT $2
)
SELECT g.sid, f.content_hash, f.title, f.summary, f.category, f.url, g.importance, f.ts, g.sources, g.reposts, g.variants, g.ids
FROM g CROSS JOIN LATERAL (
	SELECT content_hash, title, summary, category, url, ts FROM w
	WHERE w.sid = g.sid ORDER BY ts, id LIMIT 1
) f
ORDER BY g.importance DESC, g.latest DESC, g.sid`

// Top returns the most important stories of the window, reposts and
// near-duplicates collapsed by story id: by highest importance, then most
// recent row, then story id.
func (p *Postgres) Top(ctx context.Context, q TopQuery) ([]TopStory, error) {
	since, limit := q.bounds(time.Now())
	rows, err := p.pool.Query(ctx, topSQLPostgres, since, limit, q.Category, MaxTopIDs)
	if err != nil {
		return nil, fmt.Errorf("store: top: %w", classifyPG(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (TopStory, error) {
		var s TopStory
		var sid, hash []byte
		var reposts, variants int64
		var imp int16
		err := r.Scan(&sid, &hash, &s.Title, &s.Summary, &s.Category, &s.URL, &imp, &s.PublishedAt, &s.Sources, &reposts, &variants, &s.IDs)
		copy(s.StoryID[:], sid)
		copy(s.ContentHash[:], hash)
		s.Importance, s.Reposts, s.Variants = int(imp), int(reposts), int(variants)
		s.PublishedAt = s.PublishedAt.UTC()
		slices.Sort(s.Sources)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: top: %w", classifyPG(err))
	}
	if len(out) == 0 {
		return nil, nil // as SQLite does
	}
	return out, nil
}

// bounds returns the window start (nil when unbounded) and the limit.
func (q TopQuery) bounds(now time.Time) (*time.Time, int) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultTopLimit
	}
	if q.Since <= 0 {
		return nil, limit
	}
	t := now.Add(-q.Since).UTC()
	return &t, limit
}

// Count returns the number of rows in articles.
func (p *Postgres) Count(ctx context.Context) (int64, error) {
	var n int64
	if err := p.pool.QueryRow(ctx, "SELECT count(*) FROM articles").Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count: %w", classifyPG(err))
	}
	return n, nil
}

// Stats counts rows and unique stories.
func (p *Postgres) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	if err := p.pool.QueryRow(ctx, "SELECT count(*), count(DISTINCT coalesce(story_id, content_hash)) FROM articles").Scan(&s.Rows, &s.Stories); err != nil {
		return Stats{}, fmt.Errorf("store: stats: %w", classifyPG(err))
	}
	return s, nil
}

// classifyPG turns a Postgres data error into a *DataError: SQLSTATE class
// 22 (data exception) or 23 (integrity constraint violation), or 54000 (a
// value too large for an index row). Every other error is returned as is
// (retryable).
func classifyPG(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && len(pe.Code) == 5 && (pe.Code[:2] == "22" || pe.Code[:2] == "23" || pe.Code == "54000") {
		return &DataError{SQLState: pe.Code, Err: err}
	}
	return err
}
