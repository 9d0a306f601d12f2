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
	"newsflow/internal/tracing"
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
// cache adds up to --cache-memory-bytes of live heap.
const defaultMemoryLimit = 112 << 20

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// Tracing: OTEL_* environment only (internal/tracing); off when unset.
	_, err := tracing.Setup(ctx, "newsflow-worker", os.Stderr)
	if err == nil {
		err = run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
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
}

// run is the whole program; main only adds the process's environment. The
// error's exit status is cli.ExitCode's.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := &env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	root := newRoot(e)
	err := cli.Execute(ctx, root, args, getenv)
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
