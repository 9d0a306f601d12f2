package e2e

import (
	"context"
	"fmt"
	"newsflow/internal/await"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap/zaptest"

	"newsflow/internal/gen"
	"newsflow/internal/natstest"
	"newsflow/internal/news"
	"newsflow/internal/store"
	"newsflow/internal/store/storetest"
	"newsflow/internal/workerproc"
)

var workerBin, publisherBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "newsflow-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	root, err := workerproc.ModuleRoot()
	if err == nil {
		workerBin, publisherBin, err = workerproc.Build(context.Background(), root, dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// world is one test's isolated stream, durable, subjects and schema, and the
// environment that points a worker process at them.
type world struct {
	js      jetstream.JetStream
	nc      *nats.Conn
	name    string
	subject string
	bucket  string // the worker registry's bucket
	store   *store.Postgres
	env     []string
}

func setup(t *testing.T, extraEnv ...string) *world {
	t.Helper()
	js, nc := natstest.JetStream(t)
	name := natstest.Name(t)
	lower := strings.ToLower(name)
	natstest.DeleteStreamOnCleanup(t, js, name)
	natstest.DeleteStreamOnCleanup(t, js, name+"_DLQ")
	dsn := storetest.PostgresDSN(t)
	st, err := store.OpenPostgres(t.Context(), dsn, store.PoolConfig{MaxConns: 2}, zaptest.NewLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	w := &world{js: js, nc: nc, name: name, subject: lower + ".ingest.e2e", store: st, bucket: "reg_" + name}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = js.DeleteKeyValue(ctx, w.bucket)
	})
	w.env = append([]string{
		"NATS_URL=" + natstest.URL(),
		"DATABASE_URL=" + dsn,
		"LLM_PROVIDER=offline",
		"NEWSFLOW_STREAM=" + name,
		"NEWSFLOW_SUBJECTS=" + lower + ".>",
		"NEWSFLOW_CONSUMER=" + name,
		"NEWSFLOW_DLQ_STREAM=" + name + "_DLQ",
		"NEWSFLOW_DLQ_SUBJECT_PREFIX=" + lower + "-dlq",
		"NEWSFLOW_HTTP_ADDR=127.0.0.1:0",
		"NEWSFLOW_DATA_DIR=" + t.TempDir(),
		"NEWSFLOW_LAG_INTERVAL=0s",
		"NEWSFLOW_REGISTRY_BUCKET=" + w.bucket,
	}, extraEnv...)
	return w
}

func (w *world) start(t *testing.T) *workerproc.Proc {
	t.Helper()
	p, err := workerproc.Start(workerBin, []string{"run"}, w.env, 60*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("worker %d log:\n%s", p.Pid(), tail(p.Log(), 40))
		}
	})
	return p
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// publish sends messages with Nats-Msg-Id set and waits for every PubAck.
func (w *world) publish(t *testing.T, msgs []news.Message) {
	t.Helper()
	for _, m := range msgs {
		b, err := m.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		nm := nats.NewMsg(w.subject)
		nm.Data = b
		nm.Header.Set(jetstream.MsgIDHeader, m.ID)
		if _, err := w.js.PublishMsgAsync(nm); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-w.js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		t.Fatal("publishes not acknowledged within a minute")
	}
}

func (w *world) consumerInfo(t *testing.T) (*jetstream.ConsumerInfo, error) {
	c, err := w.js.Consumer(t.Context(), w.name, w.name)
	if err != nil {
		return nil, err
	}
	return c.Info(t.Context())
}

func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	await.Until(t, timeout, what, cond)
}

func (w *world) waitRows(t *testing.T, atLeast int64, drained bool, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, fmt.Sprintf("%d rows (drained: %v)", atLeast, drained), func() (bool, string) {
		n, err := w.store.Count(t.Context())
		if err != nil {
			return false, err.Error()
		}
		if !drained {
			return n >= atLeast, fmt.Sprintf("%d rows", n)
		}
		info, err := w.consumerInfo(t)
		if err != nil {
			return false, err.Error()
		}
		return n == atLeast && info.NumPending == 0 && info.NumAckPending == 0,
			fmt.Sprintf("%d rows, pending %d, ack pending %d", n, info.NumPending, info.NumAckPending)
	})
}

// TestE2E_SIGKILLMidRunThenRestart: a worker killed with SIGKILL in the
// middle of a run, then restarted, leaves no row missing and none doubled.
func TestE2E_SIGKILLMidRunThenRestart(t *testing.T) {
	t.Parallel()
	w := setup(t, "NEWSFLOW_ACK_WAIT=3s", "NEWSFLOW_BATCH_WAIT=200ms", "NEWSFLOW_COMMIT_TIMEOUT=1s")
	g, err := gen.New(gen.Config{Seed: 3, DupContent: 0.15, IDPrefix: w.name})
	if err != nil {
		t.Fatal(err)
	}
	const total = 20000
	msgs := make([]news.Message, total)
	for i := range msgs {
		msgs[i] = g.Next()
	}
	// A backlog first (a worker that keeps pace with the publisher would finish before the kill): the
	// first worker only creates the stream and the consumer.
	if res, err := w.start(t).Stop(30 * time.Second); err != nil || res.ExitCode != 0 {
		t.Fatalf("first worker stop: %+v, %v", res, err)
	}
	w.publish(t, msgs)
	p := w.start(t)
	w.waitRows(t, total/20, false, 2*time.Minute)
	p.Kill() // mid-run: batches open, commits in flight, acks unsent
	n, err := w.store.Count(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if n >= total {
		t.Fatalf("the worker finished (%d rows) before it was killed; the test proves nothing", n)
	}
	t.Logf("killed with %d of %d rows committed", n, total)
	p2 := w.start(t)
	w.waitRows(t, total, true, 3*time.Minute)
	res, err := p2.Stop(30 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 {
		t.Fatalf("restarted worker exited %d after SIGTERM", res.ExitCode)
	}
	// The primary key forbids doubles; check none is missing either.
	ids := map[string]bool{}
	for _, m := range msgs {
		ids[m.ID] = true
	}
	if got, _ := w.store.Count(t.Context()); got != int64(len(ids)) {
		t.Fatalf("%d rows for %d unique ids", got, len(ids))
	}
}

// TestE2E_SIGTERMCommitsPartialBatch: SIGTERM with a batch open commits and
// acks it, and the process exits 0.
func TestE2E_SIGTERMCommitsPartialBatch(t *testing.T) {
	t.Parallel()
	w := setup(t, "NEWSFLOW_BATCH_WAIT=1h", "NEWSFLOW_BATCH_IDLE=0", "NEWSFLOW_ACK_WAIT=2h")
	p := w.start(t)
	msgs := make([]news.Message, 7)
	for i := range msgs {
		msgs[i] = news.Message{ID: fmt.Sprintf("%s:%d", w.name, i), Source: "e2e", Title: fmt.Sprintf("Partial batch story %d", i)}
	}
	w.publish(t, msgs)
	eventually(t, 30*time.Second, "7 messages held in the open batch", func() (bool, string) {
		info, err := w.consumerInfo(t)
		if err != nil {
			return false, err.Error()
		}
		return info.NumAckPending == 7, fmt.Sprintf("ack pending %d", info.NumAckPending)
	})
	res, err := p.Stop(30 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 {
		t.Fatalf("exit status %d after SIGTERM, want 0; log:\n%s", res.ExitCode, tail(p.Log(), 20))
	}
	w.waitRows(t, 7, true, 10*time.Second)
	if got := res.Summary["messages"]; got != float64(7) {
		t.Fatalf("summary says %v messages, want 7", got)
	}
}

// TestE2E_BadConfigurationOneLine: a wrong flag or variable value fails at
// start with one line naming it and the value.
func TestE2E_BadConfigurationOneLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		args  []string
		env   []string
		wants []string
	}{
		{"flag", []string{"run", "--batch-size=lots"}, nil, []string{"batch-size", "lots"}},
		{"env", []string{"run"}, []string{"NEWSFLOW_BATCH_WAIT=5 parsecs"}, []string{"NEWSFLOW_BATCH_WAIT", "5 parsecs"}},
		{"cross-stage", []string{"run", "--batch-wait=40s"}, nil, []string{"--batch-wait", "--ack-wait"}},
		{"provider", []string{"run", "--llm-provider=gpt5"}, []string{"NEWSFLOW_DATA_DIR=" + t.TempDir(), "NEWSFLOW_HTTP_ADDR=127.0.0.1:0"}, []string{"gpt5"}},
		{"subcommand", []string{"runn"}, nil, []string{"runn", "run"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(workerBin, tc.args...)
			cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "NEWSFLOW_LOG_LEVEL=error", "NATS_URL=" + natstest.URL()}, tc.env...)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("exit status 0, want failure; output:\n%s", out)
			}
			msg := strings.TrimSpace(string(out))
			if strings.Count(msg, "\n") > 0 {
				t.Errorf("want one line, got:\n%s", msg)
			}
			for _, want := range tc.wants {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not mention %q", msg, want)
				}
			}
		})
	}
}
