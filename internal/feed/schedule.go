package feed

import (
	"fmt"
	"time"

	"newsflow/internal/backoff"
)

// Defaults of Schedule.
const (
	DefaultMinInterval = 5 * time.Minute
	DefaultMaxInterval = time.Hour
	DefaultMaxBackoff  = 6 * time.Hour
	// JitterFraction is the most jitter adds to a delay: feeds listed
	// together drift apart, and no delay is ever shortened by it.
	JitterFraction = 0.1
)

// Schedule decides when a feed is polled next. It is pure: the same inputs
// give the same delay (the jitter is passed in).
type Schedule struct {
	MinInterval time.Duration // shortest interval between polls of a healthy feed. Default DefaultMinInterval.
	MaxInterval time.Duration // longest interval between polls of a healthy feed. Default DefaultMaxInterval.
	MaxBackoff  time.Duration // longest wait after errors. Default DefaultMaxBackoff.
}

// DefaultSchedule returns the defaults.
func DefaultSchedule() Schedule {
	return Schedule{MinInterval: DefaultMinInterval, MaxInterval: DefaultMaxInterval, MaxBackoff: DefaultMaxBackoff}
}

// Validate names the first invalid field.
func (s Schedule) Validate() error {
	switch {
	case s.MinInterval <= 0:
		return fmt.Errorf("feed: --min-interval must be positive, got %s", s.MinInterval)
	case s.MaxInterval < s.MinInterval:
		return fmt.Errorf("feed: --max-interval (%s) must be at least --min-interval (%s)", s.MaxInterval, s.MinInterval)
	case s.MaxBackoff < s.MinInterval:
		return fmt.Errorf("feed: --max-backoff (%s) must be at least --min-interval (%s)", s.MaxBackoff, s.MinInterval)
	}
	return nil
}

// Interval is the interval after a successful poll: a new feed (prev 0)
// starts at MinInterval; new items halve the previous interval, a poll
// without them lengthens it by half; a Cache-Control max-age longer than
// that lengthens it to max-age. The result lies in [MinInterval, MaxInterval].
func (s Schedule) Interval(prev time.Duration, newItems bool, maxAge time.Duration) time.Duration {
	d := s.MinInterval
	switch {
	case prev <= 0:
	case newItems:
		d = prev / 2
	default:
		d = prev + prev/2
	}
	d = max(d, maxAge)
	return min(max(d, s.MinInterval), s.MaxInterval)
}

// Backoff is the wait after errors consecutive failures (≥ 1):
// MinInterval·2^(errors-1), at least retryAfter, at most MaxBackoff.
func (s Schedule) Backoff(errors int, retryAfter time.Duration) time.Duration {
	d := backoff.Delay(max(errors-1, 0), s.MinInterval, s.MaxBackoff)
	return min(max(d, retryAfter), s.MaxBackoff)
}

// Jitter lengthens d by the fraction r·JitterFraction, r in [0, 1).
func Jitter(d time.Duration, r float64) time.Duration {
	return d + time.Duration(float64(d)*JitterFraction*r)
}
