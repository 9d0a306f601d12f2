package redistest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"newsflow/internal/await"
)

// CLIBinary is the redis-cli executable StartCluster runs to create the cluster.
var CLIBinary = "/usr/bin/redis-cli"

// ClusterNodeTimeout is the private clusters' cluster-node-timeout: a killed
// master is marked failed after about this long, and its FAIL flag is
// cleared two timeouts after that once it is back.
const ClusterNodeTimeout = 2 * time.Second

// Cluster is a private Redis Cluster of masters without replicas, on
// loopback ports, so a test can kill a master and start it again on the
// same port with its nodes.conf.
type Cluster struct {
	Nodes []*Server
	tb    testing.TB
}

// StartCluster starts masters redis-server processes with cluster mode on,
// on free ports, joins them with `redis-cli --cluster create` (the slots
// split evenly, no replicas) and waits until every node reports
// cluster_state:ok. The processes are killed in t.Cleanup. The test is
// skipped when redis-server or redis-cli is missing.
func StartCluster(tb testing.TB, masters int) *Cluster {
	tb.Helper()
	if _, err := os.Stat(CLIBinary); err != nil {
		tb.Skipf("redistest: %s not available (install the redis-tools package): %v", CLIBinary, err)
	}
	c := &Cluster{tb: tb}
	addrs := make([]string, masters)
	for i := range masters {
		s := newServer(tb)
		s.args = []string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes-" + strconv.Itoa(s.Port) + ".conf",
			"--cluster-node-timeout", strconv.FormatInt(ClusterNodeTimeout.Milliseconds(), 10)}
		s.Start()
		c.Nodes = append(c.Nodes, s)
		addrs[i] = s.Addr()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, CLIBinary, args...).CombinedOutput(); err != nil {
		tb.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	c.WaitOK()
	return c
}

// Addrs are the nodes' host:port addresses.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, s := range c.Nodes {
		out[i] = s.Addr()
	}
	return out
}

// URL is the cluster in the form redis.ParseClusterURL reads:
// redis://h1:p1?addr=h2:p2&addr=h3:p3.
func (c *Cluster) URL() string {
	addrs := c.Addrs()
	u := "redis://" + addrs[0]
	for i, a := range addrs[1:] {
		sep := "&"
		if i == 0 {
			sep = "?"
		}
		u += sep + "addr=" + a
	}
	return u
}

// Client returns a new cluster client, closed in t.Cleanup.
func (c *Cluster) Client(tb testing.TB) *redis.ClusterClient {
	tb.Helper()
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), DialTimeout: time.Second,
		ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second})
	tb.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// WaitOK waits until every running node answers CLUSTER INFO with
// cluster_state:ok, and fails the test after 30s.
func (c *Cluster) WaitOK() {
	c.tb.Helper()
	await.Until(c.tb, 30*time.Second, "cluster_state:ok on every node", func() (bool, string) {
		if err := c.stateOK(); err != nil {
			return false, err.Error()
		}
		return true, ""
	})
}

func (c *Cluster) stateOK() error {
	for _, s := range c.Nodes {
		rdb := redis.NewClient(&redis.Options{Addr: s.Addr(), DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		info, err := rdb.ClusterInfo(ctx).Result()
		cancel()
		_ = rdb.Close()
		if err != nil {
			return fmt.Errorf("node %s: %w", s.Addr(), err)
		}
		if !strings.Contains(info, "cluster_state:ok") {
			return fmt.Errorf("node %s: cluster_state not ok", s.Addr())
		}
	}
	return nil
}

// Node returns the index in Nodes of the master that holds key's slot.
func (c *Cluster) Node(ctx context.Context, rdb *redis.ClusterClient, key string) int {
	c.tb.Helper()
	m, err := rdb.MasterForKey(ctx, key)
	if err != nil {
		c.tb.Fatalf("redistest: master for key %q: %v", key, err)
	}
	for i, s := range c.Nodes {
		if s.Addr() == m.Options().Addr {
			return i
		}
	}
	c.tb.Fatalf("redistest: key %q on unknown node %s", key, m.Options().Addr)
	return -1
}

// Keys returns the number of keys on each node (DBSIZE), in the order of Nodes.
func (c *Cluster) Keys(tb testing.TB) []int64 {
	tb.Helper()
	out := make([]int64, len(c.Nodes))
	for i, s := range c.Nodes {
		rdb := redis.NewClient(&redis.Options{Addr: s.Addr(), DialTimeout: time.Second, MaxRetries: -1})
		n, err := rdb.DBSize(context.Background()).Result()
		_ = rdb.Close()
		if err != nil {
			tb.Fatalf("redistest: dbsize of %s: %v", s.Addr(), err)
		}
		out[i] = n
	}
	return out
}

// WaitFailed waits until node i (running) reports cluster_state:fail, as
// the survivors do once a master without replicas has been unreachable for
// ClusterNodeTimeout; it fails the test after 30s.
func (c *Cluster) WaitFailed(i int) {
	c.tb.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: c.Nodes[i].Addr(), DialTimeout: time.Second, MaxRetries: -1})
	defer func() { _ = rdb.Close() }()
	await.Until(c.tb, 30*time.Second, "node "+c.Nodes[i].Addr()+" to report cluster_state:fail", func() (bool, string) {
		info, err := rdb.ClusterInfo(context.Background()).Result()
		if err != nil {
			return false, err.Error()
		}
		return strings.Contains(info, "cluster_state:fail"), "cluster_state not fail"
	})
}
