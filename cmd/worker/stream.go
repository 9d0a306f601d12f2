package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"newsflow/internal/envflag"
	"newsflow/internal/natsflag"
	"newsflow/internal/stream"
)

func init() {
	register("stream", "stream apply: create the stream and the dead-letter stream, or update them to the stream-* flags", runStream)
}

// runStream is `worker stream apply`: the one deliberate way (with
// --stream-update) to change an existing stream's settings; workers and
// publishers only create a missing stream and report differences.
func runStream(ctx context.Context, args []string, e env) error {
	if len(args) == 0 || args[0] != "apply" {
		return fmt.Errorf("stream: want a subcommand: worker stream apply [flags]")
	}
	var (
		conn      natsflag.Conn
		st        natsflag.Stream
		dlqStream string
		dlqPrefix string
	)
	fs := flag.NewFlagSet("stream apply", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	conn.Register(fs)
	st.Register(fs)
	fs.StringVar(&dlqStream, "dlq-stream", stream.DefaultDLQName, "dead-letter stream")
	fs.StringVar(&dlqPrefix, "dlq-subject-prefix", stream.DefaultDLQSubjectPrefix, "dead-letter subject prefix")
	fs.Usage = envflag.Usage(fs, "worker stream apply [flags]\n\nCreates the stream and the dead-letter stream, or updates them to the stream-* flags, and prints each difference applied.")
	if err := envflag.Parse(fs, args[1:], e.getenv); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("stream apply: unexpected arguments %q", fs.Args())
	}
	sc, err := st.Config()
	if err != nil {
		return err
	}
	dlq := stream.DLQ{Name: dlqStream, SubjectPrefix: dlqPrefix}
	if err := dlq.Validate(sc); err != nil {
		return err
	}
	nc, err := conn.Connect(e.log, "newsflow-stream-apply")
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
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
