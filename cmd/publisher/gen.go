package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"newsflow/internal/cli"
	"newsflow/internal/gen"
)

// newGenCmd is "publisher gen": synthetic news to JetStream.
func newGenCmd(e *env) *cobra.Command {
	var (
		cf         commonFlags
		count      int
		dupContent float64
		seed       int64
		rt         rateFlag
		dupIDs     float64
		bodyBytes  int
		idPrefix   string
		sources    listFlag
	)
	cmd := &cobra.Command{
		Use:   "gen --count N [flags]",
		Short: "publish synthetic news",
		Long:  "Publishes N synthetic news messages.",
		Args:  cli.NoArgs,
	}
	fs := cmd.Flags()
	cf.register(fs)
	fs.IntVar(&count, "count", 0, "messages to publish, re-sent ids included (required)")
	fs.Float64Var(&dupContent, "dup-content", 0.2, "share (0-1) of messages that repost an earlier story under a new id and source (same content hash)")
	fs.Int64Var(&seed, "seed", 1, "generator seed; the same seed and --id-prefix give the same messages and ids")
	fs.Var(&rt, "rate", "messages per second, e.g. 500 or 500/s; 0 publishes as fast as possible")
	fs.Float64Var(&dupIDs, "dup-ids", 0, "share (0-1, 1 excluded) of messages that re-send an already sent message with the same id, for JetStream to drop")
	fs.IntVar(&bodyBytes, "body-bytes", 1024, "approximate body size of a generated story in bytes")
	fs.StringVar(&idPrefix, "id-prefix", "gen", "first part of every id (<prefix>:<source>:<n>); change it to publish new ids with the same seed")
	fs.Var(&sources, "sources", "comma-separated sources to generate for (default: a built-in mix of Telegram channels, RSS feeds and wire agencies)")
	cli.Options(fs, "count")
	cli.Config(fs, "Generator", "dup-content", "seed", "rate", "dup-ids", "body-bytes", "id-prefix", "sources")
	cli.NonNegative(fs, "dup-content", "dup-ids")
	cli.AtMost(fs, "1", "dup-content")
	cli.AtLeast(fs, "1", "body-bytes")
	cli.AtMost(fs, fmt.Sprint(gen.MaxBodyBytes), "body-bytes")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx := cmd.Context()
		switch {
		case count < 1:
			return usagef("invalid value %d for --count: set --count to the number of messages, at least 1", count)
		case dupIDs >= 1:
			return usagef("invalid value %g for %s: want a number from 0 to 1, 1 excluded", dupIDs, cli.Name(fs, "dup-ids"))
		case idPrefix == "":
			return usagef("invalid value \"\" for %s: must not be empty", cli.Name(fs, "id-prefix"))
		}
		if err := cf.validate(); err != nil {
			return err
		}
		g, err := gen.New(gen.Config{Seed: seed, DupContent: dupContent, BodyBytes: bodyBytes, Sources: sources, IDPrefix: idPrefix})
		if err != nil {
			return usagef("%v", err)
		}
		sess, p, err := cf.openEngine(ctx, e)
		if err != nil {
			return err
		}
		defer sess.close()

		var limiter *rate.Limiter
		if rt > 0 {
			// A tenth of a second's worth of burst keeps high rates smooth
			// without a sleep per message.
			limiter = rate.NewLimiter(rate.Limit(rt), max(1, int(float64(rt)/10)))
		}

		start := time.Now()
		prog := startProgress(e.stderr, progressTotal{total: int64(count)}, func() int64 { return p.Counts().Settled() })

		// Generating and encoding run beside publishing: both cost CPU.
		genCtx, stopGen := context.WithCancel(ctx)
		items := make(chan genItem, 1024)
		var wg sync.WaitGroup
		var resent int
		wg.Go(func() { resent = produce(genCtx, g, count, dupIDs, seed, cf.subject, items) })
		handed := 0 // given to Publish, which counts each outcome, a refusal included
		for it := range items {
			if limiter != nil {
				if err := limiter.Wait(ctx); err != nil {
					break
				}
			}
			handed++
			if err := p.Publish(ctx, it.subject, it.data, it.id, it.id); err != nil {
				break
			}
		}
		stopGen()
		for range items { // unblock the producer if we stopped early
		}
		wg.Wait()
		p.AddNotAttempted(int64(count - handed))
		c := p.Close()
		prog.end()
		elapsed := time.Since(start)
		fmt.Fprintln(e.stdout, summary(c, 0, elapsed))
		st := g.Stats()
		sess.log.Info("gen done", zap.Int("unique_stories", st.Unique), zap.Int("reposts", st.Reposts), zap.Int("resent_ids", resent),
			zap.Int64("published", c.Published), zap.Int64("retried", c.Retried), zap.Int64("duplicates", c.Duplicates),
			zap.Int64("failed", c.Failed), zap.Int64("not_attempted", c.NotAttempted), zap.Duration("duration", elapsed))
		return outcome(ctx, nil, c, 0)
	}
	return cmd
}

// genItem is one encoded message ready to publish.
type genItem struct {
	subject string
	id      string
	data    []byte
}

// resendWindow is how many recent messages --dup-ids draws re-sends from,
// so that they fall inside the stream's duplicate window.
const resendWindow = 4096

// produce sends count items on out, a share dupIDs of them re-sends of
// recent items, and closes out. It returns the number of re-sends.
func produce(ctx context.Context, g *gen.Generator, count int, dupIDs float64, seed int64, subject string, out chan<- genItem) (resent int) {
	defer close(out)
	rng := rand.New(rand.NewPCG(uint64(seed), 0x647570)) // "dup"
	recent := make([]genItem, 0, min(count, resendWindow))
	subjects := map[string]string{}
	for i := range count {
		var it genItem
		if len(recent) > 0 && dupIDs > 0 && rng.Float64() < dupIDs {
			it = recent[rng.IntN(len(recent))]
			resent++
		} else {
			m := g.Next()
			data := appendMessageJSON(make([]byte, 0, len(m.Title)+len(m.Body)+256), &m)
			subj, ok := subjects[m.Source]
			if !ok {
				subj = subjectFor(m.Source, subject)
				subjects[m.Source] = subj
			}
			it = genItem{subject: subj, id: m.ID, data: data}
			if len(recent) < resendWindow {
				recent = append(recent, it)
			} else {
				recent[i%resendWindow] = it
			}
		}
		select {
		case out <- it:
		case <-ctx.Done():
			return resent
		}
	}
	return resent
}
