package redact

import (
	"io"
	"testing"
)

// BenchmarkWriter is the cost a redacting stderr adds to one typical JSON
// log entry of worker run.
func BenchmarkWriter(b *testing.B) {
	w := New("AIzaLITERALKEY1234", "p4ssw0rd").Writer(io.Discard)
	line := []byte(`{"level":"info","ts":"2026-12-01T10:00:00.000Z","logger":"worker","msg":"batch committed","batch":42,"messages":500,"unique":412,"llm_calls":3,"duration":"1.234s","stage":"commit"}` + "\n")
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := w.Write(line); err != nil {
			b.Fatal(err)
		}
	}
}
