package feed

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"newsflow/internal/news"
	"newsflow/internal/tracing"
)

// Defaults of Config.
const (
	DefaultLeaseTTL    = 30 * time.Second
	DefaultConcurrency = 32
	DefaultPerHost     = 2
	// MinLeaseTTL is the shortest LeaseTTL: renewals run every third of it.
	MinLeaseTTL = 3 * time.Second
	// warnEvery bounds how often one failing feed is logged.
	warnEvery = 10 * time.Minute
	// tick is how often Run looks for due feeds when no poll ends sooner.
	tick = time.Second
)

// Publisher stores messages in the stream. Publish returns when every
// message is settled; nil means all of them were stored (or were
// duplicates of stored ones).
type Publisher interface {
	Publish(ctx context.Context, msgs []news.Message) error
}

// Config configures a Poller.
type Config struct {
	Schedule
	// LeaseTTL is how long a lease lasts without renewal; a dead replica's
	// feeds are taken over within it. Default DefaultLeaseTTL; at least MinLeaseTTL.
	LeaseTTL time.Duration
	// Concurrency bounds the polls in progress. Default DefaultConcurrency.
	Concurrency int
	// PerHost bounds the polls in progress against one host. Default DefaultPerHost.
	PerHost int
	// Replica names this poller in leases and status; default
	// <hostname>-<pid>-<random>.
	Replica string
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{Schedule: DefaultSchedule(), LeaseTTL: DefaultLeaseTTL, Concurrency: DefaultConcurrency, PerHost: DefaultPerHost}
}

// Validate names the first invalid field.
func (c Config) Validate() error {
	if err := c.Schedule.Validate(); err != nil {
		return err
	}
	switch {
	case c.LeaseTTL < MinLeaseTTL:
		return fmt.Errorf("feed: --lease-ttl must be at least %s, got %s", MinLeaseTTL, c.LeaseTTL)
	case c.Concurrency < 1:
		return fmt.Errorf("feed: --concurrency must be at least 1, got %d", c.Concurrency)
	case c.PerHost < 1:
		return fmt.Errorf("feed: --per-host must be at least 1, got %d", c.PerHost)
	}
	return nil
}

// Outcome is how one poll ended.
type Outcome string

// Outcomes of a poll. The first four are polls; the others are not.
const (
	OutcomeNew         Outcome = "new"          // new items published
	OutcomeUnchanged   Outcome = "unchanged"    // fetched, nothing new
	OutcomeNotModified Outcome = "not_modified" // 304
	OutcomeError       Outcome = "error"        // fetch, parse or publish failed
	OutcomeHeld        Outcome = "held"         // another replica holds the lease
	OutcomeNotDue      Outcome = "not_due"      // its next poll is later
	OutcomeAborted     Outcome = "aborted"      // lease lost or shutdown mid-poll; nothing recorded
)

// Poller polls the feeds of its list. Create it with New.
type Poller struct {
	cfg     Config
	sources []Source
	store   *Store
	fetch   *Fetcher
	pub     Publisher
	log     *zap.Logger
	m       *metrics

	sem   chan struct{}
	mu    sync.Mutex
	view  map[string]*State // url → last record read or written
	wait  map[string]time.Time
	busy  map[string]bool
	hosts map[string]int
	warn  map[string]time.Time
	wake  chan struct{}
}

// New returns a Poller of sources. Metrics are registered on reg (nil: none).
func New(cfg Config, sources []Source, store *Store, f *Fetcher, pub Publisher, reg prometheus.Registerer, log *zap.Logger) (*Poller, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Replica == "" {
		h, _ := os.Hostname()
		cfg.Replica = h + "-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatUint(rand.Uint64()&0xffffff, 16)
	}
	if log == nil {
		log = zap.NewNop()
	}
	p := &Poller{
		cfg: cfg, sources: sources, store: store, fetch: f, pub: pub,
		log:  log.Named("feed").With(zap.String("replica", cfg.Replica)),
		sem:  make(chan struct{}, cfg.Concurrency),
		view: map[string]*State{}, wait: map[string]time.Time{}, busy: map[string]bool{},
		hosts: map[string]int{}, warn: map[string]time.Time{}, wake: make(chan struct{}, 1),
	}
	p.m = newMetrics(p)
	if reg != nil {
		if err := reg.Register(p.m); err != nil {
			return nil, fmt.Errorf("feed: register metrics: %w", err)
		}
	}
	return p, nil
}

// register adds every source to the bucket (existing records are kept).
func (p *Poller) register(ctx context.Context) error {
	now := time.Now()
	for _, s := range p.sources {
		if err := p.store.Add(ctx, s, now); err != nil {
			return err
		}
	}
	return nil
}

// Run polls the feeds as they fall due until ctx ends, then waits for the
// polls in progress to give their leases back.
func (p *Poller) Run(ctx context.Context) error {
	if err := p.register(ctx); err != nil {
		return err
	}
	p.log.Info("polling feeds", zap.Int("feeds", len(p.sources)), zap.Duration("min_interval", p.cfg.MinInterval),
		zap.Duration("max_interval", p.cfg.MaxInterval), zap.Duration("lease_ttl", p.cfg.LeaseTTL),
		zap.Int("concurrency", p.cfg.Concurrency), zap.Int("per_host", p.cfg.PerHost))
	var wg sync.WaitGroup
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case <-t.C:
		case <-p.wake:
		}
		p.dispatch(ctx, &wg)
		t.Reset(tick)
	}
}

// dispatch starts a poll of every due feed (longest overdue first) that its
// host's and the global limit allow.
func (p *Poller) dispatch(ctx context.Context, wg *sync.WaitGroup) {
	now := time.Now()
	type due struct {
		src Source
		at  time.Time
	}
	var list []due
	p.mu.Lock()
	for _, s := range p.sources {
		if p.busy[s.URL] || now.Before(p.wait[s.URL]) {
			continue
		}
		at := now
		if st := p.view[s.URL]; st != nil {
			at = st.NextPoll
			if st.Held(p.cfg.Replica, now) && st.LeaseUntil.After(at) {
				at = st.LeaseUntil
			}
		}
		if !at.After(now) {
			list = append(list, due{s, at})
		}
	}
	p.mu.Unlock()
	slices.SortStableFunc(list, func(a, b due) int { return a.at.Compare(b.at) })
	for _, d := range list {
		h := host(d.src.URL)
		p.mu.Lock()
		if p.hosts[h] >= p.cfg.PerHost {
			p.mu.Unlock()
			continue
		}
		select {
		case p.sem <- struct{}{}:
		default:
			p.mu.Unlock()
			return
		}
		p.busy[d.src.URL] = true
		p.hosts[h]++
		p.mu.Unlock()
		wg.Add(1)
		go func(s Source) {
			defer wg.Done()
			p.poll(ctx, s, time.Time{})
			p.mu.Lock()
			delete(p.busy, s.URL)
			p.hosts[h]--
			p.mu.Unlock()
			<-p.sem
			select {
			case p.wake <- struct{}{}:
			default:
			}
		}(d.src)
	}
}

// Summary counts the feeds of a Once run by how their poll ended.
// Elsewhere counts feeds another replica polled while this run waited for
// its lease (not fetched again); Skipped those whose lease stayed held.
type Summary struct {
	Feeds, New, Unchanged, NotModified, Errors, Skipped, Elsewhere int
	Items                                                          int64
}

// Once polls every feed of the list once, whatever its schedule, and
// returns the tally. A feed whose lease another replica holds is waited for
// up to twice LeaseTTL, then counted skipped; one that replica polled
// meanwhile is not fetched again.
func (p *Poller) Once(ctx context.Context) (Summary, error) {
	since := time.Now()
	if err := p.register(ctx); err != nil {
		return Summary{}, err
	}
	var (
		mu  sync.Mutex
		sum = Summary{Feeds: len(p.sources)}
		wg  sync.WaitGroup
	)
	hostSem := map[string]chan struct{}{}
	for _, s := range p.sources {
		h := host(s.URL)
		if hostSem[h] == nil {
			hostSem[h] = make(chan struct{}, p.cfg.PerHost)
		}
	}
	for _, s := range p.sources {
		hs := hostSem[host(s.URL)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case hs <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-hs }()
			select {
			case p.sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-p.sem }()
			deadline := time.Now().Add(2 * p.cfg.LeaseTTL)
			var o Outcome
			var items int
			for {
				o, items = p.poll(ctx, s, since)
				if o != OutcomeHeld || time.Now().After(deadline) || ctx.Err() != nil {
					break
				}
				select {
				case <-time.After(time.Second):
				case <-ctx.Done():
				}
			}
			mu.Lock()
			defer mu.Unlock()
			sum.Items += int64(items)
			switch o {
			case OutcomeNew:
				sum.New++
			case OutcomeUnchanged:
				sum.Unchanged++
			case OutcomeNotModified:
				sum.NotModified++
			case OutcomeError:
				sum.Errors++
			case OutcomeNotDue:
				sum.Elsewhere++
			default:
				sum.Skipped++
			}
		}()
	}
	wg.Wait()
	return sum, ctx.Err()
}

// poll polls src under its lease and records the outcome. A non-zero
// since (Once) ignores the schedule, but not a poll by another replica
// after since. It returns the outcome and the items published.
func (p *Poller) poll(ctx context.Context, src Source, since time.Time) (Outcome, int) {
	now := time.Now()
	st, rev, err := p.store.Get(ctx, src.URL)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		// The record was removed (bucket purged or recreated): add it
		// back, due now, and poll it on the next round.
		if err = p.store.Add(ctx, src, now); err == nil {
			p.mu.Lock()
			delete(p.view, src.URL)
			p.mu.Unlock()
		}
	}
	if err != nil || st == nil {
		if err != nil {
			p.storeFailed(src, err)
		}
		return OutcomeAborted, 0
	}
	p.setView(src.URL, st)
	if st.Held(p.cfg.Replica, now) {
		p.m.conflicts.Inc()
		return OutcomeHeld, 0
	}
	switch {
	case since.IsZero() && st.NextPoll.After(now):
		return OutcomeNotDue, 0
	case !since.IsZero() && st.LastPoll.After(since) && st.PolledBy != p.cfg.Replica:
		return OutcomeNotDue, 0 // another replica polled it during this Once
	}
	st.Holder, st.LeaseUntil = p.cfg.Replica, now.Add(p.cfg.LeaseTTL)
	if rev, err = p.store.Put(ctx, st, rev); err != nil {
		if errors.Is(err, ErrLeaseLost) {
			p.m.conflicts.Inc()
			return OutcomeHeld, 0
		}
		p.storeFailed(src, err)
		return OutcomeAborted, 0
	}
	p.setView(src.URL, st)

	l := &lease{p: p, st: *st, rev: rev}
	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	l.start(pctx, cancel)
	start := time.Now()
	res := p.work(pctx, src, st)
	rev = l.stop()
	p.m.duration.Observe(time.Since(start).Seconds())
	if cause := context.Cause(pctx); errors.Is(cause, ErrLeaseLost) {
		p.m.conflicts.Inc()
		p.log.Warn("feed lease lost mid-poll; nothing recorded", zap.String("feed", Redact(src.URL)))
		return OutcomeAborted, 0
	}

	// Record the outcome and give the lease back, even when ctx ended.
	wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer wcancel()
	st.Holder, st.LeaseUntil = "", time.Time{}
	o := res.outcome
	if ctx.Err() != nil && o == OutcomeError {
		o = OutcomeAborted // shutdown: leave the schedule as it was
	}
	end := time.Now()
	if o != OutcomeAborted {
		p.record(st, src, res, end)
	}
	if _, err := p.store.Put(wctx, st, rev); err != nil {
		if errors.Is(err, ErrLeaseLost) {
			p.m.conflicts.Inc()
		}
		p.log.Warn("could not record a feed's poll", zap.String("feed", Redact(src.URL)), zap.Error(err))
		return OutcomeAborted, 0
	}
	p.setView(src.URL, st)
	if o != OutcomeAborted {
		p.m.polls.WithLabelValues(string(o)).Inc()
		p.m.items.Add(float64(res.published))
	}
	return o, res.published
}

// result is what work found.
type result struct {
	outcome    Outcome
	published  int
	keys       []string // keys published, to add to the seen set
	inFeed     int
	v          Validators
	maxAge     time.Duration
	err        error
	retryAfter time.Duration
}

// work fetches, parses and publishes; it writes nothing to the bucket.
// When tracing is on it is a "poll" span, parent of each published item's
// send span.
func (p *Poller) work(ctx context.Context, src Source, st *State) (r result) {
	ctx, span := tracing.Start(ctx, "poll", trace.SpanKindInternal)
	defer func() {
		if span.IsRecording() {
			span.SetAttributes(attribute.String("url.full", Redact(src.URL)), tracing.NewsflowOutcome.String(string(r.outcome)),
				attribute.Int("newsflow.feed.items", r.inFeed), attribute.Int("newsflow.feed.published", r.published))
			tracing.Fail(span, r.err)
		}
		span.End()
	}()
	resp, err := p.fetch.Fetch(ctx, src.URL, st.Validators)
	if resp != nil {
		p.m.bytes.Add(float64(resp.WireBytes))
	}
	if err != nil {
		r := result{outcome: OutcomeError, err: err}
		var he *HTTPError
		if errors.As(err, &he) {
			r.retryAfter = he.RetryAfter
		}
		return r
	}
	if resp.NotModified {
		return result{outcome: OutcomeNotModified, v: resp.Validators, maxAge: resp.MaxAge}
	}
	items, skipped, err := Parse(src, resp.Body, time.Now())
	if err != nil {
		return result{outcome: OutcomeError, err: err}
	}
	if skipped > 0 {
		p.log.Debug("feed items without title or text skipped", zap.String("feed", Redact(src.URL)), zap.Int("items", skipped))
	}
	seen := make(map[string]bool, len(st.Seen))
	for _, k := range st.Seen {
		seen[k] = true
	}
	var fresh []news.Message
	var keys []string
	for i := len(items) - 1; i >= 0; i-- { // oldest first
		if !seen[items[i].Key] {
			fresh = append(fresh, items[i].Msg)
			keys = append(keys, items[i].Key)
		}
	}
	r = result{outcome: OutcomeUnchanged, v: resp.Validators, maxAge: resp.MaxAge, inFeed: len(items)}
	if len(fresh) == 0 {
		return r
	}
	if err := p.pub.Publish(ctx, fresh); err != nil {
		return result{outcome: OutcomeError, err: fmt.Errorf("publish %d items: %w", len(fresh), err)}
	}
	r.outcome, r.published, r.keys = OutcomeNew, len(fresh), keys
	return r
}

// record applies res to st: validators, seen keys, counters, next poll.
func (p *Poller) record(st *State, src Source, res result, now time.Time) {
	st.LastPoll, st.PolledBy = now, p.cfg.Replica
	if res.outcome == OutcomeError {
		st.Errors++
		st.LastError, st.LastErrorAt = clip(res.err.Error(), 300), now
		st.NextPoll = now.Add(Jitter(p.cfg.Backoff(st.Errors, res.retryAfter), rand.Float64()))
		p.warnFailure(src, st, res.err)
		return
	}
	if st.Errors > 0 {
		p.log.Info("feed recovered", zap.String("feed", Redact(src.URL)), zap.Int("errors", st.Errors))
		p.mu.Lock()
		delete(p.warn, src.URL)
		p.mu.Unlock()
	}
	st.Errors, st.LastSuccess, st.Validators = 0, now, res.v
	if res.outcome == OutcomeNew {
		st.LastNew = now
		st.Items += int64(res.published)
		st.Seen = addSeen(st.Seen, res.keys, res.inFeed)
	}
	st.Interval = p.cfg.Interval(st.Interval, res.outcome == OutcomeNew, res.maxAge)
	st.NextPoll = now.Add(Jitter(st.Interval, rand.Float64()))
	p.log.Debug("feed polled", zap.String("feed", Redact(src.URL)), zap.String("outcome", string(res.outcome)),
		zap.Int("items", res.published), zap.Duration("interval", st.Interval))
}

// warnFailure logs a feed's first failure, then at most once per warnEvery.
func (p *Poller) warnFailure(src Source, st *State, err error) {
	now := time.Now()
	p.mu.Lock()
	last, ok := p.warn[src.URL]
	if ok && now.Sub(last) < warnEvery {
		p.mu.Unlock()
		return
	}
	p.warn[src.URL] = now
	p.mu.Unlock()
	p.log.Warn("feed poll failed", zap.String("feed", Redact(src.URL)), zap.Int("errors", st.Errors),
		zap.Time("next_poll", st.NextPoll), zap.Error(err))
}

// storeFailed notes a bucket error; the feed is tried again in a few seconds.
func (p *Poller) storeFailed(src Source, err error) {
	p.mu.Lock()
	p.wait[src.URL] = time.Now().Add(5 * time.Second)
	p.mu.Unlock()
	p.log.Warn("feed state unavailable", zap.String("feed", Redact(src.URL)), zap.Error(err))
}

func (p *Poller) setView(url string, st *State) {
	c := *st
	c.Seen = nil
	p.mu.Lock()
	p.view[url] = &c
	p.mu.Unlock()
}

// lease renews a held lease every LeaseTTL/3 until stopped; a failed
// renewal cancels the poll with ErrLeaseLost (or the store's error). st and
// rev belong to the renewing goroutine until stop has waited for it.
type lease struct {
	p    *Poller
	st   State
	done chan struct{}
	wg   sync.WaitGroup
	rev  uint64
}

func (l *lease) start(ctx context.Context, cancel context.CancelCauseFunc) {
	l.done = make(chan struct{})
	l.wg.Go(func() {
		t := time.NewTicker(l.p.cfg.LeaseTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-l.done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			l.st.LeaseUntil = time.Now().Add(l.p.cfg.LeaseTTL)
			rev, err := l.p.store.Put(ctx, &l.st, l.rev)
			if err != nil {
				if !errors.Is(err, ErrLeaseLost) {
					err = fmt.Errorf("%w: renewal failed: %w", ErrLeaseLost, err)
				}
				cancel(err)
				return
			}
			l.rev = rev
		}
	})
}

// stop ends the renewals and returns the revision last written.
func (l *lease) stop() uint64 {
	close(l.done)
	l.wg.Wait()
	return l.rev
}

// host is the URL's host, the unit of the per-host limit.
func host(u string) string {
	if x, err := url.Parse(u); err == nil {
		return x.Host
	}
	return u
}
