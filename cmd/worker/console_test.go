package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"newsflow/internal/await"
	"newsflow/internal/cli"
	"newsflow/internal/natstest"
	"newsflow/internal/telemetry"
)

// TestConsole_Standalone: `worker console` prints its URL, serves the
// overview's samples with the lag of the stream's consumers, lists the
// workers of the registry, says the database is missing instead of
// creating one, and stops on cancel.
func TestConsole_Standalone(t *testing.T) {
	t.Parallel()
	s, _ := lagStream(t, 5)
	name := s.CachedInfo().Config.Name
	// One worker in a registry bucket of the test's own.
	js, _ := natstest.JetStream(t)
	bucket := "reg_" + natstest.Name(t)
	t.Cleanup(func() { _ = js.DeleteKeyValue(context.Background(), bucket) })
	entry := telemetry.NewEntry("v-test", name, "workers", time.Now())
	entry.ID, entry.Host = "console-host-42", "console-host"
	hb, err := telemetry.NewHeartbeat(t.Context(), js, telemetry.RegistryConfig{Bucket: bucket, Interval: time.Minute}, entry,
		func(*telemetry.Entry) {}, nil)
	if err != nil {
		t.Fatal(err)
	}
	hbCtx, stopHB := context.WithCancel(t.Context())
	hbDone := make(chan error, 1)
	go func() { hbDone <- hb.Run(hbCtx) }()
	defer func() { stopHB(); <-hbDone }()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pr, pw := io.Pipe()
	e := env{getenv: func(string) string { return "" }, stdout: pw, stderr: io.Discard}
	done := make(chan error, 1)
	go func() {
		done <- runSub(ctx, "console", []string{"--nats-url", natstest.URL(), "--stream", name, "--addr", "127.0.0.1:0",
			"--data-dir", t.TempDir(), "--registry-bucket", bucket}, e)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "console: http://127.0.0.1:") {
		t.Fatalf("first line %q, %v; want the console's URL", line, err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	base := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(line), "console: "), "/")

	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	var body struct {
		Samples []struct {
			HasLag      bool    `json:"has_lag"`
			LagMessages float64 `json:"lag_messages"`
		} `json:"samples"`
	}
	await.Until(t, 30*time.Second, "a sample with the 5 pending messages", func() (bool, string) {
		code, b := get("/api/samples")
		if err := json.Unmarshal([]byte(b), &body); code != 200 || err != nil {
			t.Fatalf("samples = %d %s", code, b)
		}
		n := len(body.Samples)
		return n > 0 && body.Samples[n-1].HasLag && body.Samples[n-1].LagMessages == 5, b
	})
	if code, b := get("/api/stories"); code != 503 || !strings.Contains(b, "not available") {
		t.Errorf("stories without a database = %d %s, want 503", code, b)
	}
	await.Until(t, 30*time.Second, "the registry's worker listed", func() (bool, string) {
		code, b := get("/api/workers")
		return code == 200 && strings.Contains(b, `"id":"console-host-42"`) && strings.Contains(b, `"state":"live"`), b
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("runConsole = %v, want nil after cancel", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("runConsole did not return after cancel")
	}
	if err := runSub(t.Context(), "console", []string{"extra"}, e); cli.ExitCode(err) != 2 {
		t.Errorf("extra argument: %v (exit %d), want a usage error", err, cli.ExitCode(err))
	}
	// A bucket name the registry would refuse fails before connecting, as in ps and lag.
	err = runSub(t.Context(), "console", []string{"--nats-url", "nats://127.0.0.1:1", "--registry-bucket", "a.b"}, e)
	if cli.ExitCode(err) != 2 || !strings.Contains(fmt.Sprint(err), "--registry-bucket") {
		t.Errorf("--registry-bucket a.b: %v (exit %d), want a usage error naming the flag", err, cli.ExitCode(err))
	}
}
