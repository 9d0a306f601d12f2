package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"newsflow/internal/cli"
	"newsflow/internal/natsflag"
	"newsflow/internal/stream"
)

// newStreamCmd is `worker stream`, whose one subcommand is apply.
func newStreamCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "stream",
		Short: "stream apply: create the stream and the dead-letter stream, or update them to the stream-* flags",
	}
	cli.RequireSubcommand(cmd)
	cmd.AddCommand(newStreamApplyCmd(e))
	return cmd
}

// newStreamApplyCmd is `worker stream apply`: the one deliberate way (with
// --stream-update) to change an existing stream's settings; workers and
// publishers only create a missing stream and report differences.
func newStreamApplyCmd(e *env) *cobra.Command {
	var (
		conn      natsflag.Conn
		st        natsflag.Stream
		dlqStream string
		dlqPrefix string
	)
	cmd := &cobra.Command{
		Use:   "apply [flags]",
		Short: "create the stream and the dead-letter stream, or update them to the stream-* flags, printing each difference applied",
		Args:  cli.NoArgs,
	}
	fs := cmd.Flags()
	conn.Register(fs)
	st.Register(fs)
	fs.StringVar(&dlqStream, "dlq-stream", stream.DefaultDLQName, "dead-letter stream")
	fs.StringVar(&dlqPrefix, "dlq-subject-prefix", stream.DefaultDLQSubjectPrefix, "dead-letter subject prefix")
	cli.Config(fs, "Stream", "dlq-stream", "dlq-subject-prefix")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx := cmd.Context()
		sc, err := st.Config()
		if err != nil {
			return cli.AsUsage(err)
		}
		dlq := stream.DLQ{Name: dlqStream, SubjectPrefix: dlqPrefix}
		if err := dlq.Validate(sc); err != nil {
			return cli.AsUsage(err)
		}
		nc, js, err := conn.JetStream(e.log, "newsflow-stream-apply")
		if err != nil {
			return err
		}
		defer nc.Close()
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		for _, c := range []stream.Config{sc, dlq.Config(sc)} {
			_, lookupErr := js.Stream(ctx, c.Name)
			_, diff, err := stream.Ensure(ctx, js, c, true, e.log)
			switch {
			case err != nil:
				return err
			case errors.Is(lookupErr, jetstream.ErrStreamNotFound):
				fmt.Fprintf(e.stdout, "%s: created\n", c.Name)
			case len(diff) == 0:
				fmt.Fprintf(e.stdout, "%s: up to date\n", c.Name)
			}
			for _, d := range diff {
				fmt.Fprintf(e.stdout, "%s: %s → applied\n", c.Name, d)
			}
		}
		return nil
	}
	return cmd
}
