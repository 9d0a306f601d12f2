package llm_test

import (
	"syscall"
	"testing"
	"time"

	"newsflow/internal/gen"
	"newsflow/internal/llm"
	"newsflow/internal/news"
)

// BenchmarkOfflineEnrichment measures one story's enrichment over 256
// generated stories of the default size (about 1 KiB of body):
//
//	go test -run '^$' -bench OfflineEnrichment -benchmem ./internal/llm
func BenchmarkOfflineEnrichment(b *testing.B) {
	g, err := gen.New(gen.Config{Seed: 1, Now: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		b.Fatal(err)
	}
	msgs := make([]news.Message, 256)
	for i := range msgs {
		msgs[i] = g.Next()
	}
	b.ReportAllocs()
	cpu0 := processCPU(b)
	i := 0
	for b.Loop() {
		_ = llm.OfflineEnrichment(msgs[i%len(msgs)])
		i++
	}
	// On a shared machine ns/op is wall time and counts the waits for a CPU;
	// the process's CPU time per story is the figure to compare.
	b.ReportMetric(float64((processCPU(b)-cpu0).Nanoseconds())/float64(i), "cpu-ns/op")
}

// processCPU returns the user and system CPU time the process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
