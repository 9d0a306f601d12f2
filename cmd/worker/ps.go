package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"newsflow/internal/cli"
	"newsflow/internal/natsflag"
	"newsflow/internal/telemetry"
)

// psConfig is what `worker ps` lists and how.
type psConfig struct {
	bucket   string
	consumer string // empty: every consumer
	json     bool
}

// newPsCmd is `worker ps`: flags → listWorkers.
func newPsCmd(e *env) *cobra.Command {
	var (
		conn natsflag.Conn
		cfg  psConfig
	)
	cmd := &cobra.Command{
		Use:   "ps [flags]",
		Short: "list the running workers from the worker registry (--json, --consumer)",
		Args:  cli.NoArgs,
	}
	fs := cmd.Flags()
	conn.Register(fs)
	fs.BoolVar(&cfg.json, "json", false, "print one JSON object per worker and line")
	fs.StringVar(&cfg.consumer, "consumer", "", "only the workers of this consumer (default: every consumer)")
	registerBucketFlag(fs, &cfg.bucket)
	cli.Options(fs, "json", "consumer")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := validateBucket(func(n string) string { return cli.Name(fs, n) }, cfg.bucket); err != nil {
			return err
		}
		nc, js, err := conn.JetStream(e.log, "newsflow-ps")
		if err != nil {
			return err
		}
		defer nc.Close()
		return listWorkers(cmd.Context(), js, cfg, e.stdout)
	}
	return cmd
}

// listWorkers reads the registry and writes its workers to w, as a table or
// JSON lines.
func listWorkers(ctx context.Context, js jetstream.JetStream, cfg psConfig, w io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	entries, err := telemetry.List(ctx, js, cfg.bucket)
	if err != nil {
		return fmt.Errorf("ps: %w", err)
	}
	if cfg.consumer != "" {
		kept := entries[:0]
		for _, e := range entries {
			if e.Consumer == cfg.consumer {
				kept = append(kept, e)
			}
		}
		entries = kept
	}
	if cfg.json {
		return writeJSONLines(w, "ps", entries)
	}
	writeWorkerTable(w, entries, time.Now())
	return nil
}

func writeWorkerTable(w io.Writer, entries []telemetry.Entry, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTREAM\tCONSUMER\tVERSION\tUPTIME\tMESSAGES\tRATE\tHELD\tLAST COMMIT\tBREAKER\tREDIS\tHEARTBEAT")
	for _, e := range entries {
		last := "never"
		if e.LastCommit != nil {
			last = fmtAgo(now.Sub(*e.LastCommit))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%d\t%s\t%s\t%s\t%s\n",
			e.ID, e.Stream, e.Consumer, e.Version, fmtSeconds(now.Sub(e.Started).Seconds()), e.Messages,
			fmtRate(e.MessagesPerSecond), e.Held, last, e.Breaker, e.Redis, fmtAgo(now.Sub(e.Heartbeat)))
	}
	if len(entries) == 0 {
		fmt.Fprintln(tw, "(no workers)")
	}
	_ = tw.Flush()
}

func fmtAgo(d time.Duration) string { return fmtSeconds(d.Seconds()) + " ago" }
