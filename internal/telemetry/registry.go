package telemetry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// Defaults of the worker registry.
const (
	// DefaultRegistryBucket is the JetStream key-value bucket every worker
	// heartbeats into and `worker ps` and the replica hint read.
	DefaultRegistryBucket = "newsflow_workers"
	// DefaultHeartbeatInterval is how often a worker rewrites its entry.
	DefaultHeartbeatInterval = 5 * time.Second
	// heartbeatTTLFactor: an entry lives for this many intervals after its
	// last beat, so one or two late beats do not make a worker vanish.
	heartbeatTTLFactor = 3
	// deleteBudget bounds the removal of the entry on shutdown.
	deleteBudget = 2 * time.Second
)

// ValidBucket reports a bucket name JetStream would refuse: it must be
// letters, digits, '-' and '_'.
func ValidBucket(name string) error {
	if name == "" {
		return errors.New("must not be empty")
	}
	for _, r := range name {
		if !nameChar(r) {
			return fmt.Errorf("%q: want letters, digits, - and _ only, like %s", name, DefaultRegistryBucket)
		}
	}
	return nil
}

// nameChar reports whether r may appear in a bucket name or a worker's key:
// an ASCII letter or digit, '-' or '_'.
func nameChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_'
}

// HeartbeatTTL is the lifetime of a registry entry for a heartbeat interval:
// three intervals.
func HeartbeatTTL(interval time.Duration) time.Duration { return heartbeatTTLFactor * interval }

// Breaker and Redis states of an Entry.
const (
	StateClosed   = "closed"   // breaker: the LLM answers
	StateOpen     = "open"     // breaker: the LLM is failing, calls are held
	StateOK       = "ok"       // redis: reachable
	StateDegraded = "degraded" // redis: unreachable, in-process cache only
	StateNone     = "none"     // no LLM client / no Redis configured
)

// Entry is one worker's registry value, and one line of `worker ps --json`.
type Entry struct {
	// ID is the entry's key: the host name (characters a key cannot hold
	// replaced by '_'), '-', the process id.
	ID   string `json:"id"`
	Host string `json:"host"`
	// Version is buildinfo's version of the worker binary.
	Version  string `json:"version"`
	Stream   string `json:"stream"`
	Consumer string `json:"consumer"`
	// Started is when the worker started; Heartbeat when it wrote this entry.
	Started   time.Time `json:"started"`
	Heartbeat time.Time `json:"heartbeat"`
	// Messages counts messages committed and acked since start;
	// MessagesPerSecond is the rate over the last heartbeat interval.
	Messages          int64   `json:"messages"`
	MessagesPerSecond float64 `json:"messages_per_second"`
	// Held counts messages handed to the pipeline and not yet settled.
	Held int `json:"held"`
	// LastCommit is the last committed batch's time; null before the first.
	LastCommit *time.Time `json:"last_commit"`
	// Breaker is closed, open or none; Redis is ok, degraded or none.
	Breaker string `json:"breaker"`
	Redis   string `json:"redis"`
}

// RegistryConfig configures a Heartbeat.
type RegistryConfig struct {
	// Bucket is the key-value bucket. Default DefaultRegistryBucket.
	Bucket string
	// Interval is the time between beats; the bucket's TTL is three of
	// them. Must be > 0 (callers turn the registry off by not starting it).
	Interval time.Duration
	// Replicas of the bucket in a cluster: the stream's. Default 1.
	Replicas int
}

// WorkerID is the registry key of this process: host, '-', pid.
func WorkerID(host string, pid int) string {
	return sanitizeKey(host) + "-" + strconv.Itoa(pid)
}

// sanitizeKey replaces what a key-value key cannot hold ([-_=/.a-zA-Z0-9]
// is allowed; '.' separates tokens, so it is replaced too) by '_'.
func sanitizeKey(s string) string {
	if s == "" {
		return "unknown"
	}
	return strings.Map(func(r rune) rune {
		if nameChar(r) {
			return r
		}
		return '_'
	}, s)
}

// NewEntry returns this process's entry for stream and consumer, with ID,
// Host, Version and Started filled in.
func NewEntry(version, stream, consumer string, started time.Time) Entry {
	host, _ := os.Hostname()
	if host == "" {
		host = "unknown"
	}
	return Entry{ID: WorkerID(host, os.Getpid()), Host: host, Version: version, Stream: stream, Consumer: consumer,
		Started: started.UTC(), Breaker: StateNone, Redis: StateNone}
}

// Heartbeat keeps one worker's entry in the registry. Create it with
// NewHeartbeat and call Run once.
type Heartbeat struct {
	js    jetstream.JetStream
	kv    jetstream.KeyValue
	cfg   RegistryConfig
	entry Entry
	state func(*Entry)
	log   *zap.Logger
	now   func() time.Time

	lastN  int64     // Messages at the previous beat
	lastAt time.Time // time of the previous beat; zero before the first
}

// NewHeartbeat opens the registry bucket, creating it when missing (memory
// storage, history 1, TTL three intervals, cfg.Replicas). An existing bucket
// keeps its settings; a TTL shorter than three of this worker's intervals
// is logged, since entries would then expire between beats. state fills in
// the changing fields of the entry before each beat (Messages, Held,
// LastCommit, Breaker, Redis); Heartbeat sets Heartbeat and
// MessagesPerSecond itself.
func NewHeartbeat(ctx context.Context, js jetstream.JetStream, cfg RegistryConfig, entry Entry, state func(*Entry), log *zap.Logger) (*Heartbeat, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if cfg.Bucket == "" {
		cfg.Bucket = DefaultRegistryBucket
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
	}
	if cfg.Interval <= 0 {
		return nil, fmt.Errorf("telemetry: registry: need a heartbeat interval > 0, got %s", cfg.Interval)
	}
	if entry.ID == "" {
		return nil, errors.New("telemetry: registry: the entry needs an ID")
	}
	if state == nil {
		state = func(*Entry) {}
	}
	log = log.Named("registry").With(zap.String("bucket", cfg.Bucket), zap.String("worker_id", entry.ID))
	h := &Heartbeat{js: js, cfg: cfg, entry: entry, state: state, log: log, now: time.Now}
	if err := h.openBucket(ctx); err != nil {
		return nil, err
	}
	return h, nil
}

// openBucket opens the bucket, creating it when missing.
func (h *Heartbeat) openBucket(ctx context.Context) error {
	ttl := HeartbeatTTL(h.cfg.Interval)
	kv, err := h.js.KeyValue(ctx, h.cfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = h.js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket: h.cfg.Bucket, Description: "newsflow workers (worker ps)", History: 1, TTL: ttl,
			Storage: jetstream.MemoryStorage, Replicas: h.cfg.Replicas,
		})
		if errors.Is(err, jetstream.ErrBucketExists) { // another worker created it meanwhile
			kv, err = h.js.KeyValue(ctx, h.cfg.Bucket)
		}
	}
	if err != nil {
		return fmt.Errorf("telemetry: registry bucket %s: %w", h.cfg.Bucket, err)
	}
	if st, err := kv.Status(ctx); err == nil && st.TTL() > 0 && st.TTL() < ttl {
		h.log.Warn("registry bucket TTL is shorter than three heartbeat intervals: entries may expire between beats",
			zap.Duration("ttl", st.TTL()), zap.Duration("interval", h.cfg.Interval))
	}
	h.kv = kv
	return nil
}

// Run writes the entry at once and then every interval until ctx is done,
// then deletes it (within its own 2 s budget) and returns nil. A failed
// write is logged (the first of a run of failures, then every 12th) and
// retried at the next beat; a bucket that has disappeared (a single NATS
// server restarted: the bucket lives in memory) is created again.
func (h *Heartbeat) Run(ctx context.Context) error {
	t := time.NewTicker(h.cfg.Interval)
	defer t.Stop()
	failures := 0
	for {
		if err := h.put(ctx, h.next()); err != nil && ctx.Err() == nil {
			failures++
			if failures%12 == 1 {
				h.log.Warn("registry heartbeat", zap.Int("failures", failures), zap.Error(err))
			}
		} else {
			failures = 0
		}
		select {
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), deleteBudget)
			defer cancel()
			if err := h.kv.Delete(dctx, h.entry.ID); err != nil {
				h.log.Warn("remove registry entry", zap.Error(err))
			}
			return nil
		case <-t.C:
		}
	}
}

// next is the entry of the beat happening now: the state, the time, and
// the rate since the previous beat (0 on the first).
func (h *Heartbeat) next() Entry {
	e := h.entry
	h.state(&e)
	now := h.now()
	e.Heartbeat = now.UTC()
	if !h.lastAt.IsZero() {
		if dt := now.Sub(h.lastAt).Seconds(); dt > 0 {
			e.MessagesPerSecond = float64(e.Messages-h.lastN) / dt
		}
	}
	h.lastN, h.lastAt = e.Messages, now
	return e
}

func (h *Heartbeat) put(ctx context.Context, e Entry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, max(h.cfg.Interval, 2*time.Second))
	defer cancel()
	_, err = h.kv.Put(pctx, e.ID, b)
	if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, jetstream.ErrStreamNotFound) {
		if err = h.openBucket(pctx); err == nil {
			h.log.Info("registry bucket was gone: created it again")
			_, err = h.kv.Put(pctx, e.ID, b)
		}
	}
	return err
}

// List returns the current entries of bucket, sorted by stream, consumer
// and ID. It reads every value with one watch, and drops entries whose last
// write is older than the bucket's TTL that the server has not expired yet
// (a worker killed without a chance to delete its key). A bucket that does
// not exist holds no workers: List returns none and no error.
func List(ctx context.Context, js jetstream.JetStream, bucket string) ([]Entry, error) {
	if bucket == "" {
		bucket = DefaultRegistryBucket
	}
	kv, err := js.KeyValue(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("telemetry: registry bucket %s: %w", bucket, err)
	}
	st, err := kv.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("telemetry: registry bucket %s: %w", bucket, err)
	}
	ttl := st.TTL()
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("telemetry: watch registry bucket %s: %w", bucket, err)
	}
	defer func() { _ = w.Stop() }()
	var out []Entry
	now := time.Now()
	for {
		var kve jetstream.KeyValueEntry
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("telemetry: read registry bucket %s: %w", bucket, ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("telemetry: read registry bucket %s: watch ended", bucket)
			}
			kve = e
		}
		if kve == nil { // the initial values are all delivered
			break
		}
		if ttl > 0 && now.Sub(kve.Created()) > ttl {
			continue
		}
		var e Entry
		if err := json.Unmarshal(kve.Value(), &e); err != nil || e.ID == "" {
			continue // not a worker entry; the bucket is ours, but never fail a listing on one bad value
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Stream != b.Stream {
			return a.Stream < b.Stream
		}
		if a.Consumer != b.Consumer {
			return a.Consumer < b.Consumer
		}
		return a.ID < b.ID
	})
	return out, nil
}

// liveByConsumer counts the entries of stream by consumer.
func liveByConsumer(entries []Entry, stream string) map[string]int {
	live := map[string]int{}
	for _, e := range entries {
		if e.Stream == stream {
			live[e.Consumer]++
		}
	}
	return live
}
