package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"newsflow/internal/await"
	"newsflow/internal/embedded"
	"newsflow/internal/feed"
	"newsflow/internal/news"
)

// feedsSetup serves the feed package's testdata files and writes a feed
// list naming them; it returns the list's path and the bundle with a
// private KV bucket.
func feedsSetup(t *testing.T) (*bundle, string, []string) {
	t.Helper()
	b := setup(t)
	srv := httptest.NewServer(http.FileServer(http.Dir("../../internal/feed/testdata")))
	t.Cleanup(srv.Close)
	urls := []string{srv.URL + "/rss2.xml", srv.URL + "/atom.xml", srv.URL + "/rss1.rdf", srv.URL + "/feed.json"}
	list := "# test feeds\n" + urls[0] + " gazette\n" + strings.Join(urls[1:], "\n") + "\n"
	path := filepath.Join(t.TempDir(), "feeds.txt")
	if err := os.WriteFile(path, []byte(list), 0o644); err != nil {
		t.Fatal(err)
	}
	b.args = append(b.args, "--feeds-bucket", b.stream, "--feeds", path)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = b.js.DeleteKeyValue(ctx, b.stream)
	})
	return b, path, urls
}

var feedsSummaryRE = regexp.MustCompile(`^feeds (\d+), new (\d+), unchanged (\d+), not modified (\d+), errors (\d+), skipped (\d+), polled elsewhere (\d+), items published (\d+), \S+\n$`)

// TestFeeds_OnceThenStatus: --once publishes every item of four real feed
// files once with its feed id; a second --once publishes nothing; status
// lists the four feeds.
func TestFeeds_OnceThenStatus(t *testing.T) {
	t.Parallel()
	b, _, urls := feedsSetup(t)
	r := runCmd(t, nil, "", append([]string{"feeds", "--once"}, b.args...)...)
	if r.code != 0 {
		t.Fatalf("feeds --once: exit %d, %v\n%s", r.code, r.err, r.stderr)
	}
	m := feedsSummaryRE.FindStringSubmatch(r.stdout)
	if m == nil || m[1] != "4" || m[2] != "4" || m[8] != "10" {
		t.Fatalf("summary = %q, want 4 feeds, 4 new, 10 items", r.stdout)
	}
	msgs := streamMsgs(t, b)
	if len(msgs) != 10 {
		t.Fatalf("stream holds %d messages, want 10", len(msgs))
	}
	ids := map[string]bool{}
	for _, sm := range msgs {
		msg, err := news.Decode(sm.Data)
		if err != nil {
			t.Fatalf("invalid message in the stream: %v", err)
		}
		if sm.Header.Get("Nats-Msg-Id") != msg.ID || ids[msg.ID] {
			t.Errorf("message %s: Nats-Msg-Id %q, seen before %v", msg.ID, sm.Header.Get("Nats-Msg-Id"), ids[msg.ID])
		}
		ids[msg.ID] = true
		if msg.Source == "gazette" && !strings.HasPrefix(msg.ID, "feed:"+feed.FeedKey(urls[0])+":") {
			t.Errorf("gazette item id %q, want the prefix of %s", msg.ID, urls[0])
		}
	}
	// http.FileServer answers If-Modified-Since with 304.
	r = runCmd(t, nil, "", append([]string{"feeds", "--once"}, b.args...)...)
	if m := feedsSummaryRE.FindStringSubmatch(r.stdout); r.code != 0 || m == nil || m[4] != "4" || m[8] != "0" {
		t.Fatalf("second --once: exit %d, summary %q, want 4 not modified, 0 items\n%s", r.code, r.stdout, r.stderr)
	}
	if n := len(streamMsgs(t, b)); n != 10 {
		t.Errorf("stream holds %d messages after the second run, want 10", n)
	}

	r = runCmd(t, nil, "", "feeds", "status", "--json", "--nats-url", b.args[1], "--feeds-bucket", b.stream)
	if r.code != 0 {
		t.Fatalf("status: exit %d, %v\n%s", r.code, r.err, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 4 {
		t.Fatalf("status --json printed %d lines, want 4:\n%s", len(lines), r.stdout)
	}
	var items int64
	for _, l := range lines {
		var st struct {
			URL         string    `json:"url"`
			Items       int64     `json:"items"`
			Seen        int       `json:"seen"`
			LastSuccess time.Time `json:"last_success"`
			Errors      int       `json:"errors"`
		}
		if err := json.Unmarshal([]byte(l), &st); err != nil {
			t.Fatalf("status line %q: %v", l, err)
		}
		if st.LastSuccess.IsZero() || st.Errors != 0 || int64(st.Seen) != st.Items {
			t.Errorf("status %+v", st)
		}
		items += st.Items
	}
	if items != 10 {
		t.Errorf("status counts %d items, want 10", items)
	}
	r = runCmd(t, nil, "", "feeds", "status", "--nats-url", b.args[1], "--feeds-bucket", b.stream)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "FEED") || strings.Count(r.stdout, "\n") != 5 {
		t.Errorf("status table: exit %d\n%s", r.code, r.stdout)
	}
}

func TestFeeds_BadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "feeds.txt")
	if err := os.WriteFile(bad, []byte("https://ok.example/rss\nnot-a-url\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"feeds"}, "no feed list: give --feeds FILE"},
		{[]string{"feeds", "extra"}, `unexpected argument "extra"`},
		{[]string{"feeds", "--feeds", bad}, `feeds.txt:2: invalid feed URL "not-a-url": want an absolute http or https URL`},
		{[]string{"feeds", "--feeds", filepath.Join(dir, "missing.txt")}, "missing.txt: no such file"},
		{[]string{"feeds", "--feeds", bad, "--min-interval", "10m", "--max-interval", "1m"}, "--max-interval (1m0s) must be at least --min-interval (10m0s)"},
		{[]string{"feeds", "--feeds", bad, "--lease-ttl", "1s"}, `invalid value "1s" for --lease-ttl: want a duration ≥ 3s`},
		{[]string{"feeds", "--feeds", bad, "--feeds-bucket", "a.b"}, `invalid value "a.b" for --feeds-bucket`},
	} {
		r := runCmd(t, nil, "", tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line containing %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

// NEWSFLOW_FEEDS names the feed lists (configuration); NEWSFLOW_ONCE is
// never read (--once is an option).
func TestFeeds_Environment(t *testing.T) {
	t.Parallel()
	bad := filepath.Join(t.TempDir(), "env-feeds.txt")
	if err := os.WriteFile(bad, []byte("nope\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runCmd(t, map[string]string{"NEWSFLOW_FEEDS": bad}, "", "feeds")
	if r.code != 2 || !strings.Contains(r.stderr, `env-feeds.txt:1: invalid feed URL "nope"`) {
		t.Errorf("NEWSFLOW_FEEDS: exit %d, stderr %q", r.code, r.stderr)
	}
	r = runCmd(t, map[string]string{"NEWSFLOW_ONCE": "maybe"}, "", "feeds")
	if !strings.Contains(r.stderr, "no feed list") {
		t.Errorf("NEWSFLOW_ONCE was read: exit %d, stderr %q", r.code, r.stderr)
	}
}

// With no NATS_URL, publisher feeds publishes to the embedded worker's
// server found in --data-dir, as send does.
func TestFeeds_Embedded(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := httptest.NewServer(http.FileServer(http.Dir("../../internal/feed/testdata")))
	defer srv.Close()
	list := filepath.Join(t.TempDir(), "feeds.txt")
	if err := os.WriteFile(list, []byte(srv.URL+"/atom.xml\n"+srv.URL+"/feed.json\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	n, err := embedded.StartNATS(embedded.NATSConfig{DataDir: dir, Port: -1}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown()
	r := runCmd(t, nil, "", "feeds", "--once", "--feeds", list, "--data-dir", dir, "--http-addr", "")
	m := feedsSummaryRE.FindStringSubmatch(r.stdout)
	if r.code != 0 || m == nil || m[2] != "2" || m[8] != "4" {
		t.Fatalf("feeds --once on the embedded server: exit %d, summary %q, want 2 new feeds, 4 items\n%s", r.code, r.stdout, r.stderr)
	}
	r = runCmd(t, nil, "", "feeds", "status", "--data-dir", dir)
	if r.code != 0 || strings.Count(r.stdout, "\n") != 3 {
		t.Errorf("status on the embedded server: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestFeeds_RunServesAndStops: without --once the poller runs, serves
// /readyz and /metrics, publishes every item, and returns nil when its
// context ends (SIGTERM).
func TestFeeds_RunServesAndStops(t *testing.T) {
	t.Parallel()
	b, _, _ := feedsSetup(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out, errOut bytes.Buffer
	done := make(chan error, 1)
	env := map[string]string{"NEWSFLOW_LOG_LEVEL": "warn"}
	go func() {
		done <- run(ctx, append([]string{"feeds", "--http-addr", addr}, b.args...), func(k string) string { return env[k] },
			strings.NewReader(""), &out, &errOut)
	}()
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	await.Until(t, time.Minute, "/readyz 200 and 10 items published", func() (bool, string) {
		select {
		case err := <-done:
			t.Fatalf("publisher feeds returned early: %v\n%s", err, errOut.String())
		default:
		}
		code, _ := get("/readyz")
		_, metrics := get("/metrics")
		return code == 200 && strings.Contains(metrics, "newsflow_feed_items_published_total 10\n"), fmt.Sprintf("readyz %d", code)
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("publisher feeds after cancel: %v\n%s", err, errOut.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("publisher feeds did not stop within a minute of its context ending")
	}
	if n := len(streamMsgs(t, b)); n != 10 {
		t.Errorf("stream holds %d messages, want 10", n)
	}
}
