package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"newsflow/internal/await"
	"newsflow/internal/cli"
	"newsflow/internal/natstest"
	"newsflow/internal/telemetry"
)

// TestPs_ListsRegisteredWorkers: three heartbeating workers are listed as
// JSON lines and as a table, --consumer filters, and a missing bucket lists
// none without an error.
func TestPs_ListsRegisteredWorkers(t *testing.T) {
	t.Parallel()
	js, _ := natstest.JetStream(t)
	bucket := "ps_" + natstest.Name(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = js.DeleteKeyValue(ctx, bucket)
	})
	ctx, cancel := context.WithCancel(t.Context())
	var running []chan error
	t.Cleanup(func() {
		cancel()
		for _, done := range running {
			<-done
		}
	})
	for _, w := range []struct{ id, consumer string }{{"h-1", "a"}, {"h-2", "a"}, {"h-3", "b"}} {
		e := telemetry.NewEntry("v1.2.3", "NEWS", w.consumer, time.Now())
		e.ID = w.id
		hb, err := telemetry.NewHeartbeat(ctx, js, telemetry.RegistryConfig{Bucket: bucket, Interval: 2 * time.Second}, e,
			func(e *telemetry.Entry) { e.Messages, e.Held = 10, 2 }, zaptest.NewLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		running = append(running, done)
		go func() { done <- hb.Run(ctx) }()
	}

	list := func(cfg psConfig) string {
		t.Helper()
		var out bytes.Buffer
		if err := listWorkers(t.Context(), js, cfg, &out); err != nil {
			t.Fatalf("listWorkers(%+v): %v", cfg, err)
		}
		return out.String()
	}
	var entries []telemetry.Entry
	await.Until(t, 30*time.Second, "3 workers in ps --json", func() (bool, string) {
		out := list(psConfig{bucket: bucket, json: true})
		entries = decodeJSONLines[telemetry.Entry](t, out)
		return len(entries) == 3, out
	})
	for i, id := range []string{"h-1", "h-2", "h-3"} {
		if e := entries[i]; e.ID != id || e.Version != "v1.2.3" || e.Messages != 10 || e.Held != 2 || e.Stream != "NEWS" {
			t.Errorf("entry %d = %+v, want %s with version v1.2.3, 10 messages, 2 held", i, e, id)
		}
	}
	if got := decodeJSONLines[telemetry.Entry](t, list(psConfig{bucket: bucket, json: true, consumer: "b"})); len(got) != 1 || got[0].ID != "h-3" {
		t.Errorf("--consumer b listed %+v, want h-3 only", got)
	}
	table := list(psConfig{bucket: bucket})
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[0], "HEARTBEAT") ||
		!strings.HasPrefix(lines[3], "h-3") || !strings.Contains(lines[3], "never") {
		t.Errorf("table:\n%s\nwant a header and h-1, h-2, h-3 (no commit yet: never)", table)
	}
	if out := list(psConfig{bucket: bucket + "_missing"}); !strings.Contains(out, "(no workers)") {
		t.Errorf("missing bucket: %q, want (no workers)", out)
	}

	// Through the subcommand's flags.
	var out bytes.Buffer
	if err := runSub(t.Context(), "ps", []string{"--nats-url", natstest.URL(), "--registry-bucket", bucket, "--json", "--consumer", "a"}, opsEnv(t, &out)); err != nil {
		t.Fatal(err)
	}
	if got := decodeJSONLines[telemetry.Entry](t, out.String()); len(got) != 2 {
		t.Errorf("worker ps --consumer a --json printed %q, want 2 workers", out.String())
	}
	// Options never read the environment: NEWSFLOW_CONSUMER (the worker's
	// durable) must not filter the listing; the bucket is configuration.
	out.Reset()
	e := opsEnv(t, &out)
	e.getenv = func(k string) string {
		return map[string]string{"NATS_URL": natstest.URL(), "NEWSFLOW_REGISTRY_BUCKET": bucket, "NEWSFLOW_CONSUMER": "b"}[k]
	}
	if err := runSub(t.Context(), "ps", []string{"--json"}, e); err != nil {
		t.Fatal(err)
	}
	if got := decodeJSONLines[telemetry.Entry](t, out.String()); len(got) != 3 {
		t.Errorf("worker ps --json with NEWSFLOW_CONSUMER=b printed %d workers, want all 3", len(got))
	}
	for _, bad := range [][]string{{"extra"}, {"--registry-bucket", "a.b"}} {
		err := runSub(t.Context(), "ps", bad, opsEnv(t, &out))
		if cli.ExitCode(err) != 2 {
			t.Errorf("worker ps %v = %v (exit %d), want a usage error (exit 2)", bad, err, cli.ExitCode(err))
		}
	}
}

func decodeJSONLines[T any](t *testing.T, out string) []T {
	t.Helper()
	var rows []T
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var r T
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("line %q is not a JSON object: %v", line, err)
		}
		rows = append(rows, r)
	}
	return rows
}
