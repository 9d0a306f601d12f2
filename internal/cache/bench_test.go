package cache

import (
	"context"
	"testing"
	"time"

	"newsflow/internal/redistest"
)

// BenchmarkGetMany looks up 100 keys that are all in memory, or all only in
// Redis (memory purged before each call): the shared Redis (one MGET), or a
// private three-master Redis Cluster (one pipeline per master).
func BenchmarkGetMany(b *testing.B) {
	for _, tier := range []string{"memory", "redis", "redis-cluster"} {
		b.Run(tier, func(b *testing.B) {
			var bb *bundle
			if tier == "redis-cluster" {
				bb = clusterBundle(b, redistest.StartCluster(b, 3), "bench:", nil)
			} else {
				bb = setup(b, Config{})
			}
			ks := keys(100, "bench-")
			ctx := context.Background()
			for _, k := range ks {
				if err := bb.rdb.Set(ctx, bb.t.valueKey(k), value(k), time.Hour).Err(); err != nil {
					b.Fatal(err)
				}
			}
			if got, err := bb.t.GetMany(ctx, ks); err != nil || len(got) != len(ks) {
				b.Fatalf("GetMany = %d values, %v", len(got), err)
			}
			n := 0
			for b.Loop() {
				if tier != "memory" {
					bb.t.mem.Purge()
				}
				got, _ := bb.t.GetMany(ctx, ks)
				n += len(got)
			}
			if n != b.N*len(ks) {
				b.Fatalf("found %d of %d", n, b.N*len(ks))
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "keys/s")
		})
	}
}
