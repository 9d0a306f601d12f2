package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"newsflow/internal/browsertest"
	"newsflow/internal/deadletter"
	"newsflow/internal/gen"
	"newsflow/internal/news"
)

// TestE2E_ConsoleInBrowser opens a real worker's console in headless
// Chromium while the worker has traffic: the lag chart fills, the Workers
// page lists the worker, and a dead letter (too big for the first worker's
// size limit) is replayed through the dead letters page with
// --console-write on, after which its row is committed. A screenshot of the
// overview is saved as a test artifact (artifacts/console.png).
func TestE2E_ConsoleInBrowser(t *testing.T) {
	t.Parallel()
	w := setup(t, "NEWSFLOW_BATCH_WAIT=200ms", "NEWSFLOW_MAX_MESSAGE_BYTES=2000", "NEWSFLOW_LAG_INTERVAL=1s")
	ctx := browsertest.New(t) // skips here, before any work, when there is no Chromium

	g, err := gen.New(gen.Config{Seed: 17, DupContent: 0.3, BodyBytes: 300, IDPrefix: w.name})
	if err != nil {
		t.Fatal(err)
	}
	batch := func(n int) []news.Message {
		ms := make([]news.Message, n)
		for i := range ms {
			ms[i] = g.Next()
		}
		return ms
	}
	big := news.Message{ID: w.name + ":big", Source: "e2e", Title: "A story longer than the first worker's limit",
		Body: strings.Repeat("A sentence that makes this story longer than the limit. ", 55)}

	// The first worker dead-letters the big message.
	first := w.start(t)
	w.publish(t, append(batch(100), big))
	w.waitRows(t, 100, true, time.Minute)
	d := deadletter.New(w.js, deadletter.Config{Stream: w.name + "_DLQ"}, nil)
	var letter deadletter.Entry
	eventually(t, 15*time.Second, "the big message dead-lettered", func() (bool, string) {
		es, err := d.List(t.Context(), deadletter.Filter{})
		if err != nil || len(es) != 1 {
			return false, fmt.Sprint(es, err)
		}
		letter = es[0]
		return letter.MsgID == big.ID, letter.MsgID
	})
	if res, err := first.Stop(30 * time.Second); err != nil || res.ExitCode != 0 {
		t.Fatalf("first worker stop: %+v, %v", res, err)
	}

	// The fix (a limit that fits), and a console that may write.
	w.env = append(w.env, "NEWSFLOW_MAX_MESSAGE_BYTES=65536", "NEWSFLOW_CONSOLE_WRITE=true")
	p := w.start(t)
	base := "http://" + httpAddr(t, p)
	traffic, stopTraffic := context.WithCancel(t.Context())
	published := make(chan int, 1)
	go func() { // traffic while the page is open
		n := 0
		defer func() { published <- n }()
		for traffic.Err() == nil && n < 3000 {
			for _, m := range batch(100) {
				b, err := m.MarshalJSON()
				if err != nil {
					t.Error(err)
					return
				}
				nm := nats.NewMsg(w.subject)
				nm.Data = b
				nm.Header.Set(jetstream.MsgIDHeader, m.ID)
				// The test's context, so that a stop between batches
				// leaves n exact.
				if _, err := w.js.PublishMsg(t.Context(), nm); err != nil {
					t.Error(err)
					return
				}
				n++
			}
			select {
			case <-traffic.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()

	run := func(what string, a chromedp.Action[chromedp.Void]) {
		t.Helper()
		browsertest.Step(t, ctx, 2*time.Minute, what, a)
	}
	text := func(sel string) string { t.Helper(); return browsertest.Text(t, ctx, sel) }

	run("open the console", chromedp.Navigate(base+"/"))
	run("the lag chart has points", chromedp.Poll[chromedp.Void](
		`document.querySelector("#chart-lag_messages polyline").points.numberOfItems >= 3 &&
		 document.querySelector('[data-stat="lag_messages"]').textContent.endsWith(" msg")`,
		chromedp.WithPollingTimeout(2*time.Minute)))

	run("open the workers", chromedp.Navigate(base+"/workers"))
	if s := text("#workers tbody"); !strings.Contains(s, "-"+strconv.Itoa(p.Pid())) || !strings.Contains(s, "live") {
		t.Errorf("workers table %q: want the worker (pid %d), live", s, p.Pid())
	}

	seq := strconv.FormatUint(letter.Seq, 10)
	run("open the dead letters", chromedp.Navigate(base+"/dlq"))
	run("select the big message", chromedp.Click(chromedp.CSS(`input[name="seq"][value="`+seq+`"]`)))
	run("ask to replay it", chromedp.Click(chromedp.CSS(`#replay`)))
	run("the confirmation page", chromedp.WaitVisible(chromedp.CSS(`#confirm-replay`)))
	if s := text("#confirm"); !strings.Contains(s, big.ID) {
		t.Fatalf("confirmation lists %q, want %s", s, big.ID)
	}
	run("confirm", chromedp.Click(chromedp.CSS(`#confirm-replay`)))
	run("the result page", chromedp.WaitVisible(chromedp.CSS(`#result`)))
	if s := text("#result"); !strings.Contains(s, "Replayed 1 dead letter(s): "+seq) {
		t.Fatalf("result %q", s)
	}

	stopTraffic()
	n := <-published
	w.waitRows(t, int64(100+n+1), true, 2*time.Minute) // every message, the replayed one included
	if got := w.dlqLen(t); got != 0 {
		t.Errorf("%d dead letters left, want 0", got)
	}

	run("back to the overview", chromedp.Navigate(base+"/"))
	run("the charts drawn", chromedp.Poll[chromedp.Void](
		`document.querySelector("#chart-committed_per_second polyline").points.numberOfItems >= 3`,
		chromedp.WithPollingTimeout(time.Minute)))
	c, cancel := context.WithTimeout(ctx, time.Minute)
	png, err := chromedp.Run(c, chromedp.FullScreenshot(100))
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", browsertest.Artifact(t, "console.png", png))
}

// TestE2E_ConsoleListsAWorkerOffTheRegistry: a worker that does not
// heartbeat (NEWSFLOW_HEARTBEAT_INTERVAL=0) lists itself on its console's
// Workers page, live, with its own process's id and its committed messages.
func TestE2E_ConsoleListsAWorkerOffTheRegistry(t *testing.T) {
	t.Parallel()
	w := setup(t, "NEWSFLOW_HEARTBEAT_INTERVAL=0", "NEWSFLOW_BATCH_WAIT=100ms")
	p := w.start(t)
	g, err := gen.New(gen.Config{Seed: 5, BodyBytes: 200, IDPrefix: w.name})
	if err != nil {
		t.Fatal(err)
	}
	ms := make([]news.Message, 20)
	for i := range ms {
		ms[i] = g.Next()
	}
	w.publish(t, ms)
	w.waitRows(t, 20, true, time.Minute)
	base := "http://" + httpAddr(t, p)
	var body struct {
		Workers []struct {
			ID         string     `json:"id"`
			State      string     `json:"state"`
			Stream     string     `json:"stream"`
			Messages   int64      `json:"messages"`
			LastCommit *time.Time `json:"last_commit"`
		} `json:"workers"`
	}
	eventually(t, 30*time.Second, "the worker listing itself with its 20 messages", func() (bool, string) {
		code, b := get(t, base+"/api/workers")
		if err := json.Unmarshal(b, &body); code != 200 || err != nil {
			t.Fatalf("/api/workers = %d %s", code, b)
		}
		if len(body.Workers) != 1 {
			return false, string(b)
		}
		ww := body.Workers[0]
		return ww.State == "live" && ww.Stream == w.name && ww.Messages == 20 && ww.LastCommit != nil &&
			strings.HasSuffix(ww.ID, "-"+strconv.Itoa(p.Pid())), string(b)
	})
	if code, b := get(t, base+"/workers"); code != 200 || !strings.Contains(string(b), strconv.Itoa(p.Pid())) {
		t.Errorf("/workers = %d, want the page listing pid %d:\n%s", code, p.Pid(), b)
	}
}
