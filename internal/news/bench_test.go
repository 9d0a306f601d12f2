package news_test

import (
	"testing"
	"time"

	"newsflow/internal/gen"
	"newsflow/internal/news"
)

// genMessages returns n messages of the synthetic generator the load tests
// use (1 KiB bodies by default), so the benchmarks see realistic text:
// mixed case, digits, punctuation and the odd non-ASCII name.
func genMessages(b testing.TB, n int) (msgs []news.Message, avgBytes int64) {
	b.Helper()
	g, err := gen.New(gen.Config{Seed: 1, Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		b.Fatal(err)
	}
	msgs = make([]news.Message, n)
	var total int
	for i := range msgs {
		msgs[i] = g.Next()
		total += len(msgs[i].Title) + len(msgs[i].Body)
	}
	return msgs, int64(total / n)
}

// BenchmarkContentHashGenerated hashes 1024 generated messages in rotation.
func BenchmarkContentHashGenerated(b *testing.B) {
	msgs, avg := genMessages(b, 1024)
	b.SetBytes(avg)
	b.ReportAllocs()
	var sink news.Hash
	i := 0
	for b.Loop() {
		sink[0] ^= msgs[i%len(msgs)].ContentHash()[0]
		i++
	}
}

// BenchmarkNormalizeGenerated normalises the title and body of 1024 generated
// messages in rotation, without hashing: the normalisation's share of
// BenchmarkContentHashGenerated.
func BenchmarkNormalizeGenerated(b *testing.B) {
	msgs, avg := genMessages(b, 1024)
	b.SetBytes(avg)
	b.ReportAllocs()
	buf := make([]byte, 0, 4096)
	i := 0
	for b.Loop() {
		m := &msgs[i%len(msgs)]
		buf = news.AppendNormalized(buf[:0], m.Title)
		buf = append(buf, '\n')
		buf = news.AppendNormalized(buf, m.Body)
		i++
	}
}

// genWire returns n generated messages in the wire format, as the load tests
// publish them, and their average size.
func genWire(b testing.TB, n int) (wire [][]byte, avgBytes int64) {
	b.Helper()
	msgs, _ := genMessages(b, n)
	wire = make([][]byte, n)
	var total int
	for i := range msgs {
		data, err := msgs[i].MarshalJSON()
		if err != nil {
			b.Fatal(err)
		}
		wire[i] = data
		total += len(data)
	}
	return wire, int64(total / n)
}

// BenchmarkDecodeGenerated decodes 1024 generated wire messages in rotation.
func BenchmarkDecodeGenerated(b *testing.B) {
	wire, avg := genWire(b, 1024)
	b.SetBytes(avg)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := news.DecodeLimit(wire[i%len(wire)], news.DefaultMaxBytes); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkDecodeSharedGenerated is BenchmarkDecodeGenerated with
// DecodeShared, as the consumer decodes.
func BenchmarkDecodeSharedGenerated(b *testing.B) {
	wire, avg := genWire(b, 1024)
	b.SetBytes(avg)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := news.DecodeShared(wire[i%len(wire)], news.DefaultMaxBytes); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkDecodeGeneratedReference is BenchmarkDecodeGenerated with the
// previous DecodeLimit, for comparison.
func BenchmarkDecodeGeneratedReference(b *testing.B) {
	wire, avg := genWire(b, 1024)
	b.SetBytes(avg)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := news.DecodeLimitRef(wire[i%len(wire)], news.DefaultMaxBytes); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
