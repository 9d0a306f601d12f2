// Package workerproc builds and runs newsflow's binaries as real processes,
// for the end-to-end tests and the benchmark harness: start a worker with an
// environment, wait until it has started, stop it with SIGTERM or kill it
// with SIGKILL, and read back its summary line and resource usage.
//
// It is test and tooling support; the product never imports it.
package workerproc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Build compiles ./cmd/worker and ./cmd/publisher of the module rooted at
// moduleDir into dir and returns the paths of the two binaries.
func Build(ctx context.Context, moduleDir, dir string) (worker, publisher string, err error) {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", dir+string(os.PathSeparator), "./cmd/worker", "./cmd/publisher")
	cmd.Dir = moduleDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("workerproc: go build: %w\n%s", err, out)
	}
	return filepath.Join(dir, "worker"), filepath.Join(dir, "publisher"), nil
}

// ModuleRoot walks up from the working directory to the directory holding
// go.mod.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("workerproc: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Proc is a running worker (or publisher) process whose JSON log is captured.
type Proc struct {
	cmd     *exec.Cmd
	ready   []byte // the log text that says the process has started
	mu      sync.Mutex
	log     bytes.Buffer
	started chan struct{}
	exited  chan struct{}
	waitErr error
	mirror  io.Writer
}

// Start runs bin with args and env (added to a minimal environment: PATH and
// HOME only, so the caller's NATS_URL and friends never leak in) and returns
// once the worker has logged "worker start", or an error if it exits or does
// not start within timeout. mirror, when non-nil, receives the log too.
func Start(bin string, args, env []string, timeout time.Duration, mirror io.Writer) (*Proc, error) {
	return StartReady(bin, args, env, `"worker start"`, timeout, mirror)
}

// StartReady is Start for any of the binaries: it returns once the process
// has logged a line containing ready (such as `"polling feeds"` for
// `publisher feeds`).
func StartReady(bin string, args, env []string, ready string, timeout time.Duration, mirror io.Writer) (*Proc, error) {
	p := &Proc{ready: []byte(ready), started: make(chan struct{}), exited: make(chan struct{}), mirror: mirror}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "NEWSFLOW_LOG_FORMAT=json"}, env...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	p.cmd.Stdout = io.Discard
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("workerproc: start %s: %w", bin, err)
	}
	go p.read(stderr)
	select {
	case <-p.started:
		return p, nil
	case <-p.exited:
		return nil, fmt.Errorf("workerproc: %s exited at start (%v); log:\n%s", filepath.Base(bin), p.waitErr, p.Log())
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return nil, fmt.Errorf("workerproc: %s did not start within %s; log:\n%s", filepath.Base(bin), timeout, p.Log())
	}
}

func (p *Proc) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	once := sync.Once{}
	for sc.Scan() {
		line := sc.Bytes()
		p.mu.Lock()
		p.log.Write(line)
		p.log.WriteByte('\n')
		p.mu.Unlock()
		if p.mirror != nil {
			fmt.Fprintf(p.mirror, "%s\n", line)
		}
		if bytes.Contains(line, p.ready) {
			once.Do(func() { close(p.started) })
		}
	}
	_, _ = io.Copy(io.Discard, r)
	p.waitErr = p.cmd.Wait()
	close(p.exited)
}

// Pid returns the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Log returns everything the process logged so far.
func (p *Proc) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// Kill sends SIGKILL and waits for the process to be gone.
func (p *Proc) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// Result is how a stopped process ended.
type Result struct {
	// ExitCode is the exit status, -1 when killed by a signal.
	ExitCode int
	// Summary is the fields of the "worker summary" log line.
	Summary map[string]any
	// MaxRSSBytes is the peak resident set size.
	MaxRSSBytes int64
	// CPUSeconds is user plus system CPU time.
	CPUSeconds float64
}

// Stop sends SIGTERM and waits up to timeout for the process to exit.
func (p *Proc) Stop(timeout time.Duration) (Result, error) {
	// The peak RSS is read from /proc before the process exits: the rusage
	// of a child reports the larger of its own peak and its parent's RSS
	// at fork, which for a benchmark harness holding the messages is larger.
	peak := peakRSS(p.cmd.Process.Pid)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(timeout):
		p.Kill()
		return Result{}, fmt.Errorf("workerproc: worker did not exit within %s of SIGTERM", timeout)
	}
	st := p.cmd.ProcessState
	r := Result{ExitCode: st.ExitCode(), Summary: p.summary()}
	if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
		r.CPUSeconds = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	r.MaxRSSBytes = max(peak, peakRSS(p.cmd.Process.Pid))
	return r, nil
}

// peakRSS reads a live process's peak resident set size (VmHWM), or 0.
func peakRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb); err == nil {
				return kb * 1024
			}
		}
	}
	return 0
}

// CPUByCommand returns the CPU seconds (user + system) consumed so far by
// the live processes of each command name, e.g. "postgres", "nats-server".
func CPUByCommand(names ...string) map[string]float64 {
	out := make(map[string]float64, len(names))
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, ok := ReadStat(pid)
		if ok && slices.Contains(names, st.Comm) {
			out[st.Comm] += st.CPUSeconds
		}
	}
	return out
}

// Stat is what the bench tools read of a process from /proc/<pid>/stat.
type Stat struct {
	Comm       string  // command name
	PPID       int     // parent process id
	CPUSeconds float64 // user + system CPU consumed so far
}

// ReadStat reads /proc/<pid>/stat; false if the process is gone or the
// file is not in the expected form.
func ReadStat(pid int) (Stat, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Stat{}, false
	}
	// "pid (comm) state ppid ... utime stime ...": utime and stime are the
	// 14th and 15th fields, in clock ticks; comm may hold spaces and ')'.
	s := string(b)
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closing < open || closing+2 > len(s) {
		return Stat{}, false
	}
	f := strings.Fields(s[closing+2:])
	if len(f) < 13 {
		return Stat{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return Stat{Comm: s[open+1 : closing], PPID: ppid, CPUSeconds: (ut + st) / 100}, true // USER_HZ is 100 on Linux
}

func (p *Proc) summary() map[string]any {
	for _, line := range strings.Split(p.Log(), "\n") {
		if !strings.Contains(line, `"worker summary"`) {
			continue
		}
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			return m
		}
	}
	return nil
}
