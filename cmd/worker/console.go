package main

import (
	"context"
	"flag"
	"fmt"

	"go.uber.org/zap"

	"newsflow/internal/envflag"
	"newsflow/internal/stream"
	"newsflow/internal/telemetry"
	"newsflow/internal/worker"
)

func init() {
	register("console", "serve the operator's console without a worker, next to a fleet (--addr)", runConsole)
}

// consoleDefaultAddr is `worker console`'s address: beside a worker's
// default --http-addr.
const consoleDefaultAddr = "127.0.0.1:8082"

// consoleConfig is `worker console`'s flags.
type consoleConfig struct {
	nf          natsFlags
	addr        string
	consumer    string
	dlqStream   string
	databaseURL string
	write       bool
}

func (c *consoleConfig) register(fs *flag.FlagSet) {
	c.nf.register(fs)
	fs.StringVar(&c.addr, "addr", consoleDefaultAddr, "address to serve the console on (port 0 picks a free one)")
	fs.StringVar(&c.consumer, "consumer", "", "only this consumer (default: every consumer of the stream)")
	fs.StringVar(&c.dlqStream, "dlq-stream", stream.DefaultDLQName, "dead-letter stream")
	fs.StringVar(&c.databaseURL, "database-url", "", "Postgres URL for the stories page; empty means SQLite at <data-dir>/newsflow.db")
	fs.BoolVar(&c.write, "console-write", false, "let the console replay and purge dead letters (the address is unauthenticated)")
}

// runConsole is `worker console`.
func runConsole(ctx context.Context, args []string, e env) error {
	var c consoleConfig
	fs := flag.NewFlagSet("console", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	c.register(fs)
	fs.Usage = envflag.Usage(fs, "worker console [--addr 127.0.0.1:8082] [--console-write]")
	if err := envflag.Parse(fs, args, e.getenv); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("console: unexpected arguments %q", fs.Args())
	}
	nc, js, err := c.nf.connect(ctx, e.log, "newsflow-console")
	if err != nil {
		return err
	}
	defer nc.Close()
	s := worker.ConsoleSettings{Addr: c.addr, Stream: c.nf.stream, Consumer: c.consumer, DLQStream: c.dlqStream,
		DatabaseURL: c.databaseURL, DataDir: c.nf.DataDir, Write: c.write, LagInterval: telemetry.DefaultPollInterval}
	return worker.ServeConsole(ctx, js, s, e.log, func(addr string) {
		e.log.Info("console", zap.String("url", "http://"+addr+"/"), zap.Bool("write", c.write))
		fmt.Fprintf(e.stdout, "console: http://%s/\n", addr)
	})
}
