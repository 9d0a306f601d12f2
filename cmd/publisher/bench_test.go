package main

import (
	"io"
	"strconv"
	"testing"

	"newsflow/internal/natstest"
)

// BenchmarkGen publishes generated ~1 KiB messages to the shared server
// through the whole command, as the benchmark prefill does.
func BenchmarkGen(b *testing.B) {
	const perRun = 20000
	js, _ := natstest.JetStream(b)
	name := natstest.Name(b)
	natstest.DeleteStreamOnCleanup(b, js, name)
	n := 0
	for b.Loop() {
		err := run(b.Context(), []string{"gen", "--count", strconv.Itoa(perRun), "--id-prefix", "b" + strconv.Itoa(n),
			"--nats-url", natstest.URL(), "--stream", name, "--subjects", name + ".>", "--subject", name + ".ingest",
			"--stream-max-bytes", strconv.Itoa(256 << 20)},
			func(k string) string {
				if k == "NEWSFLOW_LOG_LEVEL" {
					return "warn"
				}
				return ""
			}, nil, io.Discard, io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		n += perRun
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msgs/s")
}
