package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"newsflow/internal/news"
)

// SQLite is the embedded store: one database file in WAL mode, for running
// newsflow without Postgres. Times are stored as Unix nanoseconds (UTC).
//
// Writes go through one connection, reads (Top, Count, Stats) through a
// small pool of others: SQLite admits one writer at a time anyway, and a
// connection keeps its page cache (the indexes a commit updates) only while
// no other connection writes, so a single writer finds them in memory.
//
// Durability: synchronous=NORMAL, so a committed batch survives a crash of
// the process (the WAL is written before Commit returns) but the last
// transactions may be lost on power failure or an OS crash (the WAL is
// fsynced at checkpoints, not at every commit); messages are acked after
// the commit, so those would not be redelivered.
type SQLite struct {
	db      *sql.DB // readers
	w       *sql.DB // the one writer connection
	log     *zap.Logger
	metrics *rowMetrics
	reg     prometheus.Registerer

	mu     sync.Mutex
	insert map[int]*sql.Stmt // multi-row inserts by row count, prepared on w
}

// SQLite tuning, chosen with go run ./bench --embedded-only and
// BenchmarkCommit/sqlite (see README's benchmarks).
const (
	// sqliteCacheKiB is the writer's page cache: the indexes of a few
	// million rows stay in memory, so a commit reads nothing back.
	sqliteCacheKiB = 16 << 10
	// sqliteCheckpointPages lets the WAL grow to about 64 MiB before it is
	// copied into the database file: the index pages most commits rewrite
	// are copied once per checkpoint rather than once per thousand pages.
	sqliteCheckpointPages = 16384
	// maxInsertRows bounds the rows of one INSERT (sqliteColumns parameters each).
	maxInsertRows = 128
)

// OpenSQLite opens (creating it and its directory if needed) the database
// file at path in WAL mode. It does not migrate; call Migrate. reg, when
// non-nil, receives the row metrics.
func OpenSQLite(ctx context.Context, path string, log *zap.Logger, reg prometheus.Registerer) (*SQLite, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("store: sqlite path %q must be non-empty and contain no '?' or '#'", path)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("store: create sqlite directory: %w", err)
		}
	}
	// busy_timeout first, so opening next to a busy writer (another process)
	// waits instead of failing; _txlock=immediate makes every transaction
	// BEGIN IMMEDIATE, so writers queue on the lock up front instead of
	// failing to upgrade.
	dsn := path + "?_busy_timeout=10000&_journal_mode=WAL&_synchronous=NORMAL&_txlock=immediate"
	// temp_store=MEMORY keeps a multi-row INSERT's statement journal (the
	// undo of a failing statement inside the transaction) out of temporary
	// files.
	w, err := sql.Open("sqlite", dsn+fmt.Sprintf("&_pragma=cache_size(-%d)&_pragma=wal_autocheckpoint(%d)&_pragma=temp_store(MEMORY)",
		sqliteCacheKiB, sqliteCheckpointPages))
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store: open sqlite: %w", err)
	}
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	s := &SQLite{db: db, w: w, log: log.Named("store"), metrics: newRowMetrics(), insert: map[int]*sql.Stmt{}}
	closeAll := func() {
		db.Close()
		w.Close()
	}
	if err := s.Ping(ctx); err != nil {
		closeAll()
		return nil, err
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{s.metrics.inserted, s.metrics.duplicate} {
			if err := reg.Register(c); err != nil {
				s.unregister(reg)
				closeAll()
				return nil, fmt.Errorf("store: register metrics: %w", err)
			}
		}
		s.reg = reg
	}
	s.log.Info("sqlite store open", zap.String("path", path))
	return s, nil
}

func (s *SQLite) unregister(reg prometheus.Registerer) {
	reg.Unregister(s.metrics.inserted)
	reg.Unregister(s.metrics.duplicate)
}

// Ping checks that the database file can be read and written.
func (s *SQLite) Ping(ctx context.Context) error {
	for _, db := range []*sql.DB{s.w, s.db} {
		if err := db.PingContext(ctx); err != nil {
			return fmt.Errorf("store: ping sqlite: %w", classifySQLite(err))
		}
	}
	return nil
}

// Close closes the database and unregisters the metrics.
func (s *SQLite) Close() {
	if s.reg != nil {
		s.unregister(s.reg)
	}
	s.mu.Lock()
	for _, st := range s.insert {
		st.Close()
	}
	s.insert = map[int]*sql.Stmt{}
	s.mu.Unlock()
	for _, db := range []*sql.DB{s.db, s.w} {
		if err := db.Close(); err != nil {
			s.log.Warn("close sqlite", zap.Error(err))
		}
	}
}

// Migrate applies the embedded migrations not yet recorded in
// schema_migrations in one BEGIN IMMEDIATE transaction, so concurrent
// callers (goroutines or processes) queue on the write lock and the later
// ones find nothing to do.
func (s *SQLite) Migrate(ctx context.Context) error { return s.migrate(ctx, math.MaxInt) }

// migrate applies the migrations up to version upTo.
func (s *SQLite) migrate(ctx context.Context, upTo int) error {
	ms, err := loadMigrations("sqlite")
	if err != nil {
		return err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: migrate: begin: %w", classifySQLite(err))
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at integer NOT NULL)`); err != nil {
		return fmt.Errorf("store: migrate: create schema_migrations: %w", classifySQLite(err))
	}
	rows, err := tx.QueryContext(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return fmt.Errorf("store: migrate: read versions: %w", classifySQLite(err))
	}
	var applied []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return fmt.Errorf("store: migrate: read versions: %w", err)
		}
		applied = append(applied, v)
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("store: migrate: read versions: %w", err)
	}
	var done []string
	for _, m := range ms {
		if slices.Contains(applied, m.version) || m.version > upTo {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("store: migrate: apply %s: %w", m.name, classifySQLite(err))
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
			m.version, m.name, time.Now().UnixNano()); err != nil {
			return fmt.Errorf("store: migrate: record %s: %w", m.name, classifySQLite(err))
		}
		done = append(done, m.name)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: migrate: commit: %w", classifySQLite(err))
	}
	if len(done) > 0 {
		s.log.Info("schema migrated", zap.Strings("migrations", done))
	}
	return nil
}

// insertSQLite is the INSERT of rows rows; Postgres' column order.
func insertSQLite(rows int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO articles (id, source, url, title, body, lang, published_at, ingested_at,
	content_hash, summary, category, importance, llm_model, stream_seq, story_id)
VALUES `)
	for i := range rows {
		if i > 0 {
			b.WriteString(",\n\t")
		}
		b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
	}
	b.WriteString("\nON CONFLICT (id) DO NOTHING")
	return b.String()
}

// sqliteColumns is the number of parameters a row takes in insertSQLite.
const sqliteColumns = 15

// Commit inserts rows in one transaction, skipping ids already stored
// (ON CONFLICT (id) DO NOTHING, also for a repeated id within rows), and
// returns how many rows it inserted. It rejects text Postgres would reject
// (invalid UTF-8, NUL bytes) the same way, as a *DataError, so both stores
// agree on what is poison. On error nothing is inserted.
func (s *SQLite) Commit(ctx context.Context, rows []news.Article) (int, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	for i := range rows {
		if err := checkText(&rows[i]); err != nil {
			return 0, fmt.Errorf("store: commit %d rows: %w", len(rows), err)
		}
	}
	n, err := s.commit(ctx, rows)
	if err != nil {
		return 0, fmt.Errorf("store: commit %d rows: %w", len(rows), classifySQLite(err))
	}
	s.metrics.observe(n, len(rows)-n)
	return n, nil
}

func (s *SQLite) commit(ctx context.Context, rows []news.Article) (int, error) {
	now := time.Now().UnixNano()
	// Prepare before BEGIN: the transaction holds the one writer connection.
	full, err := s.insertStmt(ctx, min(len(rows), maxInsertRows))
	if err != nil {
		return 0, err
	}
	last := full
	if r := len(rows) % maxInsertRows; r != 0 && len(rows) > maxInsertRows {
		if last, err = s.insertStmt(ctx, r); err != nil {
			return 0, err
		}
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	args := make([]any, 0, min(len(rows), maxInsertRows)*sqliteColumns)
	hashes := make([]news.Hash, 2*len(rows)) // content hashes, then story ids
	n, inserted := 0, 0
	for chunk := range slices.Chunk(rows, maxInsertRows) {
		stmt := full
		if len(chunk) < maxInsertRows {
			stmt = last
		}
		args = args[:0]
		for i := range chunk {
			a := &chunk[i]
			var published any
			if !a.PublishedAt.IsZero() {
				published = a.PublishedAt.UnixNano()
			}
			ingested := now
			if !a.IngestedAt.IsZero() {
				ingested = a.IngestedAt.UnixNano()
			}
			h, sid := &hashes[n+i], &hashes[len(rows)+n+i]
			*h = contentHash(a)
			*sid = a.StoryOr(*h)
			args = append(args, a.ID, a.Source, a.URL, a.Title, a.Body, a.Lang, published, ingested,
				h[:], a.Summary, a.Category, a.Importance, a.Model, int64(a.StreamSeq), sid[:])
		}
		res, err := tx.StmtContext(ctx, stmt).ExecContext(ctx, args...)
		if err != nil {
			return 0, err
		}
		k, err := res.RowsAffected()
		if err != nil {
			return 0, err
		}
		n += len(chunk)
		inserted += int(k)
	}
	return inserted, tx.Commit()
}

// insertStmt returns the prepared INSERT of rows rows on the writer.
func (s *SQLite) insertStmt(ctx context.Context, rows int) (*sql.Stmt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.insert[rows]; ok {
		return st, nil
	}
	st, err := s.w.PrepareContext(ctx, insertSQLite(rows))
	if err != nil {
		return nil, err
	}
	s.insert[rows] = st
	return st, nil
}

// checkText rejects what Postgres rejects in text columns.
func checkText(a *news.Article) error {
	for _, v := range [...]string{a.ID, a.Source, a.URL, a.Title, a.Body, a.Lang, a.Summary, a.Category, a.Model} {
		if !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
			return &DataError{SQLState: "22021", Err: fmt.Errorf("article %q: text is not valid UTF-8 or contains NUL", a.ID)}
		}
	}
	return nil
}

// topSQLite: same shape and order as topSQLPostgres. %s is the window
// condition on ?1 (see topSQLiteWindow), ?2 limit, ?3 category (” =
// all), ?4 MaxTopIDs.
const topSQLite = `
WITH w AS (
	SELECT coalesce(story_id, content_hash) AS sid, content_hash, title, summary, category, url, importance, source,
		coalesce(published_at, ingested_at) AS ts, id,
		row_number() OVER (PARTITION BY coalesce(story_id, content_hash) ORDER BY coalesce(published_at, ingested_at), id) AS rn
	FROM articles
	WHERE %s
	  AND (?3 = '' OR category = ?3)
), g AS (
	SELECT sid, max(importance) AS importance, max(ts) AS latest, count(*) AS reposts,
		count(DISTINCT content_hash) AS variants, json_group_array(DISTINCT source) AS sources,
		json_group_array(CASE WHEN rn <= ?4 THEN id END ORDER BY ts, id) AS ids
	FROM w GROUP BY sid
	ORDER BY importance DESC, latest DESC, sid
	LIMIT ?2
)
SELECT g.sid, w.content_hash, w.title, w.summary, w.category, w.url, g.importance, w.ts, g.sources, g.reposts, g.variants, g.ids
FROM g JOIN w ON w.sid = g.sid AND w.rn = 1
ORDER BY g.importance DESC, g.latest DESC, g.sid`

// The window's two conditions. ?1 is the window start in Unix nanoseconds;
// compared with it alone, the story time lets SQLite search
// articles_story_time_idx (an "?1 IS NULL OR ..." condition made it scan the
// whole table: TestSQLite_TopSearchesStoryTimeIndex). Without a window ?1
// is NULL and the table is scanned, which is cheaper than walking an index
// over every row.
var (
	topSQLiteWindow  = fmt.Sprintf(topSQLite, "coalesce(published_at, ingested_at) >= ?1")
	topSQLiteAllTime = fmt.Sprintf(topSQLite, "?1 IS NULL")
)

// sqlite returns SQLite's Top statement for q and its arguments.
func (q TopQuery) sqlite(now time.Time) (string, []any) {
	since, limit := q.bounds(now)
	if since == nil {
		return topSQLiteAllTime, []any{nil, limit, q.Category, MaxTopIDs}
	}
	return topSQLiteWindow, []any{since.UnixNano(), limit, q.Category, MaxTopIDs}
}

// Top returns the most important stories of the window, reposts and
// near-duplicates collapsed by story id: by highest importance, then most
// recent row, then story id.
func (s *SQLite) Top(ctx context.Context, q TopQuery) ([]TopStory, error) {
	query, args := q.sqlite(time.Now())
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: top: %w", classifySQLite(err))
	}
	defer rows.Close()
	var out []TopStory
	for rows.Next() {
		var st TopStory
		var sid, hash []byte
		var ts int64
		var sources, ids string
		if err := rows.Scan(&sid, &hash, &st.Title, &st.Summary, &st.Category, &st.URL, &st.Importance, &ts, &sources, &st.Reposts, &st.Variants, &ids); err != nil {
			return nil, fmt.Errorf("store: top: %w", err)
		}
		copy(st.StoryID[:], sid)
		copy(st.ContentHash[:], hash)
		st.PublishedAt = time.Unix(0, ts).UTC()
		if err := json.Unmarshal([]byte(sources), &st.Sources); err != nil {
			return nil, fmt.Errorf("store: top: decode sources: %w", err)
		}
		slices.Sort(st.Sources)
		var all []*string // the rows past MaxTopIDs are null
		if err := json.Unmarshal([]byte(ids), &all); err != nil {
			return nil, fmt.Errorf("store: top: decode ids: %w", err)
		}
		for _, id := range all {
			if id != nil {
				st.IDs = append(st.IDs, *id)
			}
		}
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: top: %w", classifySQLite(err))
	}
	return out, nil
}

// Count returns the number of rows in articles.
func (s *SQLite) Count(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM articles").Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count: %w", classifySQLite(err))
	}
	return n, nil
}

// Stats counts rows and unique stories.
func (s *SQLite) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	if err := s.db.QueryRowContext(ctx, "SELECT count(*), count(DISTINCT coalesce(story_id, content_hash)) FROM articles").Scan(&st.Rows, &st.Stories); err != nil {
		return Stats{}, fmt.Errorf("store: stats: %w", classifySQLite(err))
	}
	return st, nil
}

// classifySQLite turns an SQLite error caused by the data (a constraint,
// a value too big, a type mismatch) into a *DataError with the nearest
// SQLSTATE, and returns every other error (busy, locked, I/O) as is.
func classifySQLite(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	code := se.Code()
	state := ""
	switch code & 0xff {
	case sqlite3.SQLITE_CONSTRAINT:
		switch code {
		case sqlite3.SQLITE_CONSTRAINT_CHECK:
			state = "23514"
		case sqlite3.SQLITE_CONSTRAINT_NOTNULL:
			state = "23502"
		case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
			state = "23505"
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			state = "23503"
		default:
			state = "23000"
		}
	case sqlite3.SQLITE_TOOBIG:
		state = "22001"
	case sqlite3.SQLITE_MISMATCH:
		state = "22000"
	}
	if state == "" {
		return err
	}
	return &DataError{SQLState: state, Err: err}
}
