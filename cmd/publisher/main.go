// Publisher publishes news messages to NATS JetStream, for newsflow's
// workers to consume.
//
//	publisher send [flags] [FILE...]   JSONL files (or stdin), one message per line
//	publisher gen --count N [flags]    synthetic news from internal/gen
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
// usage error. Every flag has
// an environment variable; see --help of each subcommand.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"newsflow/internal/envflag"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// usageError is a bad command line or flag value: exit status 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return &usageError{fmt.Errorf(format, a...)} }

// exitCode prints err (if any) to stderr and returns the exit status for it.
func exitCode(err error, stderr io.Writer) int {
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, envflag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "publisher:", err)
		return 2
	default:
		fmt.Fprintln(stderr, "publisher:", err)
		return 1
	}
}

const topUsage = `Usage: publisher <command> [flags]

Commands:
  send   publish JSONL files (or stdin), one message per line
  gen    publish synthetic news

Run "publisher <command> --help" for the flags of a command.
`

// run is the whole program; main only adds the process's environment.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, topUsage)
		return usagef("no command given")
	}
	e := env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	switch args[0] {
	case "send":
		return runSend(ctx, args[1:], e)
	case "gen":
		return runGen(ctx, args[1:], e)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, topUsage)
		return nil
	default:
		fmt.Fprint(stderr, topUsage)
		return usagef("unknown command %q; want send or gen", args[0])
	}
}

// env is what a subcommand gets from run.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}
