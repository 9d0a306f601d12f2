package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"newsflow/internal/cli"
	"newsflow/internal/stream"
	"newsflow/internal/telemetry"
	"newsflow/internal/worker"
)

// consoleDefaultAddr is `worker console`'s address: beside a worker's
// default --http-addr.
const consoleDefaultAddr = "127.0.0.1:8082"

// newConsoleCmd is `worker console`: the console without a worker.
func newConsoleCmd(e *env) *cobra.Command {
	var (
		nf        natsFlags
		db        databaseFlags
		addr      string
		consumer  string
		dlqStream string
		write     bool
		bucket    string
		interval  = telemetry.DefaultPollInterval
	)
	cmd := &cobra.Command{
		Use:   "console [flags]",
		Short: "serve the operator's console without a worker, next to a fleet (--addr)",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			fs := cmd.Flags()
			name := func(n string) string { return cli.Name(fs, n) }
			if err := db.validate(name); err != nil {
				return err
			}
			if err := validateBucket(name, bucket); err != nil {
				return err
			}
			nc, js, err := nf.JetStream(e.log, "newsflow-console")
			if err != nil {
				return err
			}
			defer nc.Close()
			s := worker.ConsoleSettings{Addr: addr, Stream: nf.stream, Consumer: consumer, DLQStream: dlqStream,
				DatabaseURL: db.url, DataDir: *db.dataDir, Write: write, LagInterval: interval, RegistryBucket: bucket}
			return worker.ServeConsole(ctx, js, s, e.log, func(bound string) {
				e.log.Info("console", zap.String("url", "http://"+bound+"/"), zap.Bool("write", write))
				fmt.Fprintf(e.stdout, "console: http://%s/\n", bound)
			})
		},
	}
	fs := cmd.Flags()
	nf.register(fs)
	db.register(fs, &nf.DataDir)
	fs.StringVar(&addr, "addr", consoleDefaultAddr, "address to serve the console on (port 0 picks a free one)")
	fs.StringVar(&consumer, "consumer", "", "only this consumer (default: every consumer of the stream)")
	fs.StringVar(&dlqStream, "dlq-stream", stream.DefaultDLQName, "dead-letter stream")
	fs.BoolVar(&write, "console-write", false, "let the console replay and purge dead letters (the address is unauthenticated)")
	fs.DurationVar(&interval, "lag-interval", telemetry.DefaultPollInterval, "consumer lag sampling interval of the charts")
	registerBucketFlag(fs, &bucket)
	cli.Config(fs, "Connections", "dlq-stream")
	cli.Config(fs, "Telemetry", "console-write", "lag-interval")
	cli.Options(fs, "addr", "consumer")
	cli.Positive(fs, "lag-interval")
	return cmd
}
