package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"newsflow/internal/gen"
	"newsflow/internal/workerproc"
)

// TestE2E_EmbeddedPipeline runs the whole pipeline on the embedded defaults
// in a temporary directory — no NATS_URL, REDIS_URL, DATABASE_URL or
// LLM_PROVIDER — as a newcomer's first run does: worker (in-process NATS,
// SQLite, in-process cache, offline enricher) ← publisher gen, drained, then
// worker top reads the stories back with reposts collapsed.
func TestE2E_EmbeddedPipeline(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := []string{"NEWSFLOW_DATA_DIR=" + dir, "NEWSFLOW_HTTP_ADDR=127.0.0.1:0", "NEWSFLOW_BATCH_WAIT=200ms"}
	p, err := workerproc.Start(workerBin, []string{"run"}, env, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	for _, want := range []string{"NATS_URL unset", "DATABASE_URL unset", "REDIS_URL unset", "LLM_PROVIDER unset"} {
		if !strings.Contains(p.Log(), want) {
			t.Errorf("the start log does not say %q", want)
		}
	}

	const count = 300
	out, errOut, code := runBinary(t, publisherBin, env, "gen", "--count", fmt.Sprint(count), "--dup-content", "0.3", "--seed", "5")
	if code != 0 || !strings.Contains(out, fmt.Sprintf("published %d (retried 0),", count)) {
		t.Fatalf("publisher gen: exit %d\n%s%s", code, out, errOut)
	}
	g, err := gen.New(gen.Config{Seed: 5, DupContent: 0.3})
	if err != nil {
		t.Fatal(err)
	}
	for range count {
		g.Next()
	}
	unique := g.Stats().Unique

	eventually(t, time.Minute, "the embedded consumer drained", func() (bool, string) {
		out, _, code := runBinary(t, workerBin, env, "lag", "--json", "--interval", "50ms")
		var lag struct {
			Pending    uint64 `json:"num_pending"`
			AckPending uint64 `json:"num_ack_pending"`
			AckFloor   uint64 `json:"ack_floor"`
		}
		if code != 0 || json.Unmarshal([]byte(strings.SplitN(out, "\n", 2)[0]), &lag) != nil {
			return false, fmt.Sprintf("exit %d: %q", code, out)
		}
		return lag.Pending == 0 && lag.AckPending == 0 && lag.AckFloor == count, out
	})
	res, err := p.Stop(30 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 || res.Summary["messages"] != float64(count) {
		t.Fatalf("exit %d, summary %v; want 0 and %d messages", res.ExitCode, res.Summary, count)
	}
	if calls := res.Summary["llm_calls"]; calls != float64(unique) {
		t.Errorf("offline enricher called %v times for %d unique stories", calls, unique)
	}

	out, errOut, code = runBinary(t, workerBin, env, "top", "--json", "-n", "100000", "--since", "87600h")
	if code != 0 {
		t.Fatalf("worker top: exit %d\n%s", code, errOut)
	}
	var stories, reposts int
	for line := range strings.Lines(out) {
		var row struct {
			Category string `json:"category"`
			Reposts  int    `json:"reposts"`
			Summary  string `json:"summary"`
		}
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatalf("top row %q: %v", line, err)
		}
		if row.Category == "" || row.Summary == "" {
			t.Errorf("story not enriched: %s", line)
		}
		stories++
		reposts += row.Reposts
	}
	if stories != unique || reposts != count {
		t.Fatalf("top shows %d stories carrying %d messages, want %d and %d", stories, reposts, unique, count)
	}
}
