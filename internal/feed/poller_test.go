package feed

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap/zaptest"

	"newsflow/internal/natstest"
	"newsflow/internal/news"
	"newsflow/internal/publish"
)

// bundle is one test's isolated corner: a stream, a KV bucket, a feed server.
type bundle struct {
	js     jetstream.JetStream
	nc     *nats.Conn
	stream jetstream.Stream
	prefix string // the stream's subject prefix
	bucket string
	store  *Store
	feeds  *feedServer
}

func setup(t *testing.T) *bundle {
	t.Helper()
	js, nc := natstest.JetStream(t)
	s := natstest.Stream(t, js)
	name := s.CachedInfo().Config.Name
	b := &bundle{js: js, nc: nc, stream: s, prefix: name, bucket: name, feeds: newFeedServer(t)}
	var err error
	if b.store, err = OpenStore(t.Context(), js, b.bucket); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = js.DeleteKeyValue(ctx, b.bucket)
	})
	return b
}

// poller returns a Poller named replica over srcs, fetching with a
// header naming the replica so the feed server can tell who fetched.
func (b *bundle) poller(t *testing.T, replica string, cfg Config, srcs []Source) *Poller {
	t.Helper()
	cfg.Replica = replica
	pub, err := NewEnginePublisher(t.Context(), b.nc, publish.DefaultConfig(), func(source string) string {
		return b.prefix + "." + strings.NewReplacer(".", "_", ":", "_").Replace(source)
	}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pub.Close() })
	f := NewFetcher(DefaultMaxFeedBytes, time.Minute, replicaHeader{replica, http.DefaultTransport})
	p, err := New(cfg, srcs, b.store, f, pub, prometheus.NewRegistry(), zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type replicaHeader struct {
	name string
	rt   http.RoundTripper
}

func (r replicaHeader) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("X-Test-Replica", r.name)
	return r.rt.RoundTrip(req)
}

// streamIDs returns the Nats-Msg-Id of every message in the stream, with counts.
func (b *bundle) streamIDs(t *testing.T) map[string]int {
	t.Helper()
	ctx := t.Context()
	info, err := b.stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int{}
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := b.stream.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("get msg %d: %v", seq, err)
		}
		msg, err := news.Decode(m.Data)
		if err != nil {
			t.Fatalf("stream message %d is not a valid news message: %v", seq, err)
		}
		if h := m.Header.Get(jetstream.MsgIDHeader); h != msg.ID {
			t.Errorf("message %d: Nats-Msg-Id %q, id %q", seq, h, msg.ID)
		}
		ids[msg.ID]++
	}
	return ids
}

// fetchRecord is one request the feed server answered.
type fetchRecord struct {
	replica string
	at      time.Time
	inm     string // If-None-Match sent
	status  int
}

// feedServer serves generated RSS feeds at /f/<name>: n items each, an
// ETag per version, 304 to a matching If-None-Match; a status set for a
// feed is answered instead.
type feedServer struct {
	*httptest.Server
	mu      sync.Mutex
	items   map[string]int
	status  map[string]int
	block   map[string]chan struct{}
	fetches map[string][]fetchRecord
	arrived chan string
	busy    int // requests being answered
	maxBusy int
}

func newFeedServer(t *testing.T) *feedServer {
	fs := &feedServer{items: map[string]int{}, status: map[string]int{}, block: map[string]chan struct{}{},
		fetches: map[string][]fetchRecord{}, arrived: make(chan string, 1000)}
	fs.Server = httptest.NewServer(http.HandlerFunc(fs.serve))
	t.Cleanup(fs.Close)
	return fs
}

func (fs *feedServer) serve(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/f/")
	fs.mu.Lock()
	n, status, block := fs.items[name], fs.status[name], fs.block[name]
	etag := fmt.Sprintf(`"%s-%d"`, name, n)
	rec := fetchRecord{replica: r.Header.Get("X-Test-Replica"), at: time.Now(), inm: r.Header.Get("If-None-Match")}
	switch {
	case status != 0:
		rec.status = status
	case rec.inm == etag:
		rec.status = http.StatusNotModified
	default:
		rec.status = http.StatusOK
	}
	fs.fetches[name] = append(fs.fetches[name], rec)
	fs.busy++
	fs.maxBusy = max(fs.maxBusy, fs.busy)
	fs.mu.Unlock()
	defer func() {
		fs.mu.Lock()
		fs.busy--
		fs.mu.Unlock()
	}()
	select {
	case fs.arrived <- name:
	default:
	}
	if block != nil {
		select {
		case <-block:
		case <-r.Context().Done():
			return
		}
	}
	switch rec.status {
	case http.StatusOK:
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(rec.status)
		return
	default:
		w.WriteHeader(rec.status)
		return
	}
	w.Header().Set("ETag", etag)
	w.Header().Set("Content-Type", "application/rss+xml")
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0"?><rss version="2.0"><channel><title>%s</title><language>en</language>`, name)
	for i := n; i >= 1; i-- {
		fmt.Fprintf(&b, `<item><title>%s story %d</title><guid>%s-%d</guid><description>&lt;p&gt;Body %d of %s.&lt;/p&gt;</description><pubDate>Tue, 01 Dec 2026 08:%02d:00 GMT</pubDate></item>`,
			name, i, name, i, i, name, i%60)
	}
	b.WriteString(`</channel></rss>`)
	_, _ = w.Write([]byte(b.String()))
}

func (fs *feedServer) set(name string, items, status int) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.items[name], fs.status[name] = items, status
}

func (fs *feedServer) records(name string) []fetchRecord {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return append([]fetchRecord(nil), fs.fetches[name]...)
}

func (fs *feedServer) source(name string) Source {
	return Source{URL: fs.URL + "/f/" + name, Name: "src-" + name}
}

func testConfig() Config {
	c := DefaultConfig()
	c.MinInterval, c.MaxInterval, c.MaxBackoff = time.Hour, 2*time.Hour, 6*time.Hour
	// Renewals every 2 s leave 4 s of slack for a stalled, loaded machine.
	c.LeaseTTL = 6 * time.Second
	return c
}

// TestPoller_OnceConditionalGET: the first poll publishes every item with
// its id; the second sends the ETag back, gets a 304 and publishes nothing;
// a new item is published alone.
func TestPoller_OnceConditionalGET(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.feeds.set("a", 3, 0)
	src := b.feeds.source("a")
	p := b.poller(t, "r1", testConfig(), []Source{src})

	sum, err := p.Once(t.Context())
	if err != nil || sum != (Summary{Feeds: 1, New: 1, Items: 3}) {
		t.Fatalf("first Once = %+v, %v; want 1 new feed, 3 items", sum, err)
	}
	ids := b.streamIDs(t)
	for i := 1; i <= 3; i++ {
		id := ItemID(src.URL, shortHash(fmt.Sprintf("guid\x00a-%d", i)))
		if ids[id] != 1 {
			t.Errorf("id %s in the stream %d times, want once (stream: %v)", id, ids[id], ids)
		}
	}
	sum, err = p.Once(t.Context())
	if err != nil || sum != (Summary{Feeds: 1, NotModified: 1}) {
		t.Fatalf("second Once = %+v, %v; want 1 not modified", sum, err)
	}
	recs := b.feeds.records("a")
	if len(recs) != 2 || recs[1].inm != `"a-3"` || recs[1].status != http.StatusNotModified {
		t.Fatalf("fetches = %+v, want the second to send the ETag and get 304", recs)
	}
	b.feeds.set("a", 4, 0)
	sum, err = p.Once(t.Context())
	if err != nil || sum != (Summary{Feeds: 1, New: 1, Items: 1}) {
		t.Fatalf("third Once = %+v, %v; want 1 new item", sum, err)
	}
	ids = b.streamIDs(t)
	if len(ids) != 4 {
		t.Errorf("stream holds %d ids, want 4: %v", len(ids), ids)
	}
	for id, n := range ids {
		if n != 1 {
			t.Errorf("id %s stored %d times", id, n)
		}
	}
	for o, want := range map[Outcome]float64{OutcomeNew: 2, OutcomeNotModified: 1, OutcomeUnchanged: 0, OutcomeError: 0} {
		if got := testutil.ToFloat64(p.m.polls.WithLabelValues(string(o))); got != want {
			t.Errorf("newsflow_feed_polls_total{outcome=%q} = %v, want %v", o, got, want)
		}
	}
	if got := testutil.ToFloat64(p.m.items); got != 4 {
		t.Errorf("newsflow_feed_items_published_total = %v, want 4", got)
	}
	st, _, err := b.store.Get(t.Context(), src.URL)
	if err != nil {
		t.Fatal(err)
	}
	if st.Items != 4 || len(st.Seen) != 4 || st.ETag != `"a-4"` || st.Holder != "" || st.Errors != 0 {
		t.Errorf("state = %+v", st)
	}
}

// TestPoller_BackoffAndRecovery: 429 with Retry-After, then 500s, then
// recovery: the error count and the wait grow, Retry-After is honoured, and
// a good poll resets both.
func TestPoller_BackoffAndRecovery(t *testing.T) {
	t.Parallel()
	b := setup(t)
	src := b.feeds.source("b")
	cfg := testConfig()
	cfg.MinInterval, cfg.MaxBackoff = time.Minute, 10*time.Minute
	p := b.poller(t, "r1", cfg, []Source{src})
	state := func() *State {
		st, _, err := b.store.Get(t.Context(), src.URL)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	b.feeds.set("b", 2, http.StatusTooManyRequests)
	if sum, _ := p.Once(t.Context()); sum.Errors != 1 {
		t.Fatalf("Once = %+v, want an error", sum)
	}
	st := state()
	if wait := st.NextPoll.Sub(st.LastPoll); st.Errors != 1 || wait < 10*time.Minute || wait > 11*time.Minute || !strings.Contains(st.LastError, "429") {
		t.Fatalf("after 429: errors %d, wait %s, last error %q; want 1, Retry-After 1h capped at 10m (+ ≤10%% jitter)", st.Errors, wait, st.LastError)
	}
	b.feeds.set("b", 2, http.StatusInternalServerError)
	var waits []time.Duration
	for range 4 {
		p.Once(t.Context())
		st = state()
		waits = append(waits, st.NextPoll.Sub(st.LastPoll))
	}
	if st.Errors != 5 {
		t.Errorf("errors in a row = %d, want 5", st.Errors)
	}
	// Errors 2..5: 2m, 4m, 8m, 10m (capped), each + ≤10 % jitter.
	for i, base := range []time.Duration{2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 10 * time.Minute} {
		if waits[i] < base || waits[i] > base+base/10+time.Second {
			t.Errorf("wait after error %d = %s, want %s + ≤10%%", i+2, waits[i], base)
		}
	}
	b.feeds.set("b", 2, 0)
	if sum, _ := p.Once(t.Context()); sum.New != 1 || sum.Items != 2 {
		t.Fatalf("Once after recovery = %+v", sum)
	}
	if st = state(); st.Errors != 0 || st.LastSuccess.IsZero() || st.NextPoll.Sub(st.LastSuccess) < time.Minute {
		t.Errorf("after recovery: %+v", st)
	}
}

// TestPoller_TwoReplicas: two replicas running over the same 40 feeds poll
// each feed once (the interval is an hour) and publish each item once.
func TestPoller_TwoReplicas(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const feeds, items = 40, 3
	var srcs []Source
	for i := range feeds {
		name := fmt.Sprintf("f%02d", i)
		b.feeds.set(name, items, 0)
		srcs = append(srcs, b.feeds.source(name))
	}
	cfg := testConfig()
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for _, r := range []string{"r1", "r2"} {
		p := b.poller(t, r, cfg, srcs)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.Run(ctx); err != nil {
				t.Errorf("%s: %v", r, err)
			}
		}()
	}
	deadline := time.After(2 * time.Minute)
	for done := 0; done < feeds; {
		select {
		case <-deadline:
			cancel()
			wg.Wait()
			t.Fatalf("only %d of %d feeds polled in 2 minutes", done, feeds)
		case <-time.After(200 * time.Millisecond):
		}
		all, err := b.store.All(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		done = 0
		for _, st := range all {
			if !st.LastSuccess.IsZero() && st.Holder == "" {
				done++
			}
		}
	}
	cancel()
	wg.Wait()
	by := map[string]int{}
	for i := range feeds {
		recs := b.feeds.records(fmt.Sprintf("f%02d", i))
		if len(recs) != 1 {
			t.Errorf("feed f%02d fetched %d times, want once: %+v", i, len(recs), recs)
		}
		for _, r := range recs {
			by[r.replica]++
		}
	}
	t.Logf("fetches by replica: %v", by)
	ids := b.streamIDs(t)
	if len(ids) != feeds*items {
		t.Errorf("stream holds %d distinct ids, want %d", len(ids), feeds*items)
	}
	for id, n := range ids {
		if n != 1 {
			t.Errorf("id %s stored %d times", id, n)
		}
	}
}

// TestPoller_LeaseRenewedAndTakenOver: a poll that outlasts the lease TTL
// keeps its lease (renewed), so a second replica does not poll the feed;
// a lease left by a dead replica is taken over once it expires.
func TestPoller_LeaseRenewedAndTakenOver(t *testing.T) {
	t.Parallel()
	b := setup(t)
	src := b.feeds.source("slow")
	b.feeds.set("slow", 1, 0)
	release := make(chan struct{})
	b.feeds.mu.Lock()
	b.feeds.block["slow"] = release
	b.feeds.mu.Unlock()
	cfg := testConfig()
	p1, p2 := b.poller(t, "r1", cfg, []Source{src}), b.poller(t, "r2", cfg, []Source{src})
	done := make(chan Summary, 1)
	go func() {
		s, _ := p1.Once(t.Context())
		done <- s
	}()
	select {
	case <-b.feeds.arrived:
	case <-time.After(time.Minute):
		t.Fatal("r1 never fetched")
	}
	// r2 waits 2×TTL for r1's lease, which r1 keeps renewing.
	if s, _ := p2.Once(t.Context()); s.Skipped != 1 {
		t.Errorf("r2 Once = %+v, want the feed skipped (r1 holds the lease)", s)
	}
	close(release)
	if s := <-done; s.New != 1 {
		t.Errorf("r1 Once = %+v, want 1 new", s)
	}
	if n := len(b.feeds.records("slow")); n != 1 {
		t.Errorf("fetched %d times, want once", n)
	}

	// A dead replica's lease: written as if r0 took it and was killed.
	dead := b.feeds.source("dead")
	b.feeds.set("dead", 2, 0)
	if err := b.store.Add(t.Context(), dead, time.Now()); err != nil {
		t.Fatal(err)
	}
	st, rev, err := b.store.Get(t.Context(), dead.URL)
	if err != nil {
		t.Fatal(err)
	}
	st.Holder, st.LeaseUntil = "r0", time.Now().Add(cfg.LeaseTTL)
	if _, err := b.store.Put(t.Context(), st, rev); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	p3 := b.poller(t, "r3", cfg, []Source{dead})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		_ = p3.Run(ctx)
	}()
	for deadline := time.Now().Add(time.Minute); ; {
		if st, _, err := b.store.Get(t.Context(), dead.URL); err == nil && !st.LastSuccess.IsZero() && st.Holder == "" {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			<-stopped
			t.Fatal("r3 never took the dead replica's feed over")
		}
		time.Sleep(100 * time.Millisecond) // polling the bucket: the event is another process's write
	}
	cancel()
	<-stopped
	recs := b.feeds.records("dead")
	if len(recs) != 1 || recs[0].replica != "r3" || recs[0].at.Before(st.LeaseUntil) {
		t.Errorf("fetches = %+v, want one by r3 after the lease ended at %s", recs, st.LeaseUntil)
	}
}

// TestPoller_PerHostLimit: six slow feeds on one host are fetched at most
// --per-host at a time.
func TestPoller_PerHostLimit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	release := make(chan struct{})
	var srcs []Source
	for i := range 6 {
		name := fmt.Sprintf("h%d", i)
		b.feeds.set(name, 1, 0)
		b.feeds.mu.Lock()
		b.feeds.block[name] = release
		b.feeds.mu.Unlock()
		srcs = append(srcs, b.feeds.source(name))
	}
	cfg := testConfig()
	cfg.PerHost = 2
	p := b.poller(t, "r1", cfg, srcs)
	ctx, cancel := context.WithCancel(t.Context())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		_ = p.Run(ctx)
	}()
	for range 2 {
		select {
		case <-b.feeds.arrived:
		case <-time.After(time.Minute):
			t.Fatal("fewer than 2 fetches started")
		}
	}
	// Give a broken limit the chance to start more fetches before releasing.
	select {
	case name := <-b.feeds.arrived:
		t.Errorf("a third fetch (%s) started while two were in progress", name)
	case <-time.After(2 * time.Second):
	}
	close(release)
	for deadline := time.Now().Add(time.Minute); ; {
		all, err := b.store.All(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		done := 0
		for _, st := range all {
			if !st.LastSuccess.IsZero() {
				done++
			}
		}
		if done == len(srcs) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d feeds polled", done, len(srcs))
		}
		time.Sleep(100 * time.Millisecond) // polling the bucket for the poller's writes
	}
	cancel()
	<-stopped
	b.feeds.mu.Lock()
	defer b.feeds.mu.Unlock()
	if b.feeds.maxBusy != 2 {
		t.Errorf("at most %d fetches ran at once, want 2 (--per-host)", b.feeds.maxBusy)
	}
}

// TestPoller_OnceAfterAnotherReplica: a Once that finds a feed leased by
// another replica waits, and does not fetch it again once that replica has
// polled it.
func TestPoller_OnceAfterAnotherReplica(t *testing.T) {
	t.Parallel()
	b := setup(t)
	src := b.feeds.source("shared")
	b.feeds.set("shared", 2, 0)
	release := make(chan struct{})
	b.feeds.mu.Lock()
	b.feeds.block["shared"] = release
	b.feeds.mu.Unlock()
	cfg := testConfig()
	p1, p2 := b.poller(t, "r1", cfg, []Source{src}), b.poller(t, "r2", cfg, []Source{src})
	got1, got2 := make(chan Summary, 1), make(chan Summary, 1)
	go func() { s, _ := p1.Once(t.Context()); got1 <- s }()
	select {
	case <-b.feeds.arrived:
	case <-time.After(time.Minute):
		t.Fatal("r1 never fetched")
	}
	go func() { s, _ := p2.Once(t.Context()); got2 <- s }()
	for deadline := time.Now().Add(time.Minute); testutil.ToFloat64(p2.m.conflicts) < 1; {
		if time.Now().After(deadline) {
			t.Fatal("r2 never found the lease held")
		}
		time.Sleep(20 * time.Millisecond) // polling a counter another goroutine increments
	}
	close(release)
	if s := <-got1; s.New != 1 || s.Items != 2 {
		t.Errorf("r1 Once = %+v, want 1 new feed, 2 items", s)
	}
	if s := <-got2; s != (Summary{Feeds: 1, Elsewhere: 1}) {
		t.Errorf("r2 Once = %+v, want the feed polled elsewhere", s)
	}
	if n := len(b.feeds.records("shared")); n != 1 {
		t.Errorf("fetched %d times, want once", n)
	}
}

// TestPoller_RecordRemoved: a feed whose record disappears from the bucket
// is added back and polled again.
func TestPoller_RecordRemoved(t *testing.T) {
	t.Parallel()
	b := setup(t)
	src := b.feeds.source("gone")
	b.feeds.set("gone", 1, 0)
	p := b.poller(t, "r1", testConfig(), []Source{src})
	if s, err := p.Once(t.Context()); err != nil || s.New != 1 {
		t.Fatalf("Once = %+v, %v", s, err)
	}
	kv, err := b.js.KeyValue(t.Context(), b.bucket)
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Purge(t.Context(), "feed."+FeedKey(src.URL)); err != nil {
		t.Fatal(err)
	}
	if o, _ := p.poll(t.Context(), src, time.Time{}); o != OutcomeAborted {
		t.Errorf("poll of a removed record = %s, want aborted", o)
	}
	st, _, err := b.store.Get(t.Context(), src.URL)
	if err != nil {
		t.Fatalf("record not added back: %v", err)
	}
	if !st.LastPoll.IsZero() || st.NextPoll.After(time.Now()) {
		t.Errorf("re-added record = %+v, want a new feed due now", st)
	}
}

// TestPoller_BadFeedsDoNotStopOthers: every kind of bad answer gives its
// feed a clear error, and the good feed beside them is published.
func TestPoller_BadFeedsDoNotStopOthers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/good", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(tinyRSS)) })
	mux.HandleFunc("/html", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("<!DOCTYPE html><html><body>home</body></html>"))
	})
	mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(make([]byte, 50<<20)) })
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	mux.HandleFunc("/500", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	tls := httptest.NewTLSServer(mux)
	defer tls.Close()
	want := map[string]string{ // path → part of the recorded error
		srv.URL + "/html":    "HTML page",
		srv.URL + "/empty":   "response is empty",
		srv.URL + "/big":     "larger than --max-feed-bytes",
		srv.URL + "/loop":    "redirects",
		srv.URL + "/500":     "HTTP 500",
		srv.URL + "/missing": "HTTP 404",
		tls.URL + "/good":    "certificate",
	}
	srcs := []Source{{URL: srv.URL + "/good"}}
	for u := range want {
		srcs = append(srcs, Source{URL: u})
	}
	cfg := testConfig()
	cfg.Replica = "r1"
	pub, err := NewEnginePublisher(t.Context(), b.nc, publish.DefaultConfig(), func(string) string { return b.prefix + ".x" }, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	p, err := New(cfg, srcs, b.store, NewFetcher(1<<20, 10*time.Second, nil), pub, nil, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	sum, err := p.Once(t.Context())
	if err != nil || sum.New != 1 || sum.Errors != len(want) || sum.Items != 1 {
		t.Fatalf("Once = %+v, %v; want 1 new feed with 1 item and %d errors", sum, err, len(want))
	}
	for u, part := range want {
		st, _, err := b.store.Get(t.Context(), u)
		if err != nil {
			t.Fatal(err)
		}
		if st.Errors != 1 || !strings.Contains(st.LastError, part) || strings.Contains(st.LastError, "\n") {
			t.Errorf("%s: errors %d, last error %q; want 1 and one line containing %q", u, st.Errors, st.LastError, part)
		}
	}
	if n := len(b.streamIDs(t)); n != 1 {
		t.Errorf("stream holds %d messages, want the good feed's 1", n)
	}
}

func TestStore_Ping(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if err := b.store.Ping(t.Context()); err != nil {
		t.Fatalf("Ping = %v", err)
	}
	if err := b.js.DeleteKeyValue(t.Context(), b.bucket); err != nil {
		t.Fatal(err)
	}
	if err := b.store.Ping(t.Context()); err == nil || !strings.Contains(err.Error(), b.bucket) {
		t.Errorf("Ping of a deleted bucket = %v, want an error naming it", err)
	}
}

// TestPoller_ShutdownGivesLeaseBack: a replica stopped mid-poll gives the
// lease back at once, without counting an error, so another replica polls
// the feed without waiting for the TTL.
func TestPoller_ShutdownGivesLeaseBack(t *testing.T) {
	t.Parallel()
	b := setup(t)
	src := b.feeds.source("stop")
	b.feeds.set("stop", 1, 0)
	release := make(chan struct{})
	b.feeds.mu.Lock()
	b.feeds.block["stop"] = release
	b.feeds.mu.Unlock()
	cfg := testConfig()
	cfg.LeaseTTL = time.Hour // a lease left behind would block r2 for an hour
	ctx, cancel := context.WithCancel(t.Context())
	p1 := b.poller(t, "r1", cfg, []Source{src})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		_ = p1.Run(ctx)
	}()
	select {
	case <-b.feeds.arrived:
	case <-time.After(time.Minute):
		t.Fatal("r1 never fetched")
	}
	cancel()
	<-stopped
	st, _, err := b.store.Get(t.Context(), src.URL)
	if err != nil {
		t.Fatal(err)
	}
	if st.Holder != "" || st.Errors != 0 || !st.LastPoll.IsZero() {
		t.Fatalf("after shutdown: holder %q, errors %d, last poll %s; want the lease given back and nothing recorded", st.Holder, st.Errors, st.LastPoll)
	}
	close(release)
	if s, _ := b.poller(t, "r2", cfg, []Source{src}).Once(t.Context()); s.New != 1 {
		t.Errorf("r2 Once = %+v, want the feed polled", s)
	}
}
