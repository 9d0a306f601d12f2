package feed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// DefaultBucket is the KV bucket holding the feeds' state
// (NEWSFLOW_FEEDS_BUCKET).
const DefaultBucket = "newsflow_feeds"

// MaxSeen is how many item keys a feed's seen set keeps at least (newest
// kept); a feed listing more items keeps twice its item count.
const MaxSeen = 1000

// State is one feed's record in the bucket, under key "feed.<FeedKey>".
// Every write is a compare-and-set on the revision read.
type State struct {
	URL  string `json:"url"`
	Name string `json:"name,omitempty"`

	Validators
	Added       time.Time     `json:"added"`
	NextPoll    time.Time     `json:"next_poll"`
	Interval    time.Duration `json:"interval_ns,omitempty"`
	Errors      int           `json:"errors,omitempty"` // consecutive failed polls
	LastError   string        `json:"last_error,omitempty"`
	LastErrorAt time.Time     `json:"last_error_at,omitzero"`
	LastPoll    time.Time     `json:"last_poll,omitzero"`
	LastSuccess time.Time     `json:"last_success,omitzero"`
	LastNew     time.Time     `json:"last_new,omitzero"`
	Items       int64         `json:"items"` // items published over the feed's life
	PolledBy    string        `json:"polled_by,omitempty"`

	Holder     string    `json:"holder,omitempty"` // replica holding the lease, "" when free
	LeaseUntil time.Time `json:"lease_until,omitzero"`

	Seen []string `json:"seen,omitempty"` // item keys published, oldest first
}

// Leased reports whether some replica holds a live lease at now.
func (s *State) Leased(now time.Time) bool { return s.Holder != "" && now.Before(s.LeaseUntil) }

// Held reports whether a replica other than me holds a live lease at now.
func (s *State) Held(me string, now time.Time) bool { return s.Holder != me && s.Leased(now) }

// ErrLeaseLost is a compare-and-set that lost: another replica wrote the
// feed's record since it was read.
var ErrLeaseLost = errors.New("feed: lease lost to another replica")

// Store is the feeds' records in a KV bucket.
type Store struct {
	kv jetstream.KeyValue
}

// OpenStore creates the bucket if missing (one value per key kept) and
// returns its Store.
func OpenStore(ctx context.Context, js jetstream.JetStream, bucket string) (*Store, error) {
	kv, err := js.KeyValue(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucket, History: 1,
			Description: "newsflow feed poller state: one record per feed"})
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = js.KeyValue(ctx, bucket)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("feed: open KV bucket %s: %w", bucket, err)
	}
	return &Store{kv: kv}, nil
}

func stateKey(feedURL string) string { return "feed." + FeedKey(feedURL) }

// Add records src, polled at once, unless a record exists already; the
// configured name is brought up to date.
func (s *Store) Add(ctx context.Context, src Source, now time.Time) error {
	st := State{URL: src.URL, Name: src.Name, Added: now, NextPoll: now}
	b, _ := json.Marshal(st)
	_, err := s.kv.Create(ctx, stateKey(src.URL), b)
	if errors.Is(err, jetstream.ErrKeyExists) {
		cur, rev, gerr := s.Get(ctx, src.URL)
		if gerr != nil || cur.Name == src.Name {
			return gerr
		}
		cur.Name = src.Name
		if _, err := s.Put(ctx, cur, rev); err != nil && !errors.Is(err, ErrLeaseLost) {
			return err
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("feed: add %s: %w", src.URL, err)
	}
	return nil
}

// Get returns the record of the feed at url and its revision.
func (s *Store) Get(ctx context.Context, url string) (*State, uint64, error) {
	e, err := s.kv.Get(ctx, stateKey(url))
	if err != nil {
		return nil, 0, fmt.Errorf("feed: read state of %s: %w", url, err)
	}
	var st State
	if err := json.Unmarshal(e.Value(), &st); err != nil {
		return nil, 0, fmt.Errorf("feed: state of %s is not valid JSON: %w", url, err)
	}
	return &st, e.Revision(), nil
}

// Put writes st if the record is still at revision rev and returns the new
// revision; ErrLeaseLost when another write came first.
func (s *Store) Put(ctx context.Context, st *State, rev uint64) (uint64, error) {
	b, err := json.Marshal(st)
	if err != nil {
		return 0, err
	}
	n, err := s.kv.Update(ctx, stateKey(st.URL), b, rev)
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) {
		return 0, ErrLeaseLost
	}
	if err != nil {
		return 0, fmt.Errorf("feed: write state of %s: %w", st.URL, err)
	}
	return n, nil
}

// All returns every feed record in the bucket.
func (s *Store) All(ctx context.Context) ([]*State, error) {
	w, err := s.kv.Watch(ctx, "feed.*", jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("feed: list states: %w", err)
	}
	defer func() { _ = w.Stop() }()
	var out []*State
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case e := <-w.Updates():
			if e == nil {
				return out, nil
			}
			var st State
			if err := json.Unmarshal(e.Value(), &st); err != nil {
				return nil, fmt.Errorf("feed: state %s is not valid JSON: %w", e.Key(), err)
			}
			out = append(out, &st)
		}
	}
}

// addSeen appends keys to seen, keeping the newest max(MaxSeen, 2·inFeed).
func addSeen(seen []string, keys []string, inFeed int) []string {
	seen = append(seen, keys...)
	if limit := max(MaxSeen, 2*inFeed); len(seen) > limit {
		seen = append([]string(nil), seen[len(seen)-limit:]...)
	}
	return seen
}

// Ping checks that the bucket answers, for readiness.
func (s *Store) Ping(ctx context.Context) error {
	if _, err := s.kv.Status(ctx); err != nil {
		return fmt.Errorf("feed: KV bucket %s: %w", s.kv.Bucket(), err)
	}
	return nil
}
