// Command consumerstage benchmarks newsflow's JetStream stage alone. A
// stream prefilled with --messages ~1 KiB generated messages (with
// Nats-Msg-Id, like the publisher's) is consumed by internal/consumer, which
// decodes and validates each one; the deliveries are gathered into batches
// of --batch-size, "committed" by --committers goroutines that sleep
// --commit-delay, and acked after that, as the worker does, without Postgres
// or enrichment.
//
// Each run uses a new durable and reports msgs/s, this process's CPU per
// message (the consumer stage with the NATS client), the NATS server's CPU
// per message, the server's protocol messages per news message (in_msgs and
// out_msgs of /varz, with --monitor-url) and syscalls per 1000 messages.
// With --server-pid the server's figures are its own; without, they are the
// sum over every process named nats-server, as in the end-to-end bench, and
// include whatever else those servers do meanwhile.
//
// Usage: go run ./bench/consumerstage --nats-url URL --server-pid PID [--monitor-url http://127.0.0.1:8222] [flags]
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"newsflow/bench/internal/publish"
	"newsflow/internal/consumer"
	"newsflow/internal/gen"
	"newsflow/internal/news"
	"newsflow/internal/stream"
	"newsflow/internal/workerproc"
)

type config struct {
	natsURL, monitorURL string
	serverPid           int
	messages, bodyBytes int
	runs                int
	batchSize           int
	committers          int
	commitDelay         time.Duration
	fetchBatch          int
	cpuProfile          string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "consumerstage:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	var c config
	fs := flag.NewFlagSet("consumerstage", flag.ContinueOnError)
	fs.StringVar(&c.natsURL, "nats-url", "nats://127.0.0.1:4222", "NATS server")
	fs.StringVar(&c.monitorURL, "monitor-url", "", "the server's monitoring endpoint (nats-server -m), for protocol message counts; empty skips them")
	fs.IntVar(&c.serverPid, "server-pid", 0, "pid of the NATS server, for its CPU and syscalls; 0 sums the CPU of every nats-server process")
	fs.IntVar(&c.messages, "messages", 200000, "messages prefilled and consumed per run")
	fs.IntVar(&c.bodyBytes, "body-bytes", 1024, "approximate body size")
	fs.IntVar(&c.runs, "runs", 3, "runs over the same stream, each with a new durable")
	fs.IntVar(&c.batchSize, "batch-size", 100, "deliveries per simulated commit")
	fs.IntVar(&c.committers, "committers", 4, "batches committed at once")
	fs.DurationVar(&c.commitDelay, "commit-delay", 2*time.Millisecond, "duration of a simulated commit")
	fs.IntVar(&c.fetchBatch, "fetch-batch", consumer.DefaultFetchBatch, "the consumer's FetchBatch (prefetch)")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of this process over all runs to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.messages < 1 || c.runs < 1 || c.batchSize < 1 || c.committers < 1 {
		return errors.New("--messages, --runs, --batch-size and --committers must be ≥ 1")
	}
	nc, err := nats.Connect(c.natsURL, nats.Name("newsflow-consumerstage"))
	if err != nil {
		return fmt.Errorf("connect to NATS at %s: %w", c.natsURL, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return err
	}
	var r [4]byte
	_, _ = rand.Read(r[:])
	name := "BENCH_CS_" + strings.ToUpper(hex.EncodeToString(r[:]))
	lower := strings.ToLower(name)
	sc := stream.Config{Name: name, Subjects: []string{lower + ".>"}}
	if _, _, err := stream.Ensure(ctx, js, sc, false, nil); err != nil {
		return err
	}
	defer func() {
		_ = js.DeleteStream(context.Background(), name)
		_ = js.DeleteStream(context.Background(), name+"_DLQ")
	}()
	fmt.Printf("prefilling %d messages into %s ...\n", c.messages, name)
	if err := prefill(ctx, js, lower+".ingest.bench", c, name); err != nil {
		return err
	}
	if c.cpuProfile != "" {
		f, err := os.Create(c.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Println("| run | msgs/s | client µs/msg | server µs/msg | server in msgs/msg | server out msgs/msg | client reads, writes /1000 msgs | server reads, writes /1000 msgs |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	var rates, clientUs, serverUs []float64
	for i := range c.runs {
		res, err := runOnce(ctx, js, c, sc, fmt.Sprintf("%s_%d", name, i+1))
		if err != nil {
			return err
		}
		rates, clientUs, serverUs = append(rates, res.rate), append(clientUs, res.clientUs), append(serverUs, res.serverUs)
		fmt.Printf("| %d | %.0f | %.2f | %.2f | %s | %s | %s | %s |\n", i+1, res.rate, res.clientUs, res.serverUs,
			perMsg(res.inMsgs, c.messages), perMsg(res.outMsgs, c.messages), res.clientIO, res.serverIO)
	}
	fmt.Printf("RESULT consumerstage messages=%d runs=%d median msgs_per_s=%.0f client_us_per_msg=%.2f server_us_per_msg=%.2f\n",
		c.messages, c.runs, median(rates), median(clientUs), median(serverUs))
	return nil
}

func prefill(ctx context.Context, js jetstream.JetStream, subject string, c config, prefix string) error {
	g, err := gen.New(gen.Config{Seed: 1, DupContent: 0.15, BodyBytes: c.bodyBytes, IDPrefix: prefix})
	if err != nil {
		return err
	}
	msgs := make([]news.Message, c.messages)
	for i := range msgs {
		msgs[i] = g.Next()
	}
	_, err = publish.Messages(ctx, js, subject, msgs, 0)
	return err
}

type result struct {
	rate, clientUs, serverUs float64
	inMsgs, outMsgs          float64 // -1: unknown
	clientIO, serverIO       string
}

// runOnce consumes the whole stream with a new durable and acks it batch by
// batch after the simulated commit.
func runOnce(ctx context.Context, js jetstream.JetStream, c config, sc stream.Config, durable string) (result, error) {
	cons, err := consumer.New(ctx, js, consumer.Config{Stream: sc, Durable: durable, FetchBatch: c.fetchBatch,
		DLQStream: sc.Name + "_DLQ", DLQSubjectPrefix: strings.ToLower(sc.Name) + "-dlq"}, nil, prometheus.NewRegistry())
	if err != nil {
		return result{}, err
	}
	defer cons.Close()
	defer func() { _ = js.DeleteConsumer(context.Background(), sc.Name, durable) }()

	v0, _ := varz(c.monitorURL)
	sr0, sw0 := syscalls(c.serverPid)
	cr0, cw0 := syscalls(os.Getpid())
	s0, c0, t0 := serverCPU(c.serverPid), ownCPU(), time.Now()

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := make(chan *consumer.Delivery, c.batchSize)
	runErr := make(chan error, 1)
	go func() { runErr <- cons.Run(runCtx, out) }()
	batches := make(chan []*consumer.Delivery)
	go func() { // the batcher
		defer close(batches)
		var cur []*consumer.Delivery
		for d := range out {
			if cur = append(cur, d); len(cur) == c.batchSize {
				batches <- cur
				cur = nil
			}
		}
		cons.NakAll(cur) // shutting down with a partial batch
	}()
	var acked atomic.Int64
	done := make(chan struct{})
	var doneOnce sync.Once
	var committers sync.WaitGroup
	for range c.committers {
		committers.Go(func() {
			for b := range batches {
				time.Sleep(c.commitDelay) // the commit
				cons.Ack(b)
				if acked.Add(int64(len(b))) >= int64(c.messages) {
					doneOnce.Do(func() { close(done) })
				}
			}
		})
	}
	var waitErr error
	select {
	case <-done:
	case <-ctx.Done():
		waitErr = ctx.Err()
	case <-time.After(10 * time.Minute):
		waitErr = fmt.Errorf("%d of %d messages acked within 10 minutes", acked.Load(), c.messages)
	}
	elapsed := time.Since(t0).Seconds()
	if waitErr == nil {
		waitErr = settled(ctx, js, sc.Name, durable)
	}
	s1, c1 := serverCPU(c.serverPid), ownCPU()
	sr1, sw1 := syscalls(c.serverPid)
	cr1, cw1 := syscalls(os.Getpid())
	v1, _ := varz(c.monitorURL)
	cancel()
	err = errors.Join(waitErr, <-runErr)
	committers.Wait()
	if err != nil {
		return result{}, err
	}
	n := float64(c.messages)
	res := result{rate: n / elapsed, clientUs: (c1 - c0) / n * 1e6, serverUs: (s1 - s0) / n * 1e6, inMsgs: -1, outMsgs: -1,
		clientIO: fmt.Sprintf("%.0f, %.0f", (cr1-cr0)/n*1000, (cw1-cw0)/n*1000), serverIO: "n/a"}
	if c.serverPid > 0 {
		res.serverIO = fmt.Sprintf("%.0f, %.0f", (sr1-sr0)/n*1000, (sw1-sw0)/n*1000)
	}
	if v0 != nil && v1 != nil {
		res.inMsgs, res.outMsgs = float64(v1.InMsgs-v0.InMsgs), float64(v1.OutMsgs-v0.OutMsgs)
	}
	return res, nil
}

// settled waits until the server processed every ack, so that its CPU
// figure covers them.
func settled(ctx context.Context, js jetstream.JetStream, stream, durable string) error {
	if err := js.Conn().Flush(); err != nil {
		return err
	}
	cons, err := js.Consumer(ctx, stream, durable)
	if err != nil {
		return err
	}
	for range 500 {
		info, err := cons.Info(ctx)
		if err != nil {
			return err
		}
		if info.NumAckPending == 0 && info.NumPending == 0 {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return errors.New("acks not settled on the server within 5s")
}

type varzResp struct {
	InMsgs  int64 `json:"in_msgs"`
	OutMsgs int64 `json:"out_msgs"`
}

func varz(monitorURL string) (*varzResp, error) {
	if monitorURL == "" {
		return nil, nil
	}
	resp, err := http.Get(strings.TrimRight(monitorURL, "/") + "/varz")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var v varzResp
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return nil, err
	}
	return &v, nil
}

func perMsg(count float64, n int) string {
	if count < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.3f", count/float64(n))
}

func ownCPU() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// serverCPU is the CPU seconds of pid, or of every nats-server process when
// pid is 0.
func serverCPU(pid int) float64 {
	if pid == 0 {
		return workerproc.CPUByCommand("nats-server")["nats-server"]
	}
	st, _ := workerproc.ReadStat(pid)
	return st.CPUSeconds
}

// syscalls returns the read and write syscalls pid made so far (0, 0 when
// pid is 0 or unknown).
func syscalls(pid int) (reads, writes float64) {
	if pid == 0 {
		return 0, 0
	}
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/io")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "syscr: "); ok {
			reads, _ = strconv.ParseFloat(v, 64)
		} else if v, ok := strings.CutPrefix(l, "syscw: "); ok {
			writes, _ = strconv.ParseFloat(v, 64)
		}
	}
	return reads, writes
}

func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
