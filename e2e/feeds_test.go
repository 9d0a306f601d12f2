package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"newsflow/internal/feed"
	"newsflow/internal/news"
	"newsflow/internal/workerproc"
)

// growingFeeds serves n RSS feeds at /f/<i>; feed i has 1 + (time since
// start)/grow items until frozen. It records when each feed was fetched and
// the most items it served.
type growingFeeds struct {
	*httptest.Server
	start time.Time
	grow  time.Duration

	mu      sync.Mutex
	frozen  int // items per feed once frozen, 0 while growing
	fetches map[string][]time.Time
	served  map[string]int
}

func newGrowingFeeds(t *testing.T, grow time.Duration) *growingFeeds {
	g := &growingFeeds{start: time.Now(), grow: grow, fetches: map[string][]time.Time{}, served: map[string]int{}}
	g.Server = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(g.Close)
	return g
}

func (g *growingFeeds) items() int {
	if g.frozen > 0 {
		return g.frozen
	}
	return 1 + int(time.Since(g.start)/g.grow)
}

func (g *growingFeeds) freeze() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.frozen = g.items()
	return g.frozen
}

func (g *growingFeeds) serve(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/f/")
	g.mu.Lock()
	n := g.items()
	g.fetches[name] = append(g.fetches[name], time.Now())
	g.served[name] = max(g.served[name], n)
	g.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0"?><rss version="2.0"><channel><title>feed %s</title>`, name)
	for i := n; i >= 1; i-- {
		fmt.Fprintf(&b, `<item><title>Feed %s story %d</title><guid>%s/%d</guid><description>&lt;p&gt;Story %d of feed %s.&lt;/p&gt;</description></item>`,
			name, i, name, i, i, name)
	}
	b.WriteString(`</channel></rss>`)
	w.Header().Set("Content-Type", "application/rss+xml")
	_, _ = w.Write([]byte(b.String()))
}

// startFeeds starts a `publisher feeds` process, killed at the end of the test.
func startFeeds(t *testing.T, env []string, args ...string) *workerproc.Proc {
	t.Helper()
	p, err := workerproc.StartReady(publisherBin, append([]string{"feeds"}, args...), env, `"polling feeds"`, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("publisher feeds %d log:\n%s", p.Pid(), tail(p.Log(), 30))
		}
	})
	return p
}

// TestE2E_FeedsTwoReplicasOneKilled: two `publisher feeds` replicas share
// 200 growing feeds for several poll cycles; one is SIGKILLed mid-way.
// Every item reaches the stream once and Postgres once (through a worker),
// no feed is fetched twice within the minimum interval, and every feed is
// fetched again within the lease TTL plus an interval of the kill.
func TestE2E_FeedsTwoReplicasOneKilled(t *testing.T) {
	t.Parallel()
	const (
		feeds    = 200
		minIvl   = 2 * time.Second
		maxIvl   = 4 * time.Second
		leaseTTL = 6 * time.Second
	)
	w := setup(t, "NEWSFLOW_BATCH_WAIT=200ms")
	g := newGrowingFeeds(t, 3*time.Second)
	var list strings.Builder
	for i := range feeds {
		fmt.Fprintf(&list, "%s/f/%03d src%03d\n", g.URL, i, i%7)
	}
	path := filepath.Join(t.TempDir(), "feeds.txt")
	if err := os.WriteFile(path, []byte(list.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	bucket := w.name
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = w.js.DeleteKeyValue(ctx, bucket)
	})
	env := append(append([]string(nil), w.env...), "NEWSFLOW_FEEDS_BUCKET="+bucket, "NEWSFLOW_SUBJECT="+w.subject)
	args := []string{"--feeds", path, "--min-interval", minIvl.String(), "--max-interval", maxIvl.String(),
		"--lease-ttl", leaseTTL.String(), "--max-backoff", "10s"}
	w.start(t)
	a := startFeeds(t, env, args...)
	startFeeds(t, env, args...)

	time.Sleep(8 * time.Second) // let both replicas run a few poll cycles; nothing to await
	killedAt := time.Now()
	a.Kill()
	time.Sleep(leaseTTL + 2*maxIvl) // the survivor takes the feeds over and polls on
	final := g.freeze()
	total := feeds * final
	t.Logf("killed replica A after %s; %d items per feed when frozen", killedAt.Sub(g.start).Round(time.Second), final)

	kv, err := w.js.KeyValue(t.Context(), bucket)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, "every feed's state counts every item", func() (bool, string) {
		var sum int64
		for i := range feeds {
			e, err := kv.Get(t.Context(), "feed."+feed.FeedKey(fmt.Sprintf("%s/f/%03d", g.URL, i)))
			if err != nil {
				return false, err.Error()
			}
			var st feed.State
			if err := json.Unmarshal(e.Value(), &st); err != nil {
				return false, err.Error()
			}
			sum += st.Items
		}
		return sum == int64(total), fmt.Sprintf("%d of %d items recorded", sum, total)
	})

	// The stream: each id once, every item there.
	s, err := w.js.Stream(t.Context(), w.name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int{}
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(t.Context(), seq)
		if err != nil {
			t.Fatalf("get %d: %v", seq, err)
		}
		msg, err := news.Decode(m.Data)
		if err != nil {
			t.Fatalf("message %d: %v", seq, err)
		}
		if m.Header.Get(jetstream.MsgIDHeader) != msg.ID {
			t.Errorf("message %d: Nats-Msg-Id %q, id %q", seq, m.Header.Get(jetstream.MsgIDHeader), msg.ID)
		}
		ids[msg.ID]++
	}
	if len(ids) != total || int(info.State.Msgs) != total {
		t.Errorf("stream: %d messages, %d distinct ids; want %d each", info.State.Msgs, len(ids), total)
	}
	for id, n := range ids {
		if n > 1 {
			t.Errorf("id %s stored %d times", id, n)
		}
	}

	// Fetches: never two of one feed within the minimum interval; after the
	// kill, each feed fetched again within the lease TTL plus the longest
	// interval (with jitter) and slack for a loaded machine.
	g.mu.Lock()
	takeover := leaseTTL + maxIvl + maxIvl/10 + 15*time.Second
	var polls int
	for name, ts := range g.fetches {
		polls += len(ts)
		for i := 1; i < len(ts); i++ {
			if gap := ts[i].Sub(ts[i-1]); gap < minIvl {
				t.Errorf("feed %s fetched twice %s apart (at %s and %s), under --min-interval %s", name, gap,
					ts[i-1].Sub(g.start).Round(time.Millisecond), ts[i].Sub(g.start).Round(time.Millisecond), minIvl)
			}
		}
		again := false
		for _, at := range ts {
			if at.After(killedAt) && at.Sub(killedAt) <= takeover {
				again = true
			}
		}
		if !again {
			t.Errorf("feed %s not fetched within %s of the kill", name, takeover)
		}
	}
	g.mu.Unlock()
	t.Logf("%d fetches of %d feeds", polls, feeds)

	// And through a worker into Postgres, once each.
	w.waitRows(t, int64(total), true, 3*time.Minute)
}
