package main

import (
	"context"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"newsflow/internal/workerproc"
)

// serverGroup is one server the bench drives, found by the TCP port it
// listens on: its process and that process's children (Postgres' backends,
// WAL writer, checkpointer). Accounting by listener rather than by process
// name keeps another server of the same name, such as a private nats-server
// on another port, out of the figures.
type serverGroup struct {
	name string
	port int
	pid  int // 0 when the listener was not found (then the group reads as 0)
}

// findServer returns the group listening on port, or a group with pid 0 if
// no process of this user can be seen listening there.
func findServer(name string, port int) serverGroup {
	return serverGroup{name: name, port: port, pid: listenerPID(port)}
}

// portOf returns the port of a URL such as nats://host:4222 or
// postgres://host:5432/db, or def when it names none.
func portOf(rawURL string, def int) int {
	u, err := url.Parse(rawURL)
	if err != nil {
		return def
	}
	if _, p, err := net.SplitHostPort(u.Host); err == nil {
		if n, err := strconv.Atoi(p); err == nil {
			return n
		}
	}
	return def
}

// cpuSample is CPU seconds per process id at one moment.
type cpuSample map[int]float64

// sample reads the CPU seconds of the group's processes, leaving out the
// pids in skip.
func (g serverGroup) sample(skip map[int]bool) cpuSample {
	s := cpuSample{}
	if g.pid == 0 {
		return s
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, ok := workerproc.ReadStat(pid)
		if ok && (pid == g.pid || st.PPID == g.pid) && !skip[pid] {
			s[pid] = st.CPUSeconds
		}
	}
	return s
}

// cpuBetween returns the CPU seconds the processes of after used since
// before. A process that started in between counts whole; one that exited
// in between is lost (its time cannot be read any more) rather than
// subtracted.
func cpuBetween(before, after cpuSample) float64 {
	var sum float64
	for pid, cpu := range after {
		sum += cpu - before[pid]
	}
	return sum
}

// listenerPID finds the process holding a TCP socket that listens on port
// (IPv4 or IPv6), through /proc/net/tcp* and /proc/<pid>/fd; 0 if none.
func listenerPID(port int) int {
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			// sl local_address rem_address st ... inode (field 10)
			fields := strings.Fields(line)
			if len(fields) < 10 || fields[3] != "0A" { // 0A: LISTEN
				continue
			}
			i := strings.LastIndexByte(fields[1], ':')
			if p, err := strconv.ParseInt(fields[1][i+1:], 16, 32); err == nil && int(p) == port {
				inodes["socket:["+fields[9]+"]"] = true
			}
		}
	}
	if len(inodes) == 0 {
		return 0
	}
	fds, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range fds {
		if target, err := os.Readlink(fd); err == nil && inodes[target] {
			pid, _ := strconv.Atoi(strings.Split(fd, "/")[2])
			return pid
		}
	}
	return 0
}

// foreignBackends returns the pids of the Postgres client backends that
// serve anything but the phase's workers, which connect with the phase's
// name as application_name (phase.dsn): the other clients of a shared
// server, and the bench's own sampling connection. Their CPU is not the
// phase's. Background processes (WAL writer, checkpointer, autovacuum) stay
// counted. If the server cannot be asked, none are left out.
func foreignBackends(ctx context.Context, dsn, app string) map[int]bool {
	out := map[int]bool{}
	_ = withConn(ctx, dsn, func(conn *pgx.Conn) error {
		rows, _ := conn.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend'
			AND (application_name IS DISTINCT FROM $1 OR pid = pg_backend_pid())`, app)
		pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		for _, pid := range pids {
			out[int(pid)] = true
		}
		return err
	})
	return out
}

// procsCPU returns the CPU seconds the processes have used so far. The bench
// counts its own workers this way rather than every process named worker,
// which on a shared machine includes other runs' workers.
func procsCPU(procs []*workerproc.Proc) float64 {
	var sum float64
	for _, p := range procs {
		if st, ok := workerproc.ReadStat(p.Pid()); ok {
			sum += st.CPUSeconds
		}
	}
	return sum
}
