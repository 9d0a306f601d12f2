package worker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"newsflow/internal/consumer"
	"newsflow/internal/gen"
	"newsflow/internal/worker"
)

// BenchmarkPipeline drains a prefilled stream through the whole pipeline in
// this process (real NATS and Postgres on loopback), so that -cpuprofile
// shows where the worker's time goes. Each iteration runs a fresh durable
// over the same messages into an emptied table.
//
//	go test -run '^$' -bench Pipeline -benchtime 3x -cpuprofile cpu.out ./internal/worker/
func BenchmarkPipeline(b *testing.B) {
	for _, committers := range []int{2, 4, 8} {
		b.Run(fmt.Sprintf("committers=%d", committers), func(b *testing.B) { benchmarkPipeline(b, committers, nil) })
	}
}

// BenchmarkPipelineTracing is BenchmarkPipeline with 4 committers untraced
// (off) and traced, keeping 1 % and 100 % of the batches (spans go to an
// exporter that drops them, behind the SDK's batching processor as in
// production).
//
//	go test -run '^$' -bench PipelineTracing -benchtime 3x -count 5 ./internal/worker/
func BenchmarkPipelineTracing(b *testing.B) {
	b.Run("off", func(b *testing.B) { benchmarkPipeline(b, 4, nil) })
	for _, ratio := range []float64{0.01, 1} {
		b.Run(fmt.Sprintf("sampled=%g", ratio), func(b *testing.B) {
			tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()),
				sdktrace.WithSampler(sdktrace.TraceIDRatioBased(ratio)))
			defer func() { _ = tp.Shutdown(context.Background()) }()
			benchmarkPipeline(b, 4, tp)
		})
	}
}

func benchmarkPipeline(b *testing.B, committers int, tp trace.TracerProvider) {
	const n = 50000
	bb := setupB(b)
	g, err := gen.New(gen.Config{Seed: 1, DupContent: 0.15, IDPrefix: bb.name})
	if err != nil {
		b.Fatal(err)
	}
	for range n {
		m := g.Next()
		bb.publish(b, encode(b, m), m.ID)
	}
	bb.flushPublishes(b)
	iter := 0
	for b.Loop() {
		b.StopTimer()
		if _, err := bb.store.Pool().Exec(context.Background(), "TRUNCATE articles"); err != nil {
			b.Fatal(err)
		}
		cfg := bb.cfg
		cfg.Durable = fmt.Sprintf("%s_%d", bb.name, iter)
		iter++
		ctx, cancel := context.WithCancel(context.Background())
		cons, err := consumer.New(ctx, bb.js, cfg, zap.NewNop(), prometheus.NewRegistry())
		if err != nil {
			b.Fatal(err)
		}
		w, err := worker.New(worker.Config{Committers: committers, TracerProvider: tp}, cons, bb.store, nil, nil, zap.NewNop(), prometheus.NewRegistry())
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		done := make(chan error, 1)
		go func() { done <- w.Run(ctx) }()
		for w.Totals().Messages.Load() < n {
			time.Sleep(5 * time.Millisecond)
		}
		el := time.Since(start)
		cancel()
		<-done
		cons.Close()
		b.ReportMetric(float64(n)/el.Seconds(), "msgs/s")
	}
}
