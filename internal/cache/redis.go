package cache

import (
	"fmt"
	"runtime"
	"time"

	"github.com/redis/go-redis/v9"
)

// NewRedisClient returns a client for a redis:// or rediss:// URL with
// timeouts short enough that a dead Redis degrades the cache within about a
// second instead of stalling the worker: dial, read and write 1s, pool wait
// 2s, one dial attempt, no command retries (the cache falls back to
// in-process instead). The pool holds max(32, 10×GOMAXPROCS) connections
// unless the URL sets pool_size; query parameters in the URL override the
// other defaults too. The error never contains the URL (it may hold a
// password).
func NewRedisClient(url string) (*redis.Client, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("cache: parse redis url: %w", redactedErr{err})
	}
	if opt.DialTimeout == 0 {
		opt.DialTimeout = time.Second
	}
	if opt.ReadTimeout == 0 {
		opt.ReadTimeout = time.Second
	}
	if opt.WriteTimeout == 0 {
		opt.WriteTimeout = time.Second
	}
	if opt.PoolTimeout == 0 {
		opt.PoolTimeout = 2 * time.Second
	}
	if opt.PoolSize == 0 {
		opt.PoolSize = max(32, 10*runtime.GOMAXPROCS(0))
	}
	if opt.DialerRetries == 0 {
		opt.DialerRetries = 1 // go-redis default 5 would multiply DialTimeout
	}
	if opt.MaxRetries == 0 {
		opt.MaxRetries = -1
	}
	opt.DisableIdentity = true // CLIENT SETINFO needs Redis ≥ 7.2
	return redis.NewClient(opt), nil
}

// redactedErr hides the text of a URL parse error, which may quote the URL.
type redactedErr struct{ err error }

func (e redactedErr) Error() string { return "invalid url" }
func (e redactedErr) Unwrap() error { return e.err }
