package natstest

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// Cluster is a private cluster of nats-server processes with JetStream,
// each on free loopback ports with its store in a t.TempDir(), for tests
// of node loss. Kill and Start act on one node by index.
type Cluster struct {
	t     testing.TB
	bin   string
	nodes []*node
}

type node struct {
	name        string
	port, cport int
	dir         string

	mu  sync.Mutex
	cmd *exec.Cmd
	out *os.File
}

// StartCluster starts an n-node cluster (n ≥ 3 for JetStream replicas to
// survive a node loss), waits until every node accepts clients, and kills
// it in t.Cleanup. It skips the test when the binary is missing.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	c := &Cluster{t: t, bin: serverBinary(t)}
	ports := freePorts(t, 2*n)
	for i := range n {
		c.nodes = append(c.nodes, &node{name: "n" + strconv.Itoa(i), port: ports[2*i], cport: ports[2*i+1], dir: t.TempDir()})
	}
	t.Cleanup(func() {
		for i := range c.nodes {
			c.Kill(i)
		}
	})
	for i := range c.nodes {
		c.Start(i)
	}
	return c
}

// freePorts returns n distinct free loopback ports.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("natstest: find a free port: %v", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		_ = l.Close()
	}
	return ports
}

// URLs is every node's client URL, comma-separated, as nats.Connect takes it.
func (c *Cluster) URLs() string {
	var u []string
	for i := range c.nodes {
		u = append(u, c.URL(i))
	}
	return strings.Join(u, ",")
}

// URL is node i's client URL.
func (c *Cluster) URL(i int) string { return "nats://127.0.0.1:" + strconv.Itoa(c.nodes[i].port) }

// Name is node i's server name, as JetStream reports leaders and replicas.
func (c *Cluster) Name(i int) string { return c.nodes[i].name }

// Index returns the index of the node named name, or -1.
func (c *Cluster) Index(name string) int {
	for i, n := range c.nodes {
		if n.name == name {
			return i
		}
	}
	return -1
}

// Start (re)starts node i on its ports and store and waits until it
// accepts clients. It is a no-op while the node runs.
func (c *Cluster) Start(i int) {
	c.t.Helper()
	n := c.nodes[i]
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		return
	}
	var routes []string
	for _, o := range c.nodes {
		if o != n {
			routes = append(routes, "nats://127.0.0.1:"+strconv.Itoa(o.cport))
		}
	}
	n.cmd, n.out = startProcess(c.t, "node "+n.name, c.bin, n.dir, n.port,
		"-js", "-n", n.name, "-a", "127.0.0.1", "-p", strconv.Itoa(n.port), "-sd", n.dir,
		"--cluster_name", "newsflow-test", "--cluster", "nats://127.0.0.1:"+strconv.Itoa(n.cport),
		"--routes", strings.Join(routes, ","))
}

// Kill ends node i with SIGKILL, as a crashed machine would, and waits for
// the process to exit. It is a no-op when the node is not running.
func (c *Cluster) Kill(i int) {
	n := c.nodes[i]
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGKILL)
	_ = n.cmd.Wait()
	_ = n.out.Close()
	n.cmd, n.out = nil, nil
}

// Log returns node i's log file path, for failure messages.
func (c *Cluster) Log(i int) string { return filepath.Join(c.nodes[i].dir, "server.log") }
