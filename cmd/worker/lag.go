package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"newsflow/internal/cli"
	"newsflow/internal/telemetry"
)

// newLagCmd is `worker lag`: it samples the stream's consumers twice, one
// interval apart (a rate needs two samples), and prints the second sample;
// with --watch it keeps sampling and redraws in place until interrupted.
func newLagCmd(e *env) *cobra.Command {
	var (
		nf       natsFlags
		watch    bool
		asJSON   bool
		consumer string
		interval time.Duration
		target   time.Duration
		alias    time.Duration // --target, the deprecated name of --lag-target
		maxRepl  int
		minRepl  int
		workers  int
		bucket   string
	)
	cmd := &cobra.Command{
		Use:   "lag [flags]",
		Short: "consumer lag in messages and seconds, drain ETA and a replica hint (--watch, --json)",
		Args:  cli.NoArgs,
	}
	fs := cmd.Flags()
	nf.register(fs)
	fs.BoolVar(&watch, "watch", false, "redraw every --interval until interrupted, like top")
	fs.BoolVar(&asJSON, "json", false, "print one JSON object per consumer and line")
	fs.StringVar(&consumer, "consumer", "", "only this consumer (default: every consumer of the stream)")
	fs.DurationVar(&interval, "interval", time.Second, "time between samples")
	fs.DurationVar(&target, "lag-target", telemetry.DefaultLagTarget, "drain the backlog within this time: the replica hint's goal (as worker run's --lag-target)")
	fs.DurationVar(&alias, "target", telemetry.DefaultLagTarget, "deprecated name of --lag-target")
	_ = fs.MarkDeprecated("target", "use --lag-target")
	fs.IntVar(&maxRepl, "max-replicas", 0, "cap of the replica hint, e.g. what the LLM rate limit allows; 0 means none")
	fs.IntVar(&workers, "workers", 0, "running workers, when known; 0 means count the live ones in the worker registry")
	registerMinReplicasFlag(fs, &minRepl)
	registerBucketFlag(fs, &bucket)
	cli.Config(fs, "Telemetry", "lag-target", "max-replicas")
	cli.Options(fs, "watch", "json", "consumer", "interval", "target", "workers")
	cli.Positive(fs, "interval", "lag-target", "target")
	cli.NonNegative(fs, "max-replicas", "workers")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx := cmd.Context()
		name := func(n string) string { return cli.Name(fs, n) }
		if err := validateMinReplicas(name, minRepl, maxRepl); err != nil {
			return err
		}
		if err := validateBucket(name, bucket); err != nil {
			return err
		}
		if fs.Changed("target") && cli.SourceOf(fs, "lag-target") != cli.FromFlag {
			target = alias // the command line wins over NEWSFLOW_LAG_TARGET, under either name
		}
		nc, js, err := nf.JetStream(e.log, "newsflow-lag")
		if err != nil {
			return err
		}
		defer nc.Close()
		meter, err := telemetry.NewLagMeter(js, telemetry.LagConfig{
			Stream: nf.stream, Consumer: consumer, Target: target, MaxReplicas: maxRepl, MinReplicas: minRepl,
			Workers: workers, Registry: bucket,
			// Smooth over a few samples when watching; a one-shot run has two.
			RateWindow: 5 * interval,
		})
		if err != nil {
			return err
		}
		sample := func() ([]telemetry.Lag, error) {
			sctx, cancel := context.WithTimeout(ctx, max(interval, 5*time.Second))
			defer cancel()
			return meter.Sample(sctx)
		}
		wait := func() bool {
			t := time.NewTimer(interval)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return false
			case <-t.C:
				return true
			}
		}

		// Redraw in place on a terminal; elsewhere (a pipe, a file) print
		// one sample after another, without ANSI codes.
		redraw := watch && !asJSON && cli.IsTerminal(e.stdout)
		if _, err := sample(); err != nil {
			return err
		}
		if !wait() {
			return nil
		}
		first := true
		for {
			lags, err := sample()
			if err != nil {
				if !watch || ctx.Err() != nil {
					return err
				}
				if redraw {
					fmt.Fprint(e.stdout, clearScreen)
				}
				fmt.Fprintf(e.stdout, "lag: %v\n", err)
			} else {
				var buf bytes.Buffer
				if watch && !asJSON {
					if redraw {
						buf.WriteString(clearScreen)
					} else if !first {
						buf.WriteString("\n")
					}
					first = false
					fmt.Fprintf(&buf, "%s  stream %s  every %s  (Ctrl-C to quit)\n\n", time.Now().Format(time.TimeOnly), nf.stream, interval)
				}
				if asJSON {
					if err := writeLagJSON(&buf, lags); err != nil {
						return err
					}
				} else {
					writeLagTable(&buf, lags)
				}
				if _, err := e.stdout.Write(buf.Bytes()); err != nil {
					return err
				}
			}
			if !watch || !wait() {
				return nil
			}
		}
	}
	return cmd
}

// clearScreen moves the cursor home and clears a terminal.
const clearScreen = "\x1b[H\x1b[2J"

func writeLagJSON(w io.Writer, lags []telemetry.Lag) error { return writeJSONLines(w, "lag", lags) }

func writeLagTable(w io.Writer, lags []telemetry.Lag) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "STREAM\tCONSUMER\tPENDING\tACK PENDING\tREDELIVERED\tWAITING\tOLDEST UNACKED\tRATE\tETA\tWORKERS\tREPLICAS\tDISCARDED\t")
	for _, l := range lags {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%d\t%d\t%d\t\n",
			l.Stream, l.Consumer, l.NumPending, l.NumAckPending, l.NumRedelivered, l.NumWaiting,
			fmtSeconds(l.OldestUnackedAgeSeconds), fmtRate(l.RatePerSecond), fmtETA(l.DrainETASeconds), l.Workers, l.ReplicasHint,
			l.DiscardedUndelivered)
	}
	if len(lags) == 0 {
		fmt.Fprintln(tw, "(no consumers)\t\t\t\t\t\t\t\t\t\t\t\t")
	}
	_ = tw.Flush()
}

// fmtSeconds prints a duration in seconds the way time.Duration does, to
// the second once it exceeds a minute.
func fmtSeconds(s float64) string {
	d := time.Duration(s * float64(time.Second))
	switch {
	case s <= 0:
		return "0s"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

func fmtRate(r float64) string {
	if r >= 100 {
		return strconv.FormatFloat(math.Round(r), 'f', 0, 64) + "/s"
	}
	return strconv.FormatFloat(r, 'f', 1, 64) + "/s"
}

func fmtETA(s float64) string {
	if s < 0 {
		return "∞"
	}
	return fmtSeconds(s)
}
