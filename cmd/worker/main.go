// Worker consumes news from JetStream, enriches each unique story once and
// commits each batch in one database transaction before acking it.
//
// Subcommands: run (the worker), migrate, lag, top, dlq, stream apply, ps. Every
// configuration flag has an environment variable; see --help of each
// subcommand. Exit status: 0 ok, 1 failure, 2 usage (internal/cli).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"newsflow/internal/buildinfo"
	"newsflow/internal/cli"
	"newsflow/internal/logging"
	"newsflow/internal/story"
	"newsflow/internal/tracing"
	"newsflow/internal/worker"
)

// defaultGCPercent is the garbage collector's target when GOGC is unset. The
// worker's live heap is small (batches in flight) and most of its garbage is
// per message, so collecting four times less often cuts its CPU per message by
// about 15 % for some 20 MB more memory (go run ./bench --worker-env GOGC=N).
const defaultGCPercent = 400

// defaultMemoryLimit is the soft memory limit when GOMEMLIMIT is unset. With
// GOGC at 400 the heap may grow to five times what is live before a
// collection; the limit makes the collector run earlier instead once the
// process nears it, keeping the worker under 150 MB of RSS with the default
// settings on the LLM path (go run ./bench --llm-only), where the in-process
// cache adds up to --cache-memory-bytes of live heap. `worker run` adds
// what it holds in process (memoryLimit).
const defaultMemoryLimit = 112 << 20

// embeddedNATSBytes is the live heap of the embedded NATS server: its
// stream's block caches, about 50 MB after recovering a 100,000-message
// backlog (GODEBUG=gctrace=1 under go run ./bench --embedded-only).
const embeddedNATSBytes = 64 << 20

// memoryLimit is the soft memory limit of `worker run` with settings s when
// GOMEMLIMIT is unset: defaultMemoryLimit plus the live heap of the embedded
// NATS server (no NATS_URL) and twice the heap part of a full in-process
// near-duplicate index (no REDIS_URL, near-dup on), so that a full index
// still leaves as much room for garbage as it holds. (On Linux the index's
// bulk is mapped outside the heap and does not count: story.HeapBytes.) A
// limit at or below the live heap makes the collector run back to back: the
// embedded pipeline spent 149–155 µs of CPU per message under the fixed
// 112 MiB against 54–58 with room above its live heap (go run ./bench
// --embedded-only; README).
func memoryLimit(s worker.Settings) int64 {
	limit := int64(defaultMemoryLimit)
	if s.NATSURL == "" {
		limit += embeddedNATSBytes
	}
	if s.RedisURL == "" && !s.NearDup.Off {
		limit += 2 * story.HeapBytes(s.NearDup.MaxMemory)
	}
	return limit
}

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	e := &env{getenv: os.Getenv, stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
		e.setMemoryLimit = func(s worker.Settings) { debug.SetMemoryLimit(memoryLimit(s)) }
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// Tracing: OTEL_* environment only (internal/tracing); off when unset.
	_, err := tracing.Setup(ctx, "newsflow-worker", os.Stderr)
	if err == nil {
		err = e.run(ctx, os.Args[1:])
	}
	if ferr := tracing.Flush(); ferr != nil {
		fmt.Fprintln(os.Stderr, "worker:", ferr)
	}
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
	}
	os.Exit(cli.ExitCode(err))
}

// env is what every subcommand gets from run: its environment, its
// streams and the process logger (built once the flags are parsed).
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	log    *zap.Logger

	logLevel  logging.Level
	logFormat logging.Format

	// setMemoryLimit, when set (by main, when GOMEMLIMIT is unset), sets
	// the process's soft memory limit for `worker run`'s settings.
	setMemoryLimit func(worker.Settings)
}

// run is the whole program; main only adds the process's environment. The
// error's exit status is cli.ExitCode's.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	return (&env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}).run(ctx, args)
}

func (e *env) run(ctx context.Context, args []string) error {
	root := newRoot(e)
	err := cli.Execute(ctx, root, args, e.getenv)
	if e.log != nil {
		_ = e.log.Sync()
	}
	return err
}

// newRoot builds the command tree; e.log is set before any subcommand runs.
func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "worker",
		Short: "consume news from JetStream, enrich each story once and commit batches",
		Long: "worker consumes news from JetStream, enriches each unique story once and commits each batch in one\n" +
			"database transaction before acking it. Configuration flags also read an environment variable\n" +
			"(shown in each command's --help). Logs go to stderr: at info in JSON for run, at warn on the console\n" +
			"for the other commands (--log-level, --log-format).",
		Version: buildinfo.String(),
		RunE: func(*cobra.Command, []string) error {
			return cli.Usagef("want a command: run, config, migrate, lag, top, dlq, stream, ps, console (see worker --help)")
		},
		PersistentPreRunE: func(c *cobra.Command, _ []string) error {
			e.stderr = c.ErrOrStderr() // redacting, now that the flags are known
			log, err := newLogger(e, e.stderr, c.Name() == "run" && c.Parent() == c.Root())
			if err != nil {
				return cli.AsUsage(err)
			}
			e.log = log
			return nil
		},
	}
	cli.LogFlags(root.PersistentFlags(), &e.logLevel, &e.logFormat, "warn; info for worker run")
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.AddCommand(newRunCmd(e), newConfigCmd(e), newMigrateCmd(e), newLagCmd(e), newTopCmd(e), newDLQCmd(e), newStreamCmd(e), newPsCmd(e),
		newConsoleCmd(e))
	return root
}
