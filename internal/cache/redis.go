package cache

import (
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultCallTimeout bounds each of the cache's calls to Redis (Config.CallTimeout).
const DefaultCallTimeout = time.Second

// NewRedisClient returns one client for a redis:// or rediss:// URL: a
// *redis.Client for a single Redis, or, when cluster is set, a
// *redis.ClusterClient for Redis Cluster, with the URL in the form
// redis.ParseClusterURL reads (redis://h1:7000?addr=h2:7001&addr=h3:7002;
// the seed addresses only, the client discovers the rest).
//
// Its timeouts let a dead Redis degrade its users within about a second
// instead of stalling the worker: dial 1s, pool wait 2s, one dial attempt,
// no command retries (the cache falls back to in-process instead). maxCall
// is the read and write timeout, the longest any one call may take (0:
// DefaultCallTimeout); every call may shorten it through its context's
// deadline (the client honours context deadlines), as the cache does for
// its own calls. The pool holds max(32, 10×GOMAXPROCS) connections (per
// node on a cluster) unless the URL sets pool_size; query parameters in the
// URL override the other defaults too. The error never contains the URL (it
// may hold a password).
func NewRedisClient(rawURL string, cluster bool, maxCall time.Duration) (redis.UniversalClient, error) {
	if maxCall <= 0 {
		maxCall = DefaultCallTimeout
	}
	if cluster {
		o, err := parseClusterURL(rawURL)
		if err != nil {
			return nil, err
		}
		setDefaults(maxCall, &o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, &o.PoolSize, &o.DialerRetries, &o.MaxRetries)
		o.ContextTimeoutEnabled = true
		o.DisableIdentity = true // CLIENT SETINFO needs Redis ≥ 7.2
		return redis.NewClusterClient(o), nil
	}
	o, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	setDefaults(maxCall, &o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, &o.PoolSize, &o.DialerRetries, &o.MaxRetries)
	o.ContextTimeoutEnabled = true
	o.DisableIdentity = true
	return redis.NewClient(o), nil
}

// ErrClusterURL is NewRedisClient's error for a URL that lists several
// nodes (addr=) outside cluster mode.
var ErrClusterURL = errors.New("cache: redis url lists cluster nodes (addr=), which needs cluster mode")

// CheckRedisURL reports whether NewRedisClient accepts rawURL, in one line
// that never quotes the URL.
func CheckRedisURL(rawURL string, cluster bool) error {
	var err error
	if cluster {
		_, err = parseClusterURL(rawURL)
	} else {
		_, err = parseURL(rawURL)
	}
	return err
}

func parseURL(rawURL string) (*redis.Options, error) {
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		if u, perr := url.Parse(rawURL); perr == nil && u.Query().Has("addr") {
			return nil, ErrClusterURL
		}
		return nil, fmt.Errorf("cache: parse redis url: %w", redactedErr{err})
	}
	return opt, nil
}

func parseClusterURL(rawURL string) (*redis.ClusterOptions, error) {
	opt, err := redis.ParseClusterURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("cache: parse redis cluster url: %w", redactedErr{err})
	}
	// ParseClusterURL ignores a path; a database other than 0 would be
	// silently dropped, and Redis Cluster has only database 0.
	if u, err := url.Parse(rawURL); err == nil {
		if db := strings.Trim(u.Path, "/"); db != "" && db != "0" {
			return nil, fmt.Errorf("cache: redis cluster url: database %q given, but Redis Cluster has only database 0", db)
		}
	}
	return opt, nil
}

// setDefaults gives the options the URL left unset NewRedisClient's
// defaults; maxCall is the read and write timeout.
func setDefaults(maxCall time.Duration, dial, read, write, pool *time.Duration, poolSize, dialerRetries, maxRetries *int) {
	setIfZero(dial, time.Second)
	setIfZero(read, maxCall)
	setIfZero(write, maxCall)
	setIfZero(pool, 2*time.Second)
	setIfZero(poolSize, max(32, 10*runtime.GOMAXPROCS(0)))
	setIfZero(dialerRetries, 1) // go-redis default 5 would multiply DialTimeout
	setIfZero(maxRetries, -1)
}

func setIfZero[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

// redactedErr hides the text of a URL parse error, which may quote the URL.
type redactedErr struct{ err error }

func (e redactedErr) Error() string { return "invalid url" }
func (e redactedErr) Unwrap() error { return e.err }
