package worker

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"time"

	"newsflow/internal/buildinfo"
	"newsflow/internal/console"
	"newsflow/internal/consumer"
	"newsflow/internal/deadletter"
	"newsflow/internal/stream"
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
	c, err := console.New(console.Config{
		Sampler:  sampler,
		DLQ:      deadletter.New(svc.js, deadletter.Config{Stream: cc.DLQStream}, svc.log),
		Stories:  svc.store,
		Workers:  svc.listSelf,
		Write:    svc.s.ConsoleWrite,
		Subtitle: fmt.Sprintf("stream %s · consumer %s", cmp.Or(cc.Stream.Name, stream.DefaultName), cmp.Or(cc.Durable, consumer.DefaultDurable)),
	}, svc.log)
	if err != nil {
		return err
	}
	svc.sampler = sampler
	svc.http.Mount("/", c)
	return nil
}

// listSelf lists this worker alone, from its own counters and the
// console's latest sample: the Workers page until the worker registry
// (a heartbeat bucket every worker writes) is there to list the fleet.
func (svc *Service) listSelf(context.Context) ([]console.Worker, error) {
	host, _ := os.Hostname()
	version, _ := buildinfo.Get()
	now := time.Now()
	w := console.Worker{
		ID: fmt.Sprintf("%s-%d", host, os.Getpid()), Host: host, Version: version,
		Stream: cmp.Or(svc.s.Consumer.Stream.Name, stream.DefaultName), Consumer: cmp.Or(svc.s.Consumer.Durable, consumer.DefaultDurable),
		Started: svc.start, Heartbeat: now, Messages: svc.w.totals.Messages.Load(),
		Breaker: console.StateNone, Redis: console.StateNone,
	}
	if last := svc.w.totals.LastCommit.Load(); last > 0 {
		w.LastCommit = time.Unix(0, last)
	}
	if s, ok := svc.sampler.Last(); ok {
		w.MessagesPerSecond, w.Held, w.Breaker, w.Redis = s.CommittedPerSecond, int64(s.Held), s.Breaker, s.Redis
	}
	return []console.Worker{w}, nil
}
