package worker

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"newsflow/internal/buildinfo"
	"newsflow/internal/console"
	"newsflow/internal/consumer"
	"newsflow/internal/deadletter"
	"newsflow/internal/store"
	"newsflow/internal/stream"
	"newsflow/internal/telemetry"
)

// openConsole mounts the operator's console at "/" of the HTTP address:
// the sampler reads this worker's registry, the dead letters page its
// dead-letter stream, the stories page its database. Run starts the sampler.
func (svc *Service) openConsole(context.Context) error {
	if !svc.s.Console {
		return nil
	}
	sampler, err := console.NewSampler(svc.reg, 0, 0)
	if err != nil {
		return err
	}
	cc := svc.s.Consumer
	workers, staleAfter := svc.listSelf, time.Duration(0)
	if rc := svc.s.Registry; rc.Interval > 0 {
		workers, staleAfter = registryLister(svc.js, rc.Bucket), telemetry.HeartbeatTTL(rc.Interval)
	}
	c, err := console.New(console.Config{
		Sampler:    sampler,
		DLQ:        deadletter.New(svc.js, deadletter.Config{Stream: cc.DLQStream}, svc.log),
		Stories:    svc.store,
		Workers:    workers,
		StaleAfter: staleAfter,
		Write:      svc.s.ConsoleWrite,
		Subtitle:   fmt.Sprintf("stream %s · consumer %s", cmp.Or(cc.Stream.Name, stream.DefaultName), cmp.Or(cc.Durable, consumer.DefaultDurable)),
	}, svc.log)
	if err != nil {
		return err
	}
	svc.sampler = sampler
	svc.http.Mount("/", c)
	return nil
}

// registryLister lists the workers of the worker registry in bucket
// (telemetry.DefaultRegistryBucket when empty).
func registryLister(js jetstream.JetStream, bucket string) console.WorkerLister {
	bucket = cmp.Or(bucket, telemetry.DefaultRegistryBucket)
	return func(ctx context.Context) ([]console.Worker, error) {
		es, err := telemetry.List(ctx, js, bucket)
		if err != nil {
			return nil, fmt.Errorf("worker registry %s: %w", bucket, err)
		}
		return es, nil
	}
}

// listSelf lists this worker alone, as its registry entry would read (its
// rate from the console's latest sample): the Workers page of a worker that
// does not heartbeat into the registry (--heartbeat-interval 0).
func (svc *Service) listSelf(context.Context) ([]console.Worker, error) {
	version, _ := buildinfo.Get()
	w := telemetry.NewEntry(version, cmp.Or(svc.s.Consumer.Stream.Name, stream.DefaultName),
		cmp.Or(svc.s.Consumer.Durable, consumer.DefaultDurable), svc.start)
	w.Heartbeat = time.Now().UTC()
	svc.registryState(&w)
	if s, ok := svc.sampler.Last(); ok {
		w.MessagesPerSecond = s.CommittedPerSecond
	}
	return []console.Worker{w}, nil
}

// ConsoleSettings configure a console served without a worker (`worker
// console`): it watches a stream's consumers, dead letters and database
// from outside, next to a fleet.
type ConsoleSettings struct {
	// Addr is the console's address (host:port; port 0 picks a free one).
	Addr string
	// Stream and Consumer are watched (Consumer empty: every consumer of
	// the stream); DLQStream is the dead-letter stream.
	Stream, Consumer, DLQStream string
	// DatabaseURL is Postgres; empty means the SQLite file in DataDir,
	// which must exist. A database that cannot be opened leaves the
	// Stories page unavailable, with the reason logged.
	DatabaseURL, DataDir string
	// Write lets the console replay and purge dead letters.
	Write bool
	// RegistryBucket is the worker registry the Workers page lists.
	// Default telemetry.DefaultRegistryBucket.
	RegistryBucket string
	// LagInterval is how often consumer lag is sampled. Default
	// telemetry.DefaultPollInterval.
	LagInterval time.Duration
	// LagTarget is the replica hint's drain time.
	LagTarget time.Duration
}

// ServeConsole serves the console over js until ctx is done. Its overview
// charts the consumers' lag and ack rate, sampled by a lag poller of its
// own; the figures only a worker's own registry has (LLM calls, cache) stay
// at 0. ready, when non-nil, receives the bound address once listening.
func ServeConsole(ctx context.Context, js jetstream.JetStream, s ConsoleSettings, log *zap.Logger, ready func(addr string)) error {
	if log == nil {
		log = zap.NewNop()
	}
	reg := prometheus.NewRegistry()
	meter, err := telemetry.NewLagMeter(js, telemetry.LagConfig{Stream: s.Stream, Consumer: s.Consumer, Target: s.LagTarget})
	if err != nil {
		return err
	}
	poller, err := telemetry.NewPoller(meter, s.LagInterval, log, reg)
	if err != nil {
		return err
	}
	sampler, err := console.NewSampler(reg, 0, 0)
	if err != nil {
		return err
	}
	cfg := console.Config{
		Sampler:  sampler,
		DLQ:      deadletter.New(js, deadletter.Config{Stream: s.DLQStream}, log),
		Workers:  registryLister(js, s.RegistryBucket),
		Write:    s.Write,
		Subtitle: "stream " + s.Stream + " · " + cmp.Or(s.Consumer, "every consumer"),
	}
	st, err := store.Open(ctx, s.DatabaseURL, s.DataDir, store.PoolConfig{MaxConns: 2}, true, log, nil)
	if err != nil {
		log.Warn("console: no stories page", zap.Error(err))
	} else {
		defer st.Close()
		cfg.Stories = st
	}
	c, err := console.New(cfg, log)
	if err != nil {
		return err
	}
	srv := telemetry.NewServer(s.Addr, reg, log)
	srv.Mount("/", c)
	if err := srv.Listen(); err != nil {
		return fmt.Errorf("listen on --addr %s: %w", s.Addr, err)
	}
	if ready != nil {
		ready(srv.Addr().String())
	}
	bg, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = poller.Run(bg) }()
	go sampler.Run(bg)
	return srv.Run(ctx)
}

// consoleField names the console's URL in the start line, or says it is off.
func (svc *Service) consoleField() zap.Field {
	if svc.sampler == nil {
		return zap.String("console", "off")
	}
	return zap.String("console", "http://"+svc.http.Addr().String()+"/")
}
