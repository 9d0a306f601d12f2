package worker_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"newsflow/internal/await"
	"newsflow/internal/batcher"
	"newsflow/internal/consumer"
	"newsflow/internal/gen"
	"newsflow/internal/natstest"
	"newsflow/internal/news"
	"newsflow/internal/store"
	"newsflow/internal/store/storetest"
	"newsflow/internal/stream"
	"newsflow/internal/worker"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/jackc/pgx/v5/pgxpool.(*Pool).backgroundHealthCheck"),
		goleak.IgnoreAnyFunction("github.com/nats-io/nats.go.(*Conn).doReconnect"),
		// expirable.LRU (the cache's memory tier) starts a cleanup goroutine it never stops (golang-lru v2.0.7).
		goleak.IgnoreAnyFunction("github.com/hashicorp/golang-lru/v2/expirable.NewLRU[...].func1"))
}

// bundle is one test's isolated world: its own stream, durable, subjects and
// Postgres schema.
type bundle struct {
	js      jetstream.JetStream
	nc      *nats.Conn
	name    string
	subject string
	cfg     consumer.Config
	dsn     string
	store   *store.Postgres
}

func setup(t *testing.T) *bundle { return setupB(t) }

// setupB is setup for tests and benchmarks.
func setupB(t testing.TB) *bundle {
	t.Helper()
	js, nc := natstest.JetStream(t)
	name := natstest.Name(t)
	b := &bundle{js: js, nc: nc, name: name, subject: strings.ToLower(name) + ".ingest.test"}
	b.cfg = consumer.Config{
		Stream:           stream.Config{Name: name, Subjects: []string{strings.ToLower(name) + ".>"}},
		Durable:          name,
		AckWait:          10 * time.Second,
		DLQStream:        name + "_DLQ",
		DLQSubjectPrefix: strings.ToLower(name) + "-dlq",
	}
	natstest.DeleteStreamOnCleanup(t, js, name)
	natstest.DeleteStreamOnCleanup(t, js, name+"_DLQ")
	ctx := t.Context()
	if _, _, err := stream.Ensure(ctx, js, b.cfg.Stream, false, nil); err != nil {
		t.Fatal(err)
	}
	b.dsn = storetest.PostgresDSN(t)
	u, _ := url.Parse(b.dsn)
	q := u.Query()
	q.Set("application_name", name)
	u.RawQuery = q.Encode()
	b.dsn = u.String()
	st, err := store.OpenPostgres(ctx, b.dsn, store.PoolConfig{MaxConns: 8}, zaptest.NewLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	b.store = st
	return b
}

// running is one worker running in a goroutine.
type running struct {
	w      *worker.Worker
	cons   *consumer.Consumer
	cancel context.CancelFunc
	done   chan error
}

// start runs a worker on the bundle's stream. st defaults to the bundle's
// store; cfg fields left zero take the pipeline's defaults.
func (b *bundle) start(t *testing.T, cfg worker.Config, st worker.Store) *running {
	t.Helper()
	if st == nil {
		st = b.store
	}
	ctx, cancel := context.WithCancel(context.Background())
	log := zaptest.NewLogger(t)
	cons, err := consumer.New(ctx, b.js, b.cfg, log, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	w, err := worker.New(cfg, cons, st, nil, nil, log, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	r := &running{w: w, cons: cons, cancel: cancel, done: make(chan error, 1)}
	go func() {
		r.done <- w.Run(ctx)
		cons.Close()
	}()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels the worker (SIGTERM) and waits for Run to return.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err, ok := <-r.done:
		if ok {
			close(r.done)
		}
		return err
	case <-time.After(60 * time.Second):
		t.Fatal("worker did not drain within 60s")
	}
	return nil
}

func (b *bundle) publish(t testing.TB, payload []byte, msgID string) {
	t.Helper()
	m := nats.NewMsg(b.subject)
	m.Data = payload
	if msgID != "" {
		m.Header.Set(jetstream.MsgIDHeader, msgID)
	}
	if _, err := b.js.PublishMsgAsync(m); err != nil {
		t.Fatal(err)
	}
}

func (b *bundle) flushPublishes(t testing.TB) {
	t.Helper()
	select {
	case <-b.js.PublishAsyncComplete():
	case <-time.After(60 * time.Second):
		t.Fatal("publishes not acknowledged within 60s")
	}
}

func encode(t testing.TB, m news.Message) []byte {
	t.Helper()
	p, err := m.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// eventually polls cond until it holds, failing after a deadline with the
// last state it reported.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	await.Until(t, timeout, what, cond)
}

// drained waits until the database has want rows and the consumer has
// nothing pending or unacked.
func (b *bundle) drained(t *testing.T, want int64, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, fmt.Sprintf("%d rows and an empty consumer", want), func() (bool, string) {
		n, err := b.store.Count(t.Context())
		if err != nil {
			return false, err.Error()
		}
		c, err := b.js.Consumer(t.Context(), b.name, b.name)
		if err != nil {
			return false, err.Error()
		}
		info, err := c.Info(t.Context())
		if err != nil {
			return false, err.Error()
		}
		return n == want && info.NumPending == 0 && info.NumAckPending == 0,
			fmt.Sprintf("rows %d, pending %d, ack pending %d", n, info.NumPending, info.NumAckPending)
	})
}

func (b *bundle) dlqCount(t *testing.T) uint64 {
	t.Helper()
	s, err := b.js.Stream(t.Context(), b.name+"_DLQ")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// TestWorker_TwoWorkersExactlyOnce: 2 workers × 20,000 messages, 15 % of
// them reposted stories and 5 % re-sent ids that reach the stream, give
// exactly one row per unique id and leave nothing pending.
func TestWorker_TwoWorkersExactlyOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const total = 20000
	g, err := gen.New(gen.Config{Seed: 7, DupContent: 0.15, BodyBytes: 1024, IDPrefix: b.name})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	var sent []news.Message
	for i := range total {
		var m news.Message
		if i%20 == 19 { // 5 %: an id sent before, with no Nats-Msg-Id, so JetStream keeps it
			m = sent[(i*7919)%len(sent)]
			b.publish(t, encode(t, m), "")
			continue
		}
		m = g.Next()
		sent = append(sent, m)
		ids[m.ID] = true
		b.publish(t, encode(t, m), m.ID)
	}
	b.flushPublishes(t)
	if st := g.Stats(); st.Reposts < total/10 {
		t.Fatalf("generator made %d reposts, want about 15 %%", st.Reposts)
	}
	w1 := b.start(t, worker.Config{}, nil)
	w2 := b.start(t, worker.Config{}, nil)
	b.drained(t, int64(len(ids)), 3*time.Minute)
	for _, r := range []*running{w1, w2} {
		if err := r.stop(t); err != nil {
			t.Fatalf("Run: %v", err)
		}
	}
	m1, m2 := w1.w.Totals().Messages.Load(), w2.w.Totals().Messages.Load()
	if m1 == 0 || m2 == 0 {
		t.Errorf("both workers must share the work: %d and %d messages", m1, m2)
	}
	if got := m1 + m2; got < total {
		t.Errorf("workers committed %d messages, want at least all %d", got, total)
	}
	var missing int
	rows := b.ids(t)
	for id := range ids {
		if !rows[id] {
			missing++
		}
	}
	if missing > 0 || len(rows) != len(ids) {
		t.Fatalf("%d ids missing, %d rows for %d unique ids", missing, len(rows), len(ids))
	}
}

// ids returns the ids in the articles table.
func (b *bundle) ids(t *testing.T) map[string]bool {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), b.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(t.Context()))
	rows, err := conn.Query(t.Context(), "SELECT id FROM articles")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		if out[id] {
			t.Fatalf("id %q stored twice", id)
		}
		out[id] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// poisonStore is the real store with one twist: a batch holding one of the
// poison ids fails as a data error would, so the pipeline must split it.
type poisonStore struct {
	worker.Store
	poison map[string]bool
}

func (p poisonStore) Commit(ctx context.Context, rows []news.Article) (int, error) {
	for _, r := range rows {
		if p.poison[r.ID] {
			return 0, &store.DataError{SQLState: "23514", Err: fmt.Errorf("check violated by %s", r.ID)}
		}
	}
	return p.Store.Commit(ctx, rows)
}

// TestWorker_PoisonMessages: undecodable messages and rows the database
// rejects are dead-lettered with their reasons; every valid message commits.
func TestWorker_PoisonMessages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bad := [][]byte{
		[]byte(`not json at all`),
		[]byte(`{"source":"s","title":"no id"}`),
		[]byte(`{"id":"x1","source":"s"}`),
	}
	poison := map[string]bool{"p:17": true, "p:58": true}
	for i := range 100 {
		m := news.Message{ID: fmt.Sprintf("p:%d", i), Source: "s", Title: fmt.Sprintf("story %d", i)}
		b.publish(t, encode(t, m), m.ID)
		if i%40 == 0 {
			b.publish(t, bad[i/40], "")
		}
	}
	b.flushPublishes(t)
	r := b.start(t, worker.Config{Batch: batcher.Config{MaxMessages: 50}}, poisonStore{b.store, poison})
	b.drained(t, 98, time.Minute)
	eventually(t, 30*time.Second, "5 dead letters", func() (bool, string) {
		n := b.dlqCount(t)
		return n == 5, fmt.Sprintf("%d dead letters", n)
	})
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	rows := b.ids(t)
	for id := range poison {
		if rows[id] {
			t.Errorf("poison row %s committed", id)
		}
	}
	// Every dead letter carries its reason; the poison rows name the database.
	s, err := b.js.Stream(t.Context(), b.name+"_DLQ")
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]int{}
	for seq := uint64(1); seq <= 5; seq++ {
		msg, err := s.GetMsg(t.Context(), seq)
		if err != nil {
			t.Fatal(err)
		}
		reason := msg.Header.Get(stream.HeaderError)
		switch {
		case strings.Contains(reason, "SQLSTATE 23514"):
			reasons["database"]++
		case strings.Contains(reason, "invalid message"):
			reasons["invalid"]++
		default:
			t.Errorf("dead letter %d has reason %q", seq, reason)
		}
	}
	if reasons["database"] != 2 || reasons["invalid"] != 3 {
		t.Fatalf("dead letter reasons %v, want 2 database and 3 invalid", reasons)
	}
	// The summary's count is every dead letter: 3 invalid and 2 poison.
	if got := r.w.Totals().DeadLettered.Load(); got != 5 {
		t.Fatalf("Totals().DeadLettered = %d, want 5 (3 invalid, 2 poison)", got)
	}
}

// TestWorker_ShutdownCommitsPartialBatch: SIGTERM while a batch is open (far
// from full, far from its deadline) commits and acks it, and Run returns nil.
func TestWorker_ShutdownCommitsPartialBatch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.start(t, worker.Config{Batch: batcher.Config{MaxMessages: 100, MaxWait: time.Hour}}, nil)
	for i := range 7 {
		m := news.Message{ID: fmt.Sprintf("s:%d", i), Source: "s", Title: "partial"}
		b.publish(t, encode(t, m), m.ID)
	}
	b.flushPublishes(t)
	eventually(t, 30*time.Second, "7 messages held unacked", func() (bool, string) {
		c, err := b.js.Consumer(t.Context(), b.name, b.name)
		if err != nil {
			return false, err.Error()
		}
		info, err := c.Info(t.Context())
		if err != nil {
			return false, err.Error()
		}
		// Delivered is not enough: the client may still buffer some that
		// the consumer has not handed to the batch, which shutdown hands back.
		held := r.cons.Held()
		return info.NumAckPending == 7 && info.NumPending == 0 && held == 7,
			fmt.Sprintf("ack pending %d, pending %d, handed out %d", info.NumAckPending, info.NumPending, held)
	})
	if n, _ := b.store.Count(t.Context()); n != 0 {
		t.Fatalf("%d rows before shutdown: the batch should still be open", n)
	}
	if err := r.stop(t); err != nil {
		t.Fatalf("Run after SIGTERM: %v", err)
	}
	b.drained(t, 7, 10*time.Second)
}

// TestWorker_PostgresConnectionLoss: the database's backends are terminated
// while batches commit; the pipeline retries and loses nothing.
func TestWorker_PostgresConnectionLoss(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const total = 3000
	r := b.start(t, worker.Config{Batch: batcher.Config{MaxMessages: 50}, RetryMin: 10 * time.Millisecond, RetryMax: 200 * time.Millisecond}, nil)

	admin, err := pgx.Connect(t.Context(), storetest.DatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.WithoutCancel(t.Context()))
	var wg sync.WaitGroup
	stopKill := make(chan struct{})
	killed := 0
	wg.Go(func() {
		for {
			select {
			case <-stopKill:
				return
			default:
			}
			var n int
			err := admin.QueryRow(context.Background(),
				"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1", b.name).Scan(&n)
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("terminate backends: %v", err)
				return
			}
			killed += n
			time.Sleep(30 * time.Millisecond) // pacing of the fault injection, not synchronisation
		}
	})
	for i := range total {
		m := news.Message{ID: fmt.Sprintf("c:%d", i), Source: "s", Title: fmt.Sprintf("story %d", i), Body: strings.Repeat("b", 500)}
		b.publish(t, encode(t, m), m.ID)
	}
	b.flushPublishes(t)
	eventually(t, time.Minute, "a commit retried after a lost connection", func() (bool, string) {
		n := r.w.Totals().Retried.Load()
		return n > 0, fmt.Sprintf("%d retries", n)
	})
	close(stopKill)
	wg.Wait()
	b.drained(t, total, 2*time.Minute)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	t.Logf("terminated %d backends; %d commits retried", killed, r.w.Totals().Retried.Load())
}
