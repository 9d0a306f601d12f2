package cache

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"newsflow/internal/redistest"
)

// clusterBundle is a cache on its own client to the private cluster cl, as
// a worker with --redis-mode cluster has.
func clusterBundle(t testing.TB, cl *redistest.Cluster, prefix string, onNode func(*redis.Client)) *bundle {
	t.Helper()
	uc, err := NewRedisClient(redistest.Patient(cl.URL()), true, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = uc.Close() })
	if onNode != nil {
		uc.(*redis.ClusterClient).OnNewNode(onNode)
	}
	return newBundle(t, Config{KeyPrefix: prefix, CallTimeout: redistest.PatientTimeout}, uc)
}

// TestTiered_RedisCluster: three caches (three workers) on a private
// three-master Redis Cluster compute every key exactly once between them,
// with keys, leases and wake-ups on all three masters: every master's
// subscribers hear every key's notification, wherever its lease was. A
// batch lookup is one pipeline per node, never an MGET across slots.
func TestTiered_RedisCluster(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	cl := redistest.StartCluster(t, 3)
	const prefix = "nf:"
	var workers []*bundle
	for range 3 {
		workers = append(workers, clusterBundle(t, cl, prefix, nil))
	}
	ks := keys(30, "story-")
	cc := cl.Client(t)
	nodes := map[int]int{}
	for _, k := range ks {
		nodes[cl.Node(ctx, cc, workers[0].t.valueKey(k))]++
		nodes[cl.Node(ctx, cc, workers[0].t.leaseKey(k))]++
	}
	if len(nodes) != 3 {
		t.Fatalf("keys on nodes %v, want all three", nodes)
	}

	// A subscriber on each master, to see where the wake-ups reach.
	heard := make([]chan string, len(cl.Nodes))
	for i, s := range cl.Nodes {
		rdb := redis.NewClient(&redis.Options{Addr: s.Addr()})
		t.Cleanup(func() { _ = rdb.Close() })
		ps := rdb.Subscribe(ctx, prefix+"done")
		t.Cleanup(func() { _ = ps.Close() })
		if _, err := ps.Receive(ctx); err != nil { // the subscription's confirmation
			t.Fatal(err)
		}
		heard[i] = make(chan string, 10*len(ks))
		go func() {
			for m := range ps.Channel() {
				heard[i] <- m.Payload
			}
		}()
	}

	sources := doEverywhere(t, ctx, workers, 10, ks)
	for _, k := range ks {
		if n := cc.Exists(ctx, workers[0].t.leaseKey(k)).Val(); n != 0 {
			t.Errorf("lease of %s left behind", k)
		}
	}
	for i, b := range workers {
		if b.t.Degraded() {
			t.Errorf("worker %d degraded", i)
		}
		if n := b.metric(t, "newsflow_cache_lease_takeovers_total"); n != 0 {
			t.Errorf("worker %d: %v lease take-overs, want 0 (every owner was alive)", i, n)
		}
	}
	if sources[SourceComputed] != len(ks) {
		t.Errorf("sources %v: want %d computed", sources, len(ks))
	}
	for i := range cl.Nodes {
		missing := map[string]bool{}
		for _, k := range ks {
			missing[k] = true
		}
		timeout := time.After(10 * time.Second)
		for len(missing) > 0 {
			select {
			case k := <-heard[i]:
				delete(missing, k)
			case <-timeout:
				t.Fatalf("subscriber on node %d never heard %d keys, e.g. %v", i, len(missing), missing)
			}
		}
	}
	t.Logf("sources %v; keys per node %v", sources, nodes)

	// A fourth worker, its memory empty: one lookup of the whole batch is
	// one pipeline per node.
	var pmu sync.Mutex
	pipelines := map[string]int{}
	fresh := clusterBundle(t, cl, prefix, func(n *redis.Client) {
		n.AddHook(pipelineHook(func() {
			pmu.Lock()
			pipelines[n.Options().Addr]++
			pmu.Unlock()
		}))
	})
	fresh.cmds.reset()
	got, err := fresh.t.GetMany(ctx, append(ks, "absent"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{}
	for _, k := range ks {
		want[k] = value(k)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("GetMany (-want +got)\n%s", diff)
	}
	if n := fresh.cmds.count("mget"); n != 0 {
		t.Errorf("sent %d MGETs on a cluster", n)
	}
	if n := fresh.cmds.count("get"); n != len(ks)+1 {
		t.Errorf("sent %d GETs, want %d", n, len(ks)+1)
	}
	pmu.Lock()
	defer pmu.Unlock()
	if diff := cmp.Diff(map[string]int{cl.Nodes[0].Addr(): 1, cl.Nodes[1].Addr(): 1, cl.Nodes[2].Addr(): 1}, pipelines); diff != "" {
		t.Errorf("pipelines per node (-want +got)\n%s", diff)
	}
	if h := fresh.metric(t, "newsflow_cache_hits_total", "tier=redis"); h != float64(len(ks)) {
		t.Errorf("redis hits %v, want %d", h, len(ks))
	}
}

// pipelineHook calls f for each pipeline a client sends.
type pipelineHook func()

func (h pipelineHook) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h pipelineHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h pipelineHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h()
		return next(ctx, cmds)
	}
}
