package enrich

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"newsflow/internal/news"
)

// gather groups the stories this process computes into multi-story
// requests, across the batches enriched at once (fuller groups: a batch's
// last stories need not go in a request of their own). A story joins when
// the cache runs its compute function (this process holds the story's
// lease); a group is sent when it holds StoriesPerCall stories, when no
// story of any batch is still undecided (neither computing here nor done),
// or gatherWait after its first story joined.
type gather struct {
	e *Enricher

	mu        sync.Mutex
	open      []*pending
	undecided int // misses that have not yet joined a group nor finished elsewise
	timer     *time.Timer
}

// pending is one story waiting in or for a request.
type pending struct {
	ctx  context.Context // the compute context the cache gave (not the batch's)
	m    news.Message
	done chan struct{} // closed when v or err is set
	v    cachedValue
	err  error
}

// fetch is Enricher.fetch for a story that may share a request.
func (g *gather) fetch(ctx context.Context, m news.Message, key string) (cachedValue, bool, error) {
	var once sync.Once
	decide := func() { once.Do(g.decided) }
	defer decide() // the value came from elsewhere (or ctx ended): stop counting on this story
	raw, computed, err := g.e.cache.Do(ctx, key, func(fctx context.Context) ([]byte, error) {
		p := &pending{ctx: fctx, m: m, done: make(chan struct{})}
		g.join(p, decide)
		<-p.done // the sender always finishes the pending
		if p.err != nil {
			return nil, p.err
		}
		return json.Marshal(p.v)
	})
	if err != nil {
		return cachedValue{}, false, err
	}
	v, err := decodeValue(raw)
	if err != nil && !computed {
		g.e.log.Warn("undecodable cache entry, calling the LLM directly", zap.String("cache_key", key), zap.Error(err))
		v, err = g.e.callLLM(ctx, m)
		return v, true, err
	}
	return v, computed, err
}

// expect counts n more stories that may join.
func (g *gather) expect(n int) {
	g.mu.Lock()
	g.undecided += n
	g.mu.Unlock()
}

// decided marks one story as no longer able to join a group, sending the
// open group if nothing else can join it.
func (g *gather) decided() {
	g.mu.Lock()
	g.undecided--
	send := g.takeIfDone()
	g.mu.Unlock()
	g.send(send)
}

// join adds p to the open group and sends the group if it is full or
// nothing else can join it.
func (g *gather) join(p *pending, decide func()) {
	g.mu.Lock()
	g.open = append(g.open, p)
	var send []*pending
	if len(g.open) >= g.e.cfg.StoriesPerCall {
		send = g.take()
	} else if len(g.open) == 1 {
		g.timer = time.AfterFunc(gatherWait, g.expire)
	}
	g.mu.Unlock()
	g.send(send)
	decide() // after joining, so that the group is not sent without p
}

// expire sends the open group when it waited long enough.
func (g *gather) expire() {
	g.mu.Lock()
	send := g.take()
	g.mu.Unlock()
	g.send(send)
}

// take empties the open group. g.mu is held.
func (g *gather) take() []*pending {
	if g.timer != nil {
		g.timer.Stop()
		g.timer = nil
	}
	out := g.open
	g.open = nil
	return out
}

// takeIfDone empties the open group when no undecided story remains. g.mu is held.
func (g *gather) takeIfDone() []*pending {
	if g.undecided > 0 || len(g.open) == 0 {
		return nil
	}
	return g.take()
}

// send runs one request for ps in the background.
func (g *gather) send(ps []*pending) {
	if len(ps) == 0 {
		return
	}
	go g.e.callMany(ps)
}

// callMany asks for the stories of ps in one request, asks once more alone
// for each the answer missed or got wrong, and finishes every pending.
func (e *Enricher) callMany(ps []*pending) {
	ctx := ps[0].ctx
	ms := make([]news.Message, len(ps))
	for i, p := range ps {
		ms[i] = p.m
	}
	answers, err := e.cfg.ManyFunc(ctx, ms)
	if err == nil && len(answers) != len(ps) {
		err = fmt.Errorf("enrich: %d answers for %d stories", len(answers), len(ps))
	}
	if err != nil {
		for _, p := range ps {
			p.err = err
			close(p.done)
		}
		return
	}
	var u news.Usage
	for _, a := range answers {
		u = u.Add(a.Usage)
	}
	e.metrics.perCall.Observe(float64(len(ps)))
	e.countCall(u)
	var wg sync.WaitGroup
	for i, p := range ps {
		a := answers[i]
		if a.Err == nil {
			p.v = newValue(a.Enrichment, a.Usage)
			close(p.done)
			continue
		}
		e.totals.RetriedAlone.Add(1)
		e.metrics.alone.Inc()
		wg.Go(func() {
			defer close(p.done)
			p.v, p.err = e.callAlone(p.ctx, p.m, a)
		})
	}
	wg.Wait()
}

// callAlone asks once more for a story a multi-story answer missed; first
// is what that answer said. The story's value carries the tokens of both
// tries.
func (e *Enricher) callAlone(ctx context.Context, m news.Message, first Answer) (cachedValue, error) {
	answers, err := e.cfg.ManyFunc(ctx, []news.Message{m})
	if err == nil && len(answers) != 1 {
		err = fmt.Errorf("enrich: %d answers for 1 story", len(answers))
	}
	if err != nil {
		return cachedValue{}, err
	}
	a := answers[0]
	e.metrics.perCall.Observe(1)
	e.countCall(a.Usage)
	if a.Err != nil {
		return cachedValue{}, fmt.Errorf("enrich: asked alone after a multi-story answer without it (%v): %w", first.Err, a.Err)
	}
	return newValue(a.Enrichment, first.Usage.Add(a.Usage)), nil
}
