// Publisher publishes news messages to NATS JetStream, for newsflow's
// workers to consume.
//
//	publisher send [flags] [FILE...]   JSONL files (or stdin), one message per line
//	publisher gen --count N [flags]    synthetic news from internal/gen
//	publisher feeds --feeds FILE       RSS, Atom and JSON Feed polling, shared by replicas (internal/feed)
//	publisher feeds status [--json]    every feed's state
//
// Both ensure the stream exists and publish through internal/publish: asynchronously
// with a bounded number of unsettled messages, Nats-Msg-Id set to each
// message's id so that JetStream drops re-publishes, every failure that may
// be transient retried for --retry-for, and one summary line on stdout:
//
//	published N (retried R), duplicates D (in the input, dropped by JetStream), invalid I, failed F, not attempted A, X msgs/s
//
// Exit status: 0 when everything was published (or deduplicated), 1 when a
// line was invalid, a message failed or the run was interrupted, 2 for a
// usage error (internal/cli). Every configuration flag has an environment
// variable; see --help of each subcommand.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"newsflow/internal/buildinfo"
	"newsflow/internal/cli"
	"newsflow/internal/logging"
	"newsflow/internal/tracing"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// Tracing: OTEL_* environment only (internal/tracing); off when unset.
	_, err := tracing.Setup(ctx, "newsflow-publisher", os.Stderr)
	if err == nil {
		err = run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	}
	if ferr := tracing.Flush(); ferr != nil {
		fmt.Fprintln(os.Stderr, "publisher:", ferr)
	}
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "publisher:", err)
	}
	os.Exit(cli.ExitCode(err))
}

// usagef is a usage error: exit status 2.
func usagef(format string, a ...any) error { return cli.Usagef(format, a...) }

// run is the whole program; main only adds the process's environment. The
// error's exit status is cli.ExitCode's.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	return cli.Execute(ctx, newRoot(&env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}), args, getenv)
}

// newRoot builds the command tree.
func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "publisher",
		Short: "publish news messages to NATS JetStream",
		Long: "publisher publishes news messages to NATS JetStream for newsflow's workers: JSONL files or stdin\n" +
			"(send), synthetic news (gen) or RSS, Atom and JSON Feed sources (feeds). Configuration flags also\n" +
			"read an environment variable (shown in each command's --help). Exit status: 0 everything published,\n" +
			"1 a failure, 2 a usage error.",
		Version: buildinfo.String(),
		RunE: func(*cobra.Command, []string) error {
			return usagef("want a command: send, gen or feeds (see publisher --help)")
		},
	}
	root.PersistentPreRunE = func(c *cobra.Command, _ []string) error {
		e.stderr = c.ErrOrStderr() // redacting, now that the flags are known
		return nil
	}
	cli.LogFlags(root.PersistentFlags(), &e.logLevel, &e.logFormat, "warn; info for feeds")
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.AddCommand(newSendCmd(e), newGenCmd(e), newFeedsCmd(e))
	return root
}

// env is what a subcommand gets from run.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer

	logLevel  logging.Level
	logFormat logging.Format
}
