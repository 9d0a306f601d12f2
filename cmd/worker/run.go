package main

import (
	"context"
	"flag"

	"newsflow/internal/envflag"
	"newsflow/internal/worker"
)

func init() {
	register("run", "consume, enrich and commit news (the worker)", cmdRun)
}

// cmdRun is flags → settings → worker.Open → Run; internal/worker does the
// assembly, the health checks and the shutdown order.
func cmdRun(ctx context.Context, args []string, e env) error {
	fs := flag.NewFlagSet("worker run", flag.ContinueOnError)
	fs.SetOutput(e.stdout)
	var c runConfig
	c.register(fs)
	fs.Usage = envflag.Usage(fs, "worker run [flags]")
	if err := envflag.Parse(fs, args, e.getenv); err != nil {
		return err
	}
	if err := c.validate(); err != nil {
		return err
	}
	svc, err := worker.Open(ctx, c.settings(), e.log)
	if err != nil {
		return err
	}
	return svc.Run(ctx)
}
