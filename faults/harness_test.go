package faults_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"newsflow/internal/await"
	"newsflow/internal/natstest"
	"newsflow/internal/workerproc"
)

var bins struct {
	once sync.Once
	dir  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bins.dir != "" {
		_ = os.RemoveAll(bins.dir)
	}
	os.Exit(code)
}

// need skips the test unless NEWSFLOW_FAULTS is set, and returns the path
// of the freshly built binaries' directory.
func need(t *testing.T) string {
	t.Helper()
	if os.Getenv("NEWSFLOW_FAULTS") == "" {
		t.Skip("fault tests run with NEWSFLOW_FAULTS=1 (make test-faults)")
	}
	bins.once.Do(func() {
		if bins.dir, bins.err = os.MkdirTemp("", "newsflow-faults-"); bins.err != nil {
			return
		}
		root, err := workerproc.ModuleRoot()
		if err != nil {
			bins.err = err
			return
		}
		_, _, bins.err = workerproc.Build(context.Background(), root, bins.dir)
	})
	if bins.err != nil {
		t.Fatal(bins.err)
	}
	return bins.dir
}

// proc is a worker or publisher process.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stdout bytes.Buffer // read only after done
	stderr string       // log file
	done   chan struct{}
	err    error
}

func start(t *testing.T, dir, name string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, done: make(chan struct{}), stderr: filepath.Join(t.TempDir(), name+".log")}
	errf, err := os.Create(p.stderr)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(filepath.Join(dir, strings.Fields(name)[0]), args...)
	p.cmd.Env = append(os.Environ(), "NEWSFLOW_LOG_LEVEL=info")
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, errf
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		_ = errf.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Signal(syscall.SIGCONT)
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// wait waits for the process to exit and returns its exit status.
func (p *proc) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("%s still running after %s; its log: %s", p.name, timeout, p.tail())
	}
	if p.err != nil && p.cmd.ProcessState == nil {
		t.Fatalf("%s: %v", p.name, p.err)
	}
	return p.cmd.ProcessState.ExitCode()
}

func (p *proc) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %s to %s: %v", sig, p.name, err)
	}
}

// tail is the end of the process's log, for failure messages.
func (p *proc) tail() string {
	b, _ := os.ReadFile(p.stderr)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// names are one test's stream, consumer and subjects.
type names struct {
	stream, consumer, dlq, dlqPrefix, subject string
}

func newNames(t *testing.T) names {
	n := natstest.Name(t)
	return names{stream: n, consumer: n, dlq: n + "_DLQ", dlqPrefix: strings.ToLower(n) + "-dlq", subject: n + ".ingest"}
}

// streamArgs are the stream flags both programs take.
func (n names) streamArgs(natsURL string, replicas int) []string {
	return []string{"--nats-url", natsURL, "--stream", n.stream, "--subjects", n.stream + ".>", "--stream-replicas", strconv.Itoa(replicas)}
}

func (n names) workerArgs(t *testing.T, natsURL string, replicas int, dsn string, extra ...string) []string {
	args := append([]string{"run"}, n.streamArgs(natsURL, replicas)...)
	args = append(args, "--consumer", n.consumer, "--dlq-stream", n.dlq, "--dlq-subject-prefix", n.dlqPrefix,
		"--database-url", dsn, "--http-addr", "127.0.0.1:"+strconv.Itoa(freePort(t)), "--data-dir", t.TempDir(),
		"--lag-interval", "0", "--llm-provider", "offline")
	return append(args, extra...)
}

func (n names) genArgs(natsURL string, replicas, count, rate int, extra ...string) []string {
	args := append([]string{"gen", "--count", strconv.Itoa(count), "--rate", strconv.Itoa(rate), "--body-bytes", "300",
		"--id-prefix", strings.ToLower(n.stream), "--subject", n.subject}, n.streamArgs(natsURL, replicas)...)
	return append(args, extra...)
}

var summaryRE = regexp.MustCompile(`^published (\d+) \(retried (\d+)\), duplicates (\d+) \(in the input, dropped by JetStream\), invalid (\d+), failed (\d+), not attempted (\d+), (\d+) msgs/s\n$`)

// summary is the publisher's last line, parsed.
type summary struct{ published, retried, duplicates, invalid, failed, notAttempted, rate int }

func parseSummary(t *testing.T, p *proc) summary {
	t.Helper()
	m := summaryRE.FindStringSubmatch(p.stdout.String())
	if m == nil {
		t.Fatalf("publisher stdout is not one summary line: %q; log: %s", p.stdout.String(), p.tail())
	}
	var n [7]int
	for i := range n {
		n[i], _ = strconv.Atoi(m[i+1])
	}
	return summary{n[0], n[1], n[2], n[3], n[4], n[5], n[6]}
}

// jetStream connects to urls and waits until JetStream answers (a
// cluster elects its meta leader first).
func jetStream(t *testing.T, urls string) jetstream.JetStream {
	t.Helper()
	nc := natstest.Connect(t, urls, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	await.Until(t, 30*time.Second, "JetStream to answer", func() (bool, string) {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		_, err := js.AccountInfo(ctx)
		return err == nil, fmt.Sprint(err)
	})
	return js
}

// streamMsgs returns the stream's message count, or -1 when the stream
// cannot answer now (a leader election).
func streamMsgs(t *testing.T, js jetstream.JetStream, stream string) int64 {
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return -1
	}
	return int64(s.CachedInfo().State.Msgs)
}

// rows counts the articles in the database at dsn; -1 while it is down.
func rows(t *testing.T, dsn string) int64 {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return -1
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var n int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM articles").Scan(&n); err != nil {
		return -1
	}
	return n
}

// progress samples a counter until stop says so and reports the longest
// time it did not grow, after a given moment.
type progress struct {
	longest     time.Duration
	longestFrom time.Time
	last        int64
}

// watch samples count every 100ms until done returns true or timeout
// passes, calling each at every sample (after may act on the moment).
// It returns the longest stall of the counter that ended after since().
func watch(t *testing.T, timeout time.Duration, count func() int64, done func(n int64) bool) progress {
	t.Helper()
	var p progress
	lastGrowth := time.Now()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		n := count()
		now := time.Now()
		if n > p.last {
			if d := now.Sub(lastGrowth); d > p.longest {
				p.longest, p.longestFrom = d, lastGrowth
			}
			p.last, lastGrowth = n, now
		}
		if done(n) {
			return p
		}
		if now.After(deadline) {
			t.Fatalf("timed out after %s; counter at %d", timeout, p.last)
		}
		<-tick.C // sampling interval, not synchronisation
	}
}
