// Worker consumes news from JetStream, enriches each unique story once and
// commits each batch in one database transaction before acking it.
//
// Subcommands: run (the worker), migrate, lag, top, dlq, stream apply. Every flag has an
// environment variable; see --help of each subcommand.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"

	"go.uber.org/zap"

	"newsflow/internal/envflag"
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
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, envflag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

// env is what every subcommand gets from main: its environment, its output
// streams and the process logger.
type env struct {
	getenv func(string) string
	stdout io.Writer
	stderr io.Writer
	log    *zap.Logger
}

// command is one subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, e env) error
}

// commands is filled by each subcommand's file in init, so that the files
// stay independent of each other.
var commands = map[string]command{}

func register(name, summary string, run func(ctx context.Context, args []string, e env) error) {
	commands[name] = command{summary: summary, run: run}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return errors.New("no subcommand given")
		}
		return nil
	}
	cmd, ok := commands[args[0]]
	if !ok {
		return fmt.Errorf("unknown subcommand %q; want one of: %s", args[0], strings.Join(commandNames(), ", "))
	}
	log, err := newLogger(getenv, stderr)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	return cmd.run(ctx, args[1:], env{getenv: getenv, stdout: stdout, stderr: stderr, log: log})
}

func commandNames() []string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: worker <subcommand> [flags]\n\nSubcommands:")
	for _, n := range commandNames() {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'worker <subcommand> --help' for its flags. Logging: NEWSFLOW_LOG_LEVEL (debug|info|warn|error, default info), NEWSFLOW_LOG_FORMAT (json|console, default json).")
}
