package console_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"newsflow/internal/console"
	"newsflow/internal/consumer"
	"newsflow/internal/deadletter"
	"newsflow/internal/natstest"
	"newsflow/internal/news"
	"newsflow/internal/store"
	"newsflow/internal/store/storetest"
	"newsflow/internal/stream"
	"newsflow/internal/telemetry"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fixture is a console over a real JetStream (a news stream and its
// dead-letter stream with three dead letters) and a real SQLite database
// holding two stories, one reposted.
type fixture struct {
	js      jetstream.JetStream
	news    string // news stream name; its subjects are news + ".>"
	dlqName string
	dlq     *deadletter.DLQ
	reg     *prometheus.Registry
	sampler *console.Sampler
	srv     *httptest.Server
	workers []console.Worker
	seqs    []uint64 // the dead letters' sequences
	pending prometheus.Gauge
}

func setup(t *testing.T, write bool) *fixture {
	t.Helper()
	return setupWith(t, write, time.Hour, false)
}

// setupSampling is setup with a sampler of the given interval, keeping 15
// minutes.
func setupSampling(t *testing.T, write bool, interval time.Duration) *fixture {
	t.Helper()
	return setupWith(t, write, interval, false)
}

// setupWith is setup with a sampler of the given interval, on Postgres
// (a schema of its own) instead of SQLite when postgres is set.
func setupWith(t *testing.T, write bool, interval time.Duration, postgres bool) *fixture {
	t.Helper()
	js, _ := natstest.JetStream(t)
	ns := natstest.Stream(t, js)
	f := &fixture{js: js, news: ns.CachedInfo().Config.Name}
	f.dlqName = f.news + "_DLQ"
	if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: f.dlqName, Subjects: []string{f.news + "-dlq.>"}}); err != nil {
		t.Fatal(err)
	}
	natstest.DeleteStreamOnCleanup(t, js, f.dlqName)
	f.dlq = deadletter.New(js, deadletter.Config{Stream: f.dlqName}, zaptest.NewLogger(t))
	var err error
	f.seqs = []uint64{
		f.deadLetter(t, f.news+".ingest.a", `{"id":"a1","source":"a","title":"Fixed story"}`, "store: data rejected (SQLSTATE 22021)"),
		f.deadLetter(t, f.news+".ingest.b", `{"id":"b2","title":"no source"}`, "invalid message: source: required"),
		f.deadLetter(t, f.news+".ingest.a", "not json <b>", "invalid message: not a JSON object"),
	}

	var db store.DB
	if postgres {
		db, err = store.OpenPostgres(t.Context(), storetest.PostgresDSN(t), store.PoolConfig{MaxConns: 2}, zaptest.NewLogger(t), nil)
	} else {
		db, err = store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "newsflow.db"), zaptest.NewLogger(t), nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	var rows []news.Article
	for i, m := range []news.Message{
		{ID: "x:1", Source: "wire", Title: "Harbour reopens after storm", Body: "Ships return.", PublishedAt: now.Add(-time.Hour)},
		{ID: "y:1", Source: "blog", Title: "Harbour reopens after storm", Body: "Ships return.", PublishedAt: now.Add(-time.Hour)},
		{ID: "z:1", Source: "wire", Title: "Election results certified", Body: "Final count.", PublishedAt: now.Add(-2 * time.Hour)},
	} {
		rows = append(rows, news.Article{Message: m, StreamSeq: uint64(i + 1), IngestedAt: now, ContentHash: m.ContentHash(),
			Enrichment: news.Enrichment{Summary: "s", Category: "world", Importance: 5 - i}})
	}
	if _, err := db.Commit(t.Context(), rows); err != nil {
		t.Fatal(err)
	}

	f.reg = prometheus.NewRegistry()
	processed := prometheus.NewCounter(prometheus.CounterOpts{Name: consumer.MetricProcessed, Help: "h"})
	pending := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: telemetry.MetricPending, Help: "h"}, []string{"consumer"})
	f.reg.MustRegister(processed, pending)
	processed.Add(40)
	pending.WithLabelValues("news-workers").Set(12)
	f.pending = pending.WithLabelValues("news-workers")
	if f.sampler, err = console.NewSampler(f.reg, interval, max(2*interval, console.DefaultWindow)); err != nil {
		t.Fatal(err)
	}
	if err := f.sampler.SampleNow(); err != nil {
		t.Fatal(err)
	}
	c, err := console.New(console.Config{Sampler: f.sampler, DLQ: f.dlq, Stories: db, Write: write, Subtitle: "stream " + f.news,
		Workers: func(context.Context) ([]console.Worker, error) { return f.workers, nil }}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(c)
	t.Cleanup(f.srv.Close)
	return f
}

// deadLetter writes a dead letter as internal/consumer does and returns its
// sequence.
func (f *fixture) deadLetter(t *testing.T, subject, payload, reason string) uint64 {
	t.Helper()
	m := nats.NewMsg(f.news + "-dlq." + subject)
	m.Data = []byte(payload)
	m.Header.Set(stream.HeaderError, reason)
	m.Header.Set(stream.HeaderStreamSeq, "7")
	m.Header.Set(stream.HeaderDeliveries, "1")
	m.Header.Set(stream.HeaderOriginalSubject, subject)
	ack, err := f.js.PublishMsg(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}

func (f *fixture) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := f.srv.Client().Get(f.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func getJSON[T any](t *testing.T, f *fixture, path string, wantCode int) T {
	t.Helper()
	code, body := f.get(t, path)
	var v T
	if code != wantCode {
		t.Fatalf("GET %s = %d %s, want %d", path, code, body, wantCode)
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, body)
	}
	return v
}

// post sends a form as a browser on the console's own page does, or with
// the headers of another origin when origin is set.
func (f *fixture) post(t *testing.T, path string, form url.Values, origin string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", f.srv.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if origin != "" {
		req.Header.Set("Origin", origin)
		req.Header.Set("Sec-Fetch-Site", "cross-site")
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (f *fixture) dlqSeqs(t *testing.T) []uint64 {
	t.Helper()
	es, err := f.dlq.List(t.Context(), deadletter.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var out []uint64
	for _, e := range es {
		out = append(out, e.Seq)
	}
	return out
}

func form(action string, seqs ...uint64) url.Values {
	v := url.Values{}
	if action != "" {
		v.Set("action", action)
	}
	for _, s := range seqs {
		v.Add("seq", strconv.FormatUint(s, 10))
	}
	return v
}

func TestConsole_OverviewAndSamples(t *testing.T) {
	t.Parallel()
	f := setup(t, false)
	code, body := f.get(t, "/")
	for _, want := range []string{"Throughput", `id="chart-lag_messages"`, `id="history"`, "12 msg", "40 msg since start", "read-only", "/static/console.js",
		`<p id="dlq-count">3 msg</p>`, `<span title="` + f.dlqName + `">the dead-letter stream</span>`} {
		if !strings.Contains(body, want) {
			t.Errorf("overview lacks %q", want)
		}
	}
	if code != 200 {
		t.Errorf("overview = %d", code)
	}
	s := getJSON[struct {
		IntervalSeconds float64          `json:"interval_seconds"`
		WindowSeconds   float64          `json:"window_seconds"`
		Samples         []map[string]any `json:"samples"`
	}](t, f, "/api/samples", 200)
	if s.IntervalSeconds != 3600 || s.WindowSeconds != 7200 || len(s.Samples) != 1 {
		t.Fatalf("samples = %+v, want interval 3600, window 7200 (two samples), one sample", s)
	}
	smp := s.Samples[0]
	for k, want := range map[string]any{"committed": 40.0, "lag_messages": 12.0, "has_lag": true, "breaker": "none", "redis": "none"} {
		if smp[k] != want {
			t.Errorf("sample %s = %v, want %v", k, smp[k], want)
		}
	}
	for _, k := range []string{"at", "committed_per_second", "lag_seconds", "drain_eta_seconds", "replicas_hint", "llm_calls", "llm_calls_saved", "cache_hits", "cache_misses", "dead_letters", "held"} {
		if _, ok := smp[k]; !ok {
			t.Errorf("sample lacks %s", k)
		}
	}
	if code, body := f.get(t, "/static/console.js"); code != 200 || !strings.Contains(body, "EventSource") {
		t.Errorf("console.js = %d", code)
	}
	if code, _ := f.get(t, "/nope"); code != 404 {
		t.Errorf("/nope = %d, want 404", code)
	}
}

// TestConsole_Events: the event stream carries each new sample.
func TestConsole_Events(t *testing.T) {
	t.Parallel()
	f := setup(t, false)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.srv.URL+"/api/events", nil)
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	r := bufio.NewReader(resp.Body)
	if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "retry: ") {
		t.Fatalf("first line %q, %v; want retry", line, err)
	}
	// The handler subscribes after flushing the retry line, so sample
	// until an event arrives.
	got := make(chan string, 1)
	go func() {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				close(got)
				return
			}
			if strings.HasPrefix(line, "data: ") {
				got <- line
				return
			}
		}
	}()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case line := <-got:
			var s console.Sample
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &s); err != nil || s.Committed != 40 || s.LagMessages != 12 {
				t.Fatalf("event %q (%v), want the sample", line, err)
			}
			return
		case <-tick.C:
			if err := f.sampler.SampleNow(); err != nil {
				t.Fatal(err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no event within 30 s")
		}
	}
}

func TestConsole_Workers(t *testing.T) {
	t.Parallel()
	f := setup(t, false)
	now := time.Now()
	f.workers = []console.Worker{
		{ID: "h1-1", Host: "h1", Version: "v1", Started: now.Add(-time.Hour), Heartbeat: now, MessagesPerSecond: 120, Held: 3, Breaker: "closed", Redis: "ok"},
		{ID: "h2-2", Host: "h2", Version: "v1", Started: now.Add(-time.Hour), Heartbeat: now.Add(-time.Minute)},
		{ID: "h3-3", Host: "h3", Version: "v1", Started: now.Add(-time.Hour), Heartbeat: now},
	}
	type body struct {
		Workers []struct {
			ID            string  `json:"id"`
			State         string  `json:"state"`
			UptimeSeconds float64 `json:"uptime_seconds"`
			Rate          float64 `json:"messages_per_second"`
		} `json:"workers"`
	}
	b := getJSON[body](t, f, "/api/workers", 200)
	got := map[string]string{}
	for _, w := range b.Workers {
		got[w.ID] = w.State
	}
	if len(b.Workers) != 3 || got["h1-1"] != "live" || got["h2-2"] != "gone" || got["h3-3"] != "live" || b.Workers[0].Rate != 120 {
		t.Fatalf("workers = %+v; want h1 live (rate 120), h2 gone (stale heartbeat), h3 live", b.Workers)
	}
	// h3 leaves the registry: still shown, as gone.
	f.workers = f.workers[:1]
	b = getJSON[body](t, f, "/api/workers", 200)
	got = map[string]string{}
	for _, w := range b.Workers {
		got[w.ID] = w.State
	}
	if got["h1-1"] != "live" || got["h3-3"] != "gone" {
		t.Fatalf("after h3 left: %+v, want h3 gone", b.Workers)
	}
	code, page := f.get(t, "/workers")
	if code != 200 || !strings.Contains(page, "h1-1") || !strings.Contains(page, "120 msg/s") || !strings.Contains(page, `class="state-gone"`) {
		t.Errorf("workers page = %d, want h1-1 at 120 msg/s and a gone worker", code)
	}
}

// TestConsole_Unavailable: a console without a registry, DLQ or database
// says so (503) instead of failing obscurely.
func TestConsole_Unavailable(t *testing.T) {
	t.Parallel()
	s, err := console.NewSampler(prometheus.NewRegistry(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	c, err := console.New(console.Config{Sampler: s}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c)
	defer srv.Close()
	for _, p := range []string{"/api/workers", "/api/dlq", "/api/dlq/1", "/api/stories", "/workers", "/dlq", "/stories"} {
		resp, err := srv.Client().Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 503 || !strings.Contains(string(b), "not available here") {
			t.Errorf("%s = %d %.200s, want 503 saying not available", p, resp.StatusCode, b)
		}
	}
	if _, err := console.New(console.Config{}, nil); err == nil {
		t.Error("New without a Sampler: no error")
	}
}

func TestConsole_DeadLettersRead(t *testing.T) {
	t.Parallel()
	f := setup(t, false)
	type list struct {
		Entries []deadletter.Entry `json:"entries"`
	}
	if l := getJSON[list](t, f, "/api/dlq", 200); len(l.Entries) != 3 || l.Entries[0].Seq != f.seqs[0] || l.Entries[0].MsgID != "a1" {
		t.Fatalf("dlq = %+v, want 3 entries, a1 first", l.Entries)
	}
	if l := getJSON[list](t, f, "/api/dlq?match=invalid", 200); len(l.Entries) != 2 {
		t.Errorf("match=invalid: %d entries, want 2", len(l.Entries))
	}
	if l := getJSON[list](t, f, "/api/dlq?subject="+f.news+".ingest.b", 200); len(l.Entries) != 1 || l.Entries[0].MsgID != "b2" {
		t.Errorf("subject filter: %+v, want b2", l.Entries)
	}
	if l := getJSON[list](t, f, "/api/dlq?match=nothing-matches", 200); l.Entries == nil || len(l.Entries) != 0 {
		t.Errorf("no match: %+v, want an empty list", l.Entries)
	}
	if e := getJSON[map[string]string](t, f, "/api/dlq?limit=x", 400); !strings.Contains(e["error"], "limit") {
		t.Errorf("limit=x: %v", e)
	}

	one := getJSON[struct {
		Seq     uint64              `json:"seq"`
		Error   string              `json:"error"`
		Headers map[string][]string `json:"headers"`
		Payload json.RawMessage     `json:"payload"`
		Text    string              `json:"payload_text"`
	}](t, f, "/api/dlq/"+strconv.FormatUint(f.seqs[0], 10), 200)
	if one.Seq != f.seqs[0] || !strings.Contains(one.Error, "22021") || one.Headers[stream.HeaderDeliveries][0] != "1" || !strings.Contains(string(one.Payload), `"a1"`) {
		t.Errorf("dlq show = %+v", one)
	}
	if e := getJSON[map[string]string](t, f, "/api/dlq/999999", 404); !strings.Contains(e["error"], "no such dead letter") {
		t.Errorf("missing seq: %v", e)
	}
	if e := getJSON[map[string]string](t, f, "/api/dlq/x", 400); !strings.Contains(e["error"], "not a dead-letter sequence") {
		t.Errorf("bad seq: %v", e)
	}

	code, page := f.get(t, "/dlq")
	if code != 200 || !strings.Contains(page, "3 dead letter(s)") || strings.Contains(page, `type="checkbox"`) || !strings.Contains(page, "--console-write") {
		t.Errorf("read-only dlq page = %d: want 3 rows, no checkboxes, the hint to enable writes", code)
	}
	code, page = f.get(t, "/dlq/"+strconv.FormatUint(f.seqs[2], 10))
	if code != 200 || !strings.Contains(page, "not json &lt;b&gt;") {
		t.Errorf("dlq show page = %d, want the payload escaped", code)
	}
	code, page = f.get(t, "/dlq/"+strconv.FormatUint(f.seqs[0], 10))
	if code != 200 || !strings.Contains(page, "&#34;source&#34;: &#34;a&#34;") {
		t.Errorf("dlq show page = %d, want the JSON payload indented", code)
	}
}

// TestConsole_WriteGuard: without Write every write is 403 and changes
// nothing; with Write, a cross-origin POST is 403 too, GET is not allowed,
// and an unconfirmed action is refused.
func TestConsole_WriteGuard(t *testing.T) {
	t.Parallel()
	ro := setup(t, false)
	for _, p := range []string{"/dlq/confirm", "/dlq/replay", "/dlq/purge"} {
		fm := form("replay", ro.seqs[0])
		fm.Set("confirm", "yes")
		if code, body := ro.post(t, p, fm, ""); code != 403 || !strings.Contains(body, "--console-write") {
			t.Errorf("read-only POST %s = %d, want 403 naming --console-write", p, code)
		}
	}
	if got := ro.dlqSeqs(t); len(got) != 3 {
		t.Fatalf("read-only console changed the DLQ: %v", got)
	}

	rw := setup(t, true)
	fm := form("purge", rw.seqs[0])
	fm.Set("confirm", "yes")
	if code, _ := rw.post(t, "/dlq/purge", fm, "http://evil.example"); code != 403 {
		t.Errorf("cross-origin POST = %d, want 403", code)
	}
	if code, _ := rw.get(t, "/dlq/purge"); code != 400 && code != 405 && code != 404 {
		// GET /dlq/{seq} answers: "purge" is not a sequence.
		t.Errorf("GET /dlq/purge = %d, want 400", code)
	}
	if code, body := rw.post(t, "/dlq/purge", form("", rw.seqs[0]), ""); code != 400 || !strings.Contains(body, "not confirmed") {
		t.Errorf("unconfirmed purge = %d, want 400 not confirmed", code)
	}
	if code, body := rw.post(t, "/dlq/confirm", form("replay"), ""); code != 400 || !strings.Contains(body, "no dead letter selected") {
		t.Errorf("empty selection = %d, want 400", code)
	}
	if code, _ := rw.post(t, "/dlq/confirm", form("explode", rw.seqs[0]), ""); code != 400 {
		t.Errorf("unknown action = %d, want 400", code)
	}
	if code, _ := rw.post(t, "/dlq/confirm", url.Values{"action": {"purge"}, "seq": {"0"}}, ""); code != 400 {
		t.Errorf("seq 0 = %d, want 400", code)
	}
	if got := rw.dlqSeqs(t); len(got) != 3 {
		t.Fatalf("refused writes changed the DLQ: %v", got)
	}
}

// TestConsole_ReplayAndPurge: the confirmation page lists the selection;
// confirming replays onto the original subject (the letter leaves the DLQ
// once stored) or purges.
func TestConsole_ReplayAndPurge(t *testing.T) {
	t.Parallel()
	f := setup(t, true)
	code, page := f.get(t, "/dlq")
	if code != 200 || !strings.Contains(page, `type="checkbox"`) || !strings.Contains(page, `id="replay"`) {
		t.Fatalf("writable dlq page = %d, want checkboxes and a replay button", code)
	}
	code, page = f.post(t, "/dlq/confirm", form("replay", f.seqs[0], 999999), "")
	if code != 200 || !strings.Contains(page, "1 dead letter(s) to replay") || !strings.Contains(page, "<code>a1</code>") || !strings.Contains(page, "Gone meanwhile: 999999") {
		t.Fatalf("confirm page = %d:\n%s", code, page)
	}
	if got := f.dlqSeqs(t); len(got) != 3 {
		t.Fatalf("the confirmation page changed the DLQ: %v", got)
	}
	fm := form("", f.seqs[0])
	fm.Set("confirm", "yes")
	code, page = f.post(t, "/dlq/replay", fm, "")
	if code != 200 || !strings.Contains(page, "Replayed 1 dead letter(s): "+strconv.FormatUint(f.seqs[0], 10)) {
		t.Fatalf("replay = %d:\n%s", code, page)
	}
	s, err := f.js.Stream(t.Context(), f.news)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetLastMsgForSubject(t.Context(), f.news+".ingest.a")
	if err != nil || !strings.Contains(string(m.Data), `"a1"`) {
		t.Fatalf("replayed message on %s.ingest.a: %v, %v", f.news, m, err)
	}
	fm = form("", f.seqs[1], f.seqs[2])
	fm.Set("confirm", "yes")
	if code, page := f.post(t, "/dlq/purge", fm, ""); code != 200 || !strings.Contains(page, "Purged 2 dead letter(s)") {
		t.Fatalf("purge = %d:\n%s", code, page)
	}
	if got := f.dlqSeqs(t); len(got) != 0 {
		t.Fatalf("DLQ after replay and purge: %v, want empty", got)
	}
	if _, err := f.dlq.Get(t.Context(), f.seqs[0]); !errors.Is(err, deadletter.ErrNotFound) {
		t.Errorf("replayed letter: %v, want not found", err)
	}
}

func TestConsole_Stories(t *testing.T) {
	t.Parallel()
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			testStories(t, setupWith(t, false, time.Hour, db == "postgres"))
		})
	}
}

func testStories(t *testing.T, f *fixture) {
	type body struct {
		Stories []struct {
			Rank    int      `json:"rank"`
			Title   string   `json:"title"`
			Sources []string `json:"sources"`
			Reposts int      `json:"reposts"`
		} `json:"stories"`
	}
	b := getJSON[body](t, f, "/api/stories?since=24h", 200)
	if len(b.Stories) != 2 || b.Stories[0].Title != "Harbour reopens after storm" || b.Stories[0].Reposts != 2 ||
		strings.Join(b.Stories[0].Sources, ",") != "blog,wire" {
		t.Fatalf("stories = %+v, want the harbour story first with 2 reposts from blog and wire", b.Stories)
	}
	if b := getJSON[body](t, f, "/api/stories?since=90m&n=5", 200); len(b.Stories) != 1 {
		t.Errorf("since=90m: %d stories, want 1", len(b.Stories))
	}
	if b := getJSON[body](t, f, "/api/stories?category=sports", 200); len(b.Stories) != 0 {
		t.Errorf("category=sports: %d stories, want 0", len(b.Stories))
	}
	for _, q := range []string{"since=yesterday", "since=-1h", "n=0", "n=x"} {
		if e := getJSON[map[string]string](t, f, "/api/stories?"+q, 400); e["error"] == "" {
			t.Errorf("%s: no error", q)
		}
	}
	code, page := f.get(t, "/stories")
	if code != 200 || !strings.Contains(page, "Harbour reopens after storm") || !strings.Contains(page, "blog, wire") {
		t.Errorf("stories page = %d", code)
	}
	if code, page := f.get(t, "/stories?since=nope"); code != 400 || !strings.Contains(page, "since: want a duration") {
		t.Errorf("stories page with a bad window = %d", code)
	}
}
