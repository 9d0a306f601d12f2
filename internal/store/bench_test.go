package store_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"newsflow/internal/news"
	"newsflow/internal/store"
	"newsflow/internal/store/storetest"
)

// BenchmarkCommit measures the insert path, one writer, in rows/s:
//
//	go test -run '^$' -bench BenchmarkCommit -benchtime 3000x ./internal/store/
//
// postgres/store is what Postgres.Commit does with new ids: a binary COPY
// straight into articles, encoded by the store. postgres/store-fallback is
// what it does after a conflict: INSERT ... SELECT unnest(14 arrays) ... ON
// CONFLICT DO NOTHING, arrays encoded by the store, a prepared statement.
// The other Postgres variants are the alternatives they were chosen over,
// kept here to re-check that choice: plain-insert (the store's unnest
// statement without ON CONFLICT: the optimistic path before COPY),
// unnest-pgx (the ON CONFLICT statement with pgx's generic encoding and
// statement cache), unnest-pgx-tx (that inside BEGIN/COMMIT: three round
// trips), copy-stage (COPY into a per-connection temp table ON COMMIT DELETE
// ROWS, then INSERT ... SELECT ... ON CONFLICT, in one transaction) and
// values (multi-row VALUES, 14 parameters a row). client-cpu-µs/row is this
// process's CPU during the commits; server-cpu-µs/row is every postgres
// process's, so it includes any other load on the server.
func BenchmarkCommit(b *testing.B) {
	for _, size := range []int{100, 500} {
		b.Run(fmt.Sprintf("postgres/store/batch=%d", size), func(b *testing.B) {
			s, _ := benchPostgres(b)
			benchCommit(b, size, s.Commit)
		})
		b.Run(fmt.Sprintf("postgres/store-fallback/batch=%d", size), func(b *testing.B) {
			s, _ := benchPostgres(b)
			benchCommit(b, size, s.CommitIgnoring)
		})
		b.Run(fmt.Sprintf("postgres/plain-insert/batch=%d", size), func(b *testing.B) {
			s, _ := benchPostgres(b)
			benchCommit(b, size, s.CommitPlainInsert)
		})
		b.Run(fmt.Sprintf("postgres/unnest-pgx/batch=%d", size), func(b *testing.B) {
			s, _ := benchPostgres(b)
			benchCommit(b, size, func(ctx context.Context, rows []news.Article) (int, error) {
				return commitUnnestPGX(ctx, s.Pool(), rows, false)
			})
		})
		b.Run(fmt.Sprintf("postgres/unnest-pgx-tx/batch=%d", size), func(b *testing.B) {
			s, _ := benchPostgres(b)
			benchCommit(b, size, func(ctx context.Context, rows []news.Article) (int, error) {
				return commitUnnestPGX(ctx, s.Pool(), rows, true)
			})
		})
		b.Run(fmt.Sprintf("postgres/copy-stage/batch=%d", size), func(b *testing.B) {
			_, pool := benchPostgres(b)
			benchCommit(b, size, func(ctx context.Context, rows []news.Article) (int, error) {
				return commitCopy(ctx, pool, rows)
			})
		})
		b.Run(fmt.Sprintf("postgres/values/batch=%d", size), func(b *testing.B) {
			_, pool := benchPostgres(b)
			benchCommit(b, size, func(ctx context.Context, rows []news.Article) (int, error) {
				return commitValues(ctx, pool, rows)
			})
		})
		b.Run(fmt.Sprintf("sqlite/batch=%d", size), func(b *testing.B) {
			s, err := store.OpenSQLite(b.Context(), storetest.SQLitePath(b), zap.NewNop(), nil)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(s.Close)
			if err := s.Migrate(b.Context()); err != nil {
				b.Fatal(err)
			}
			benchCommit(b, size, s.Commit)
		})
	}
}

// benchPostgres opens the store on a fresh migrated schema, and a second
// pool on it whose connections each create the staging table for copy.
func benchPostgres(b *testing.B) (*store.Postgres, *pgxpool.Pool) {
	ctx := b.Context()
	dsn := storetest.PostgresDSN(b)
	s, err := store.OpenPostgres(ctx, dsn, store.PoolConfig{MaxConns: 2, MinIdleConns: 1}, zap.NewNop(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	if err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = 2
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		_, err := c.Exec(ctx, `CREATE TEMP TABLE articles_stage (
			id text, source text, url text, title text, body text, lang text, published_at timestamptz,
			ingested_at timestamptz, content_hash bytea, summary text, category text, importance smallint,
			llm_model text, stream_seq bigint) ON COMMIT DELETE ROWS`)
		return err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	return s, pool
}

var benchRun atomic.Int64

// benchCommit commits batches of size fresh rows (~1 KiB bodies) and
// reports rows/s.
func benchCommit(b *testing.B, size int, commit func(context.Context, []news.Article) (int, error)) {
	ctx := b.Context()
	run := strconv.FormatInt(benchRun.Add(1), 10)
	rng := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields("the minister said on monday that talks would resume after the summit in brussels " +
		"markets rallied as investors weighed new data on inflation jobs and rates across the region")
	bodies := make([]string, 64)
	for i := range bodies {
		var sb strings.Builder
		for sb.Len() < 1000 {
			sb.WriteString(words[rng.IntN(len(words))])
			sb.WriteByte(' ')
		}
		bodies[i] = sb.String()
	}
	rows := make([]news.Article, size)
	now := time.Now().UTC()
	next := 0
	fill := func() {
		for i := range rows {
			next++
			id := "bench:" + run + ":" + strconv.Itoa(next)
			var seed [8]byte
			binary.LittleEndian.PutUint64(seed[:], uint64(next))
			rows[i] = news.Article{
				Message: news.Message{ID: id, Source: "bench", Title: "Headline number " + id,
					Body: bodies[next%len(bodies)], URL: "https://example.com/" + id, Lang: "en",
					PublishedAt: now.Add(-time.Duration(next) * time.Millisecond)},
				StreamSeq:   uint64(next),
				ContentHash: sha256.Sum256(append([]byte(run), seed[:]...)),
				Enrichment: news.Enrichment{Summary: "A two sentence summary. Of the story.", Category: "world",
					Importance: next % 101, Model: "offline/v1"},
			}
		}
	}
	total := 0
	var client time.Duration
	_, server0 := cpuTime()
	for b.Loop() {
		b.StopTimer()
		fill()
		c0 := selfCPU()
		b.StartTimer()
		n, err := commit(ctx, rows)
		client += selfCPU() - c0
		if err != nil {
			b.Fatal(err)
		}
		if n != size {
			b.Fatalf("inserted %d of %d", n, size)
		}
		total += n
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "rows/s")
	if _, server := cpuTime(); total > 0 && server > 0 {
		b.ReportMetric(float64(client.Microseconds())/float64(total), "client-cpu-µs/row")
		b.ReportMetric(float64((server-server0).Microseconds())/float64(total), "server-cpu-µs/row")
	}
}

// selfCPU returns the CPU time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuTime returns the CPU time used so far by this process (client) and by
// every postgres process on the machine (server); Linux only, else 0. On a shared machine wall-clock
// rows/s depend on the load; CPU per row much less so. It includes the
// server's background writers and any other client's queries.
func cpuTime() (client, server time.Duration) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, 0
	}
	self := strconv.Itoa(os.Getpid())
	const tick = time.Second / 100 // USER_HZ
	for _, e := range ents {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ... utime stime are fields 14 and 15.
		open, end := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
		if open < 0 || end < open {
			continue
		}
		if comm := string(stat[open+1 : end]); e.Name() != self && comm != "postgres" {
			continue
		}
		f := strings.Fields(string(stat[end+2:]))
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		if e.Name() == self {
			client += time.Duration(u+st) * tick
		} else {
			server += time.Duration(u+st) * tick
		}
	}
	return client, server
}

const unnestSQL = `INSERT INTO articles (id, source, url, title, body, lang, published_at, ingested_at,
	content_hash, summary, category, importance, llm_model, stream_seq)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
	$7::timestamptz[], $8::timestamptz[], $9::bytea[], $10::text[], $11::text[], $12::int4[],
	$13::text[], $14::int8[])
ON CONFLICT (id) DO NOTHING`

// commitUnnestPGX runs Postgres.Commit's statement with pgx's own encoding,
// inside BEGIN ... COMMIT if tx.
func commitUnnestPGX(ctx context.Context, pool *pgxpool.Pool, rows []news.Article, tx bool) (int, error) {
	n := len(rows)
	id, source, url, title, body, lang := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	pub, ing := make([]time.Time, n), make([]time.Time, n)
	hash, summary, category, model := make([][]byte, n), make([]string, n), make([]string, n), make([]string, n)
	imp, seq := make([]int32, n), make([]int64, n)
	now := time.Now()
	for i := range rows {
		a := &rows[i]
		id[i], source[i], url[i], title[i], body[i], lang[i] = a.ID, a.Source, a.URL, a.Title, a.Body, a.Lang
		pub[i], ing[i], hash[i] = a.PublishedAt, now, a.ContentHash[:]
		summary[i], category[i], model[i], imp[i], seq[i] = a.Summary, a.Category, a.Model, int32(a.Importance), int64(a.StreamSeq)
	}
	if !tx {
		tag, err := pool.Exec(ctx, unnestSQL, id, source, url, title, body, lang, pub, ing, hash, summary, category, imp, model, seq)
		return int(tag.RowsAffected()), err
	}
	var inserted int
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, unnestSQL, id, source, url, title, body, lang, pub, ing, hash, summary, category, imp, model, seq)
		inserted = int(tag.RowsAffected())
		return err
	})
	return inserted, err
}

var stageColumns = []string{"id", "source", "url", "title", "body", "lang", "published_at", "ingested_at",
	"content_hash", "summary", "category", "importance", "llm_model", "stream_seq"}

// commitCopy copies the batch into the connection's staging table and
// inserts from there, in one transaction.
func commitCopy(ctx context.Context, pool *pgxpool.Pool, rows []news.Article) (int, error) {
	now := time.Now()
	src := pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
		a := &rows[i]
		return []any{a.ID, a.Source, a.URL, a.Title, a.Body, a.Lang, a.PublishedAt, now, a.ContentHash[:],
			a.Summary, a.Category, int16(a.Importance), a.Model, int64(a.StreamSeq)}, nil
	})
	var inserted int
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"articles_stage"}, stageColumns, src); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO articles SELECT * FROM articles_stage ON CONFLICT (id) DO NOTHING`)
		inserted = int(tag.RowsAffected())
		return err
	})
	return inserted, err
}

// commitValues inserts the batch with one multi-row VALUES statement.
func commitValues(ctx context.Context, pool *pgxpool.Pool, rows []news.Article) (int, error) {
	var sb strings.Builder
	sb.WriteString("INSERT INTO articles (" + strings.Join(stageColumns, ", ") + ") VALUES ")
	args := make([]any, 0, 14*len(rows))
	now := time.Now()
	for i := range rows {
		a := &rows[i]
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteByte('(')
		for c := range 14 {
			if c > 0 {
				sb.WriteString(", ")
			}
			fmt.Fprintf(&sb, "$%d", 14*i+c+1)
		}
		sb.WriteByte(')')
		args = append(args, a.ID, a.Source, a.URL, a.Title, a.Body, a.Lang, a.PublishedAt, now, a.ContentHash[:],
			a.Summary, a.Category, int16(a.Importance), a.Model, int64(a.StreamSeq))
	}
	sb.WriteString(" ON CONFLICT (id) DO NOTHING")
	tag, err := pool.Exec(ctx, sb.String(), args...)
	return int(tag.RowsAffected()), err
}
