package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"newsflow/internal/deadletter"
	"newsflow/internal/gen"
	"newsflow/internal/news"
	"newsflow/internal/telemetry"
	"newsflow/internal/workerproc"
)

// These tests cover issue 4 end to end: what an operator sees of a real
// worker process (metrics, readiness, dead letters, lag, top) matches what
// the worker did.

// TestE2E_MetricsMatchTheRun: after a run of valid messages (with content
// reposts and re-published ids) and invalid ones, the worker's /metrics
// counters equal what happened.
func TestE2E_MetricsMatchTheRun(t *testing.T) {
	t.Parallel()
	w := setup(t, "NEWSFLOW_BATCH_WAIT=200ms", "NEWSFLOW_LAG_INTERVAL=200ms")
	g, err := gen.New(gen.Config{Seed: 11, DupContent: 0.3, BodyBytes: 300, IDPrefix: w.name})
	if err != nil {
		t.Fatal(err)
	}
	const n = 600
	msgs := make([]news.Message, n)
	unique := map[news.Hash]bool{}
	for i := range msgs {
		msgs[i] = g.Next()
		unique[msgs[i].ContentHash()] = true
	}
	if len(unique) == n {
		t.Fatal("the generator made no reposts; the test proves nothing")
	}
	invalid := []string{
		`{"id":"%s:bad:0","title":"no source"}`,
		`{"id":"%s:bad:1","source":"e2e"}`,
		`{"id":"%s:bad:2","source":"e2e","title":"t","published_at":"yesterday"}`,
		`not JSON at all %s`,
	}

	p := w.start(t)
	addr := httpAddr(t, p)
	w.publish(t, msgs)
	w.publish(t, msgs[:25]) // same ids again: JetStream's duplicate window drops them
	for i, f := range invalid {
		w.publishRaw(t, fmt.Sprintf("%s:bad:%d", w.name, i), []byte(fmt.Sprintf(f, w.name)))
	}
	w.waitRows(t, n, true, time.Minute)

	var fams families
	eventually(t, 30*time.Second, "settled counters and a lag poll showing no backlog", func() (bool, string) {
		var err error
		if fams, err = scrape(addr); err != nil {
			return false, err.Error()
		}
		processed := fams.value("newsflow_messages_processed_total")
		dead := fams.value("newsflow_messages_dead_lettered_total", "reason", "invalid")
		pending, ok := fams.lookup("newsflow_consumer_pending_messages")
		ackPending := fams.value("newsflow_consumer_ack_pending_messages")
		return processed == n && dead == float64(len(invalid)) && ok && pending == 0 && ackPending == 0,
			fmt.Sprintf("processed %v, dead-lettered %v, pending gauge %v (present %v), ack pending %v", processed, dead, pending, ok, ackPending)
	})

	check := func(what string, got, want float64) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	check("newsflow_messages_fetched_total", fams.value("newsflow_messages_fetched_total"), float64(n+len(invalid)))
	check("newsflow_messages_failed_total", fams.value("newsflow_messages_failed_total"), 0)
	check(`newsflow_messages_dead_lettered_total{reason="poison"}`, fams.value("newsflow_messages_dead_lettered_total", "reason", "poison"), 0)
	check(`newsflow_messages_dead_lettered_total{reason="retries"}`, fams.value("newsflow_messages_dead_lettered_total", "reason", "retries"), 0)
	check("newsflow_messages_held", fams.value("newsflow_messages_held"), 0)
	check("newsflow_db_rows_inserted_total", fams.value("newsflow_db_rows_inserted_total"), n)
	check("newsflow_db_rows_duplicate_total", fams.value("newsflow_db_rows_duplicate_total"), 0)

	// Batches: every flush is one observation of the size histogram, and the
	// sizes add up to the valid messages (invalid ones never reach a batch).
	flushes := fams.value("newsflow_batch_flushes_total")
	count, sum := fams.histogram("newsflow_batch_size")
	check("sum of newsflow_batch_flushes_total", flushes, float64(count))
	check("newsflow_batch_size_sum", sum, n)
	if minBatches := float64((n + 99) / 100); flushes < minBatches {
		t.Errorf("%v flushes for %d messages of at most 100 per batch", flushes, n)
	}
	commits, _ := fams.histogram("newsflow_batch_commit_seconds")
	check("newsflow_batch_commit_seconds_count", float64(commits), flushes)

	// LLM (offline provider, in-process cache): one call per unique story;
	// every other message was saved by batch dedupe, the cache or
	// single-flight.
	u := float64(len(unique))
	check(`newsflow_llm_calls_total{outcome="ok"}`, fams.value("newsflow_llm_calls_total", "outcome", "ok"), u)
	check(`newsflow_llm_calls_total{outcome="error"}`, fams.value("newsflow_llm_calls_total", "outcome", "error"), 0)
	check(`newsflow_llm_calls_total{outcome="retry"}`, fams.value("newsflow_llm_calls_total", "outcome", "retry"), 0)
	check(`newsflow_enrich_stories_total{result="computed"}`, fams.value("newsflow_enrich_stories_total", "result", "computed"), u)
	check(`newsflow_enrich_stories_total{result="failed"}`, fams.value("newsflow_enrich_stories_total", "result", "failed"), 0)
	check("newsflow_llm_calls_total + newsflow_llm_calls_saved_total",
		fams.value("newsflow_llm_calls_total", "outcome", "ok")+fams.value("newsflow_llm_calls_saved_total"), n)
	check(`newsflow_enrich_stories_total (all results) + newsflow_llm_calls_saved_total{by="batch"}`,
		fams.value("newsflow_enrich_stories_total")+fams.value("newsflow_llm_calls_saved_total", "by", "batch"), n)
	if calls, _ := fams.histogram("newsflow_llm_call_seconds"); float64(calls) != u {
		t.Errorf("newsflow_llm_call_seconds_count = %d, want %v", calls, u)
	}
	check("newsflow_oldest_unacked_age_seconds", fams.value("newsflow_oldest_unacked_age_seconds"), 0)
	// The cache: one miss per story found in no tier, which is one per
	// computation here (one process, in-process cache).
	check("newsflow_cache_misses_total", fams.value("newsflow_cache_misses_total"), fams.value("newsflow_cache_computes_total"))
	check("newsflow_cache_computes_total", fams.value("newsflow_cache_computes_total"), u)
	for _, name := range []string{"newsflow_db_pool_max_conns", "go_goroutines", "process_resident_memory_bytes"} {
		if _, ok := fams.lookup(name); !ok {
			t.Errorf("%s missing from /metrics", name)
		}
	}
	if _, ok := fams.lookup("newsflow_build_info", "version", ""); ok {
		t.Errorf("newsflow_build_info has an empty version")
	}
	if v, ok := fams.lookup("newsflow_build_info"); !ok || v != 1 {
		t.Errorf("newsflow_build_info = %v (present %v), want 1", v, ok)
	}

	// The summary line counts the dead letters the metric counts.
	res, err := p.Stop(30 * time.Second)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("worker stop: %+v, %v", res, err)
	}
	if got := res.Summary["dead_lettered"]; got != float64(len(invalid)) {
		t.Errorf("worker summary dead_lettered = %v, want %d (the invalid messages)", got, len(invalid))
	}
}

// TestE2E_ReadyzFollowsPostgres: /readyz is 503 with the database down while
// Postgres is unreachable (/healthz stays 200) and 200 again once it is back;
// the messages published during the outage are held, not redelivered or
// dead-lettered, and committed after it by the worker on its own.
func TestE2E_ReadyzFollowsPostgres(t *testing.T) {
	t.Parallel()
	const ackWait = 3 * time.Second
	w := setup(t, "NEWSFLOW_ACK_WAIT="+ackWait.String(), "NEWSFLOW_BATCH_WAIT=200ms", "NEWSFLOW_COMMIT_TIMEOUT=1s")
	dsn, err := url.Parse(w.getenv("DATABASE_URL"))
	if err != nil || dsn.Host == "" {
		t.Skipf("the test database URL is not in URL form (%v); cannot route it through a proxy", err)
	}
	proxy := startProxy(t, dsn.Host)
	dsn.Host = proxy.Addr() // the query keeps the test's search_path
	w.env = append(w.env, "DATABASE_URL="+dsn.String())

	msgs := make([]news.Message, 350)
	for i := range msgs {
		msgs[i] = news.Message{ID: fmt.Sprintf("%s:%d", w.name, i), Source: "e2e", Title: fmt.Sprintf("Outage story %d", i),
			Body: "Body of a story published around a database outage."}
	}
	before, during := msgs[:100], msgs[100:]

	p := w.start(t)
	addr := httpAddr(t, p)
	w.publish(t, before)
	w.waitRows(t, int64(len(before)), true, 30*time.Second)
	if code, rep := readyz(t, addr); code != http.StatusOK || rep.Checks["database"].Status != telemetry.StatusOK {
		t.Fatalf("before the outage: /readyz %d %+v, want 200 and the database ok", code, rep)
	}

	proxy.Cut()
	eventually(t, 15*time.Second, "/readyz 503 with the database down", func() (bool, string) {
		code, rep := readyz(t, addr)
		return code == http.StatusServiceUnavailable && rep.Checks["database"].Status == telemetry.StatusDown,
			fmt.Sprintf("%d %+v", code, rep)
	})
	code, rep := readyz(t, addr)
	if detail := rep.Checks["database"].Detail; rep.Ready || detail == "" || strings.Contains(detail, dsn.RawQuery) ||
		rep.Checks["nats"].Status != telemetry.StatusOK {
		t.Errorf("during the outage: /readyz %d %+v, want not ready, a database detail without the DSN, NATS ok", code, rep)
	}
	if code, body := get(t, "http://"+addr+"/healthz"); code != http.StatusOK {
		t.Errorf("during the outage: /healthz %d %s, want 200: the process is alive", code, body)
	}

	// Messages arriving during the outage are held past AckWait: kept alive
	// with in-progress acks, never redelivered.
	w.publish(t, during)
	heldSince := time.Now()
	eventually(t, 20*time.Second, "the outage's messages held past AckWait, commits retried", func() (bool, string) {
		fams, err := scrape(addr)
		if err != nil {
			return false, err.Error()
		}
		info, err := w.consumerInfo(t)
		if err != nil {
			return false, err.Error()
		}
		held, retries := fams.value("newsflow_messages_held"), fams.value("newsflow_batch_commit_retries_total")
		inProgress := fams.value("newsflow_messages_in_progress_total")
		return held == float64(len(during)) && retries > 0 && inProgress > 0 && time.Since(heldSince) > ackWait+time.Second,
			fmt.Sprintf("held %v, commit retries %v, in-progress acks %v, ack pending %d, redelivered %d, after %s",
				held, retries, inProgress, info.NumAckPending, info.NumRedelivered, time.Since(heldSince).Round(time.Millisecond))
	})
	if info, err := w.consumerInfo(t); err != nil || info.NumRedelivered != 0 || info.NumAckPending != len(during) {
		t.Fatalf("during the outage: consumer %+v (%v), want %d ack pending and none redelivered", info, err, len(during))
	}
	if n, err := w.store.Count(t.Context()); err != nil || n != int64(len(before)) {
		t.Fatalf("during the outage the database has %d rows (%v), want %d", n, err, len(before))
	}

	proxy.Restore()
	eventually(t, 15*time.Second, "/readyz 200 again", func() (bool, string) {
		code, rep := readyz(t, addr)
		return code == http.StatusOK && rep.Ready, fmt.Sprintf("%d %+v", code, rep)
	})
	w.waitRows(t, int64(len(msgs)), true, 30*time.Second)
	fams, err := scrape(addr)
	if err != nil {
		t.Fatal(err)
	}
	if dead, failed := fams.value("newsflow_messages_dead_lettered_total"), fams.value("newsflow_messages_failed_total"); dead != 0 || failed != 0 {
		t.Errorf("after the outage: %v dead-lettered, %v naked; want none", dead, failed)
	}
	if got := fams.value("newsflow_messages_processed_total"); got != float64(len(msgs)) {
		t.Errorf("newsflow_messages_processed_total = %v, want %d", got, len(msgs))
	}
	if n := w.dlqLen(t); n != 0 {
		t.Errorf("%d messages in the dead-letter stream, want 0", n)
	}
}

// TestE2E_DeadLetterRoundTrip: a message the worker rejects for its
// configuration (too large) is dead-lettered with its reason; after the
// worker restarts with a larger limit, `worker dlq replay --all` sends it
// back, it is committed, and the dead-letter stream is empty.
func TestE2E_DeadLetterRoundTrip(t *testing.T) {
	t.Parallel()
	w := setup(t, "NEWSFLOW_BATCH_WAIT=200ms", "NEWSFLOW_MAX_MESSAGE_BYTES=2000")
	small := news.Message{ID: w.name + ":small", Source: "e2e", Title: "A story that fits"}
	big := news.Message{ID: w.name + ":big", Source: "e2e", Title: "A long story",
		Body: strings.Repeat("A sentence that makes this story longer than the limit. ", 55)}
	if b, _ := big.MarshalJSON(); len(b) < 3000 {
		t.Fatalf("the big message is %d bytes; want ≥ 3000", len(b))
	}

	p := w.start(t)
	w.publish(t, []news.Message{small, big})
	w.waitRows(t, 1, true, 30*time.Second)
	var entries []deadletter.Entry
	eventually(t, 15*time.Second, "one dead letter listed", func() (bool, string) {
		out, errOut, code := w.cli(t, "dlq", "list", "--json")
		if code != 0 {
			return false, fmt.Sprintf("exit %d: %s", code, errOut)
		}
		entries = decodeLines[deadletter.Entry](t, out)
		return len(entries) == 1, out
	})
	e := entries[0]
	if e.MsgID != big.ID || e.OriginalSubject != w.subject || e.Deliveries != 1 || !strings.Contains(e.Error, "exceeds limit 2000") {
		t.Fatalf("dead letter %+v, want id %s, subject %s, 1 delivery and a size error", e, big.ID, w.subject)
	}
	if res, err := p.Stop(30 * time.Second); err != nil || res.ExitCode != 0 {
		t.Fatalf("worker stop: %+v, %v", res, err)
	}

	// Nothing selected: a usage error, and the letter stays.
	if _, errOut, code := w.cli(t, "dlq", "replay"); code == 0 || !strings.Contains(errOut, "--all") {
		t.Errorf("dlq replay without a selection: exit %d, stderr %q; want a failure naming the selectors", code, errOut)
	}

	w.env = append(w.env, "NEWSFLOW_MAX_MESSAGE_BYTES=65536") // the fix: a limit that fits
	w.start(t)
	out, errOut, code := w.cli(t, "dlq", "replay", "--all", "--json")
	if code != 0 {
		t.Fatalf("dlq replay --all: exit %d, stderr %s", code, errOut)
	}
	var res deadletter.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("dlq replay --all --json printed %q: %v", out, err)
	}
	if !slices.Equal(res.Done, []uint64{e.Seq}) || len(res.Failed) != 0 || len(res.Duplicates) != 0 {
		t.Fatalf("dlq replay result %+v, want done [%d]", res, e.Seq)
	}
	w.waitRows(t, 2, true, 30*time.Second)

	if out, errOut, code := w.cli(t, "dlq", "list", "--json"); code != 0 || out != "" {
		t.Errorf("dlq list --json after the replay: exit %d, stdout %q, stderr %s; want no entries", code, out, errOut)
	}
	if out, _, code := w.cli(t, "dlq", "list"); code != 0 || !strings.Contains(out, "0 dead letter(s)") {
		t.Errorf("dlq list after the replay: exit %d, stdout %q", code, out)
	}
	if n := w.dlqLen(t); n != 0 {
		t.Errorf("%d messages in the dead-letter stream, want 0", n)
	}
}

// TestE2E_LagCommand: `worker lag --json` reports a backlog published while
// no worker runs (pending and age), and none once a worker drained it.
func TestE2E_LagCommand(t *testing.T) {
	t.Parallel()
	w := setup(t, "NEWSFLOW_BATCH_WAIT=200ms")
	// A first worker creates the stream and the durable consumer, then stops.
	if res, err := w.start(t).Stop(30 * time.Second); err != nil || res.ExitCode != 0 {
		t.Fatalf("worker stop: %+v, %v", res, err)
	}
	g, err := gen.New(gen.Config{Seed: 5, BodyBytes: 200, IDPrefix: w.name})
	if err != nil {
		t.Fatal(err)
	}
	const n = 500
	msgs := make([]news.Message, n)
	for i := range msgs {
		msgs[i] = g.Next()
	}
	w.publish(t, msgs)

	lag := func() telemetry.Lag {
		t.Helper()
		out, errOut, code := w.cli(t, "lag", "--json", "--interval=200ms")
		if code != 0 {
			t.Fatalf("worker lag --json: exit %d, stderr %s", code, errOut)
		}
		lags := decodeLines[telemetry.Lag](t, out)
		if len(lags) != 1 || lags[0].Stream != w.name || lags[0].Consumer != w.name {
			t.Fatalf("worker lag --json printed %q; want one line for %s/%s", out, w.name, w.name)
		}
		return lags[0]
	}
	l := lag()
	if l.NumPending != n || l.NumAckPending != 0 || l.NumRedelivered != 0 || l.OldestUnackedAgeSeconds <= 0 ||
		l.AckFloor != 0 || l.DrainETASeconds != -1 || l.ReplicasHint < 1 {
		t.Errorf("with no worker: %+v; want %d pending, none ack pending, age > 0, ack floor 0, no ETA (-1), hint ≥ 1", l, n)
	}

	w.start(t)
	w.waitRows(t, n, true, time.Minute)
	l = lag()
	if l.NumPending != 0 || l.NumAckPending != 0 || l.OldestUnackedAgeSeconds != 0 || l.AckFloor != n || l.DrainETASeconds != 0 {
		t.Errorf("after the drain: %+v; want nothing pending, age 0, ack floor %d, ETA 0", l, n)
	}
}

// TestE2E_TopCommand: `worker top --json` on the database a worker filled
// returns one row per story, reposts collapsed with their count and sources,
// by importance descending.
func TestE2E_TopCommand(t *testing.T) {
	t.Parallel()
	w := setup(t, "NEWSFLOW_BATCH_WAIT=200ms")
	g, err := gen.New(gen.Config{Seed: 7, DupContent: 0.35, BodyBytes: 200, IDPrefix: w.name})
	if err != nil {
		t.Fatal(err)
	}
	const n = 400
	msgs := make([]news.Message, n)
	type story struct {
		reposts int
		sources []string
	}
	want := map[string]*story{}
	for i := range msgs {
		msgs[i] = g.Next()
		h := msgs[i].ContentHash().String()
		s := want[h]
		if s == nil {
			s = &story{}
			want[h] = s
		}
		s.reposts++
		if !slices.Contains(s.sources, msgs[i].Source) {
			s.sources = append(s.sources, msgs[i].Source)
		}
	}
	w.start(t)
	w.publish(t, msgs)
	w.waitRows(t, n, true, time.Minute)

	type row struct {
		Rank        int      `json:"rank"`
		Importance  int      `json:"importance"`
		Reposts     int      `json:"reposts"`
		Sources     []string `json:"sources"`
		Title       string   `json:"title"`
		Summary     string   `json:"summary"`
		ContentHash string   `json:"content_hash"`
	}
	top := func(limit int) []row {
		t.Helper()
		out, errOut, code := w.cli(t, "top", "--json", fmt.Sprintf("-n=%d", limit))
		if code != 0 {
			t.Fatalf("worker top --json: exit %d, stderr %s", code, errOut)
		}
		return decodeLines[row](t, out)
	}
	rows := top(len(want) + 10)
	if len(rows) != len(want) {
		t.Fatalf("%d rows for %d unique stories", len(rows), len(want))
	}
	maxReposts := 0
	for i, r := range rows {
		s := want[r.ContentHash]
		switch {
		case s == nil:
			t.Fatalf("row %d: unknown story %s", i+1, r.ContentHash)
		case r.Rank != i+1:
			t.Errorf("row %d has rank %d", i+1, r.Rank)
		case i > 0 && r.Importance > rows[i-1].Importance:
			t.Errorf("row %d (importance %d) after row %d (importance %d): not by importance descending", i+1, r.Importance, i, rows[i-1].Importance)
		case r.Reposts != s.reposts:
			t.Errorf("row %d (%q): %d reposts, want %d", i+1, r.Title, r.Reposts, s.reposts)
		case !slices.Equal(r.Sources, slices.Sorted(slices.Values(s.sources))):
			t.Errorf("row %d (%q): sources %q, want %q", i+1, r.Title, r.Sources, s.sources)
		case r.Summary == "" || r.Importance < 1:
			t.Errorf("row %d (%q) not enriched: importance %d, summary %q", i+1, r.Title, r.Importance, r.Summary)
		}
		maxReposts = max(maxReposts, r.Reposts)
	}
	if maxReposts < 2 {
		t.Errorf("no story has more than one repost; want reposts collapsed")
	}
	if first := top(3); !slices.EqualFunc(first, rows[:3], func(a, b row) bool { return a.ContentHash == b.ContentHash }) {
		t.Errorf("top -n=3 gave %v, want the first 3 of the full list", first)
	}
}

// cli runs the worker binary with args and the world's environment, and
// returns its standard output, standard error and exit status.
func (w *world) cli(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runBinary(t, workerBin, w.env, args...)
}

// runBinary runs bin with args in a minimal environment plus env, and
// returns its standard output, standard error and exit status.
func runBinary(t *testing.T, bin string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "NEWSFLOW_LOG_LEVEL=warn"}, env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ctx.Err() == nil:
		code = ee.ExitCode()
	default:
		t.Fatalf("%s %s: %v; stderr:\n%s", bin, strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), errOut.String(), code
}

// getenv returns the value the world's environment gives key (the last one
// wins, as for exec.Cmd).
func (w *world) getenv(key string) string {
	v := ""
	for _, kv := range w.env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val
		}
	}
	return v
}

// publishRaw publishes data as is, with Nats-Msg-Id id, and waits for the
// PubAck.
func (w *world) publishRaw(t *testing.T, id string, data []byte) {
	t.Helper()
	m := nats.NewMsg(w.subject)
	m.Data = data
	m.Header.Set(jetstream.MsgIDHeader, id)
	if _, err := w.js.PublishMsg(t.Context(), m); err != nil {
		t.Fatal(err)
	}
}

// dlqLen returns the number of messages in the world's dead-letter stream.
func (w *world) dlqLen(t *testing.T) uint64 {
	t.Helper()
	s, err := w.js.Stream(t.Context(), w.name+"_DLQ")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// decodeLines decodes one JSON object per line.
func decodeLines[T any](t *testing.T, out string) []T {
	t.Helper()
	var vs []T
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		vs = append(vs, v)
	}
	return vs
}

// httpAddr returns the address the worker's HTTP server bound, as its start
// line logs it. Binding port 0 and reading it back leaves no window in which
// another process could take a port picked in advance.
func httpAddr(t *testing.T, p *workerproc.Proc) string {
	t.Helper()
	for _, line := range strings.Split(p.Log(), "\n") {
		if !strings.Contains(line, `"worker start"`) {
			continue
		}
		var start struct {
			HTTPAddr string `json:"http_addr"`
		}
		if err := json.Unmarshal([]byte(line), &start); err == nil && start.HTTPAddr != "" {
			return start.HTTPAddr
		}
	}
	t.Fatalf("no http_addr in the worker's start line; log:\n%s", tail(p.Log(), 20))
	return ""
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

func get(t *testing.T, u string) (int, []byte) {
	t.Helper()
	resp, err := httpClient.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	return resp.StatusCode, body
}

func readyz(t *testing.T, addr string) (int, telemetry.Readiness) {
	t.Helper()
	code, body := get(t, "http://"+addr+"/readyz")
	var rep telemetry.Readiness
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatalf("/readyz %d body %q: %v", code, body, err)
	}
	return code, rep
}

// families is one scrape of /metrics.
type families map[string]*dto.MetricFamily

func scrape(addr string) (families, error) {
	resp, err := httpClient.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	return parser.TextToMetricFamilies(resp.Body)
}

// lookup sums the counter, gauge or untyped samples of name whose labels
// include the given name-value pairs; ok is false when none matches.
func (f families) lookup(name string, labels ...string) (v float64, ok bool) {
	mf := f[name]
	if mf == nil {
		return 0, false
	}
	for _, m := range mf.GetMetric() {
		if !hasLabels(m, labels) {
			continue
		}
		switch {
		case m.Counter != nil:
			v += m.Counter.GetValue()
		case m.Gauge != nil:
			v += m.Gauge.GetValue()
		case m.Untyped != nil:
			v += m.Untyped.GetValue()
		default:
			continue
		}
		ok = true
	}
	return v, ok
}

// value is lookup without the ok.
func (f families) value(name string, labels ...string) float64 {
	v, _ := f.lookup(name, labels...)
	return v
}

// histogram returns the sample count and sum of the histogram name, summed
// over its label values.
func (f families) histogram(name string) (count uint64, sum float64) {
	for _, m := range f[name].GetMetric() {
		count += m.GetHistogram().GetSampleCount()
		sum += m.GetHistogram().GetSampleSum()
	}
	return count, sum
}

func hasLabels(m *dto.Metric, pairs []string) bool {
	for i := 0; i+1 < len(pairs); i += 2 {
		found := false
		for _, lp := range m.GetLabel() {
			if lp.GetName() == pairs[i] && lp.GetValue() == pairs[i+1] {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// proxy forwards TCP connections to a target until it is cut: Cut closes
// every open connection and refuses new ones until Restore.
type proxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		_ = ln.Close()
		p.Cut()
		p.wg.Wait()
	})
	return p
}

// Addr is the proxy's host:port.
func (p *proxy) Addr() string { return p.ln.Addr().String() }

// Cut closes every proxied connection and refuses new ones.
func (p *proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		_ = c.Close()
	}
	clear(p.conns)
}

// Restore accepts and forwards connections again.
func (p *proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
}

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.forward(c)
	}
}

// track registers conns for Cut, or reports false when the proxy is cut.
func (p *proxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *proxy) untrack(conns ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		delete(p.conns, c)
	}
}

func (p *proxy) forward(c net.Conn) {
	defer p.wg.Done()
	if !p.track(c) {
		_ = c.Close()
		return
	}
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		p.untrack(c)
		_ = c.Close()
		return
	}
	if !p.track(up) { // cut while dialling
		_ = up.Close()
		p.untrack(c)
		_ = c.Close()
		return
	}
	closeBoth := func() {
		_ = c.Close()
		_ = up.Close()
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		_, _ = io.Copy(up, c)
		closeBoth()
	}()
	_, _ = io.Copy(c, up)
	closeBoth()
	p.untrack(c, up)
}
