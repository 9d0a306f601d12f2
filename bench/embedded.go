package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"newsflow/bench/internal/publish"
	"newsflow/internal/consumer"
	"newsflow/internal/embedded"
	"newsflow/internal/news"
	"newsflow/internal/store"
	"newsflow/internal/stream"
	"newsflow/internal/workerproc"
)

// embeddedPhase measures what `make run` runs: one worker with no NATS_URL
// and no DATABASE_URL, so with its in-process NATS server and SQLite, and
// the given LLM provider. The backlog is prefilled into the worker's data
// directory by an in-process server of the same configuration, which is then
// stopped; the worker's own server recovers the stream at start and the
// worker drains it. The rate is the worker's own (first fetch to last
// commit); the CPU is the worker process's, NATS and SQLite included, from
// its start to the drained stream.
func (b *bench) embeddedPhase(ctx context.Context, provider string) error {
	dir, err := os.MkdirTemp("", "newsflow-bench-embedded-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	msgs, st, err := generate(11, b.cfg.embeddedMessages, b.cfg.dup, b.cfg.bodyBytes, "emb")
	if err != nil {
		return err
	}
	fmt.Printf("\n## embedded (in-process NATS, SQLite), LLM_PROVIDER=%s: prefilling %d messages (%d unique stories) ...\n",
		provider, len(msgs), st.Unique)
	if err := prefillEmbedded(ctx, dir, msgs); err != nil {
		return err
	}
	p := &phase{env: append([]string{"NEWSFLOW_DATA_DIR=" + dir, "NEWSFLOW_HTTP_ADDR=127.0.0.1:0"}, b.extraEnv()...)}
	env := []string{"LLM_PROVIDER=" + provider, "NEWSFLOW_LAG_INTERVAL=0s"}
	var profileDone chan error
	profilePath := b.cfg.cpuProfile + "." + provider
	if b.cfg.cpuProfile != "" {
		port, err := freePort()
		if err != nil {
			return err
		}
		env = append(env, "NEWSFLOW_PPROF=true", fmt.Sprintf("NEWSFLOW_HTTP_ADDR=127.0.0.1:%d", port))
		profileDone = make(chan error, 1)
		go func() {
			profileDone <- fetchProfile(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=5", port), profilePath)
		}()
	}
	procs, err := b.startWorkers(p, 1, env...)
	if err != nil {
		return err
	}
	cpu0, _ := workerproc.ReadStat(procs[0].Pid())
	if err := waitEmbeddedDrained(ctx, dir, 10*time.Minute); err != nil {
		procs[0].Kill()
		return err
	}
	cpu1, _ := workerproc.ReadStat(procs[0].Pid())
	if profileDone != nil {
		if err := <-profileDone; err != nil {
			fmt.Println("cpu profile:", err)
		} else {
			fmt.Println("cpu profile written to", profilePath)
		}
	}
	res, err := stopAll(procs)
	if err != nil {
		return err
	}
	r := res[0]
	rows, err := sqliteRows(ctx, filepath.Join(dir, "newsflow.db"))
	if err != nil {
		return err
	}
	if rows != int64(len(msgs)) {
		return fmt.Errorf("embedded: %d rows in SQLite, want %d", rows, len(msgs))
	}
	first, _ := summaryTime(r, "first_fetch")
	last, _ := summaryTime(r, "last_commit")
	rate := summaryNum(r, "messages") / last.Sub(first).Seconds()
	cpu := (cpu1.CPUSeconds - cpu0.CPUSeconds) / float64(len(msgs)) * 1e6
	fmt.Printf("RESULT embedded provider=%s messages=%d msgs_per_s=%.0f (first fetch → last commit %.2fs) transactions=%.0f peak_rss_mb=%.1f\n",
		provider, len(msgs), rate, last.Sub(first).Seconds(), summaryNum(r, "batches"), float64(r.MaxRSSBytes)/(1<<20))
	fmt.Printf("CPU during the run (µs per message): worker %.1f (NATS server and SQLite in the worker's process)\n", cpu)
	b.record("embedded, LLM_PROVIDER="+provider, rate, []procCPU{{"worker+NATS+SQLite", cpu}})
	return nil
}

// prefillEmbedded publishes msgs into the default stream of an embedded
// server on dir, then stops it.
func prefillEmbedded(ctx context.Context, dir string, msgs []news.Message) error {
	srv, err := embedded.StartNATS(embedded.NATSConfig{DataDir: dir, Port: -1}, zap.NewNop())
	if err != nil {
		return err
	}
	defer srv.Shutdown()
	nc, err := nats.Connect(srv.URL(), nats.Name("newsflow-bench-prefill"))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return err
	}
	if _, _, err := stream.Ensure(ctx, js, stream.DefaultConfig(), false, nil); err != nil {
		return err
	}
	t0 := time.Now()
	if _, err := publish.Messages(ctx, js, "news.ingest.bench", msgs, 0); err != nil {
		return err
	}
	fmt.Printf("prefill: %.0f msgs/s\n", float64(len(msgs))/time.Since(t0).Seconds())
	return nil
}

// waitEmbeddedDrained polls the worker's embedded server until its default
// consumer has nothing pending or unacked.
func waitEmbeddedDrained(ctx context.Context, dir string, timeout time.Duration) error {
	u, err := embedded.DiscoverNATSURL(dir)
	if err != nil {
		return err
	}
	nc, err := nats.Connect(u, nats.Name("newsflow-bench-poller"))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	state := "no consumer yet"
	for time.Now().Before(deadline) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if c, err := js.Consumer(ctx, stream.DefaultName, consumer.DefaultDurable); err == nil {
			if info, err := c.Info(ctx); err == nil {
				state = fmt.Sprintf("pending %d, ack pending %d", info.NumPending, info.NumAckPending)
				if info.NumPending == 0 && info.NumAckPending == 0 && info.Delivered.Stream > 0 {
					return nil
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("embedded: not drained within %s: %s", timeout, state)
}

// sqliteRows counts the rows of the SQLite database at path.
func sqliteRows(ctx context.Context, path string) (int64, error) {
	s, err := store.OpenSQLite(ctx, path, zap.NewNop(), nil)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	return s.Count(ctx)
}

// procCPU is one process's CPU per message in a phase.
type procCPU struct {
	name     string
	usPerMsg float64
}

// phaseResult is one line of the closing summary.
type phaseResult struct {
	name     string
	msgsPerS float64
	cpu      []procCPU
}

// record adds a phase to the closing summary.
func (b *bench) record(name string, msgsPerS float64, cpu []procCPU) {
	b.results = append(b.results, phaseResult{name: name, msgsPerS: msgsPerS, cpu: cpu})
}

// printSummary prints every phase's rate and CPU per message per process.
func (b *bench) printSummary() {
	if len(b.results) == 0 {
		return
	}
	fmt.Println("\n## summary: msgs/s and CPU µs per message, per process")
	fmt.Println("| phase | msgs/s | CPU µs/msg by process | total CPU µs/msg |")
	fmt.Println("|---|---|---|---|")
	for _, r := range b.results {
		parts, total := make([]string, 0, len(r.cpu)), 0.0
		for _, c := range r.cpu {
			parts = append(parts, fmt.Sprintf("%s %.1f", c.name, c.usPerMsg))
			total += c.usPerMsg
		}
		fmt.Printf("| %s | %.0f | %s | %.1f |\n", r.name, r.msgsPerS, strings.Join(parts, ", "), total)
	}
}
