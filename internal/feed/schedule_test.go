package feed

import (
	"testing"
	"time"
)

func TestSchedule_Interval(t *testing.T) {
	t.Parallel()
	s := Schedule{MinInterval: 5 * time.Minute, MaxInterval: time.Hour, MaxBackoff: 6 * time.Hour}
	for _, tc := range []struct {
		name   string
		prev   time.Duration
		isNew  bool
		maxAge time.Duration
		want   time.Duration
	}{
		{"first poll", 0, true, 0, 5 * time.Minute},
		{"new items halve", 40 * time.Minute, true, 0, 20 * time.Minute},
		{"halving stops at min", 6 * time.Minute, true, 0, 5 * time.Minute},
		{"quiet lengthens by half", 20 * time.Minute, false, 0, 30 * time.Minute},
		{"quiet stops at max", 50 * time.Minute, false, 0, time.Hour},
		{"max-age lengthens", 5 * time.Minute, true, 30 * time.Minute, 30 * time.Minute},
		{"max-age capped at max", 5 * time.Minute, false, 3 * time.Hour, time.Hour},
		{"short max-age ignored", 20 * time.Minute, false, time.Minute, 30 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := s.Interval(tc.prev, tc.isNew, tc.maxAge); got != tc.want {
				t.Errorf("Interval(%s, %v, %s) = %s, want %s", tc.prev, tc.isNew, tc.maxAge, got, tc.want)
			}
		})
	}
}

func TestSchedule_Backoff(t *testing.T) {
	t.Parallel()
	s := Schedule{MinInterval: 5 * time.Minute, MaxInterval: time.Hour, MaxBackoff: 6 * time.Hour}
	for _, tc := range []struct {
		errors     int
		retryAfter time.Duration
		want       time.Duration
	}{
		{1, 0, 5 * time.Minute},
		{2, 0, 10 * time.Minute},
		{3, 0, 20 * time.Minute},
		{7, 0, 320 * time.Minute},
		{8, 0, 6 * time.Hour},
		{1000, 0, 6 * time.Hour},
		{1, time.Hour, time.Hour},
		{1, 48 * time.Hour, 6 * time.Hour},
		{4, time.Minute, 40 * time.Minute},
	} {
		if got := s.Backoff(tc.errors, tc.retryAfter); got != tc.want {
			t.Errorf("Backoff(%d, %s) = %s, want %s", tc.errors, tc.retryAfter, got, tc.want)
		}
	}
}

func TestJitter(t *testing.T) {
	t.Parallel()
	for _, r := range []float64{0, 0.5, 0.999} {
		got := Jitter(time.Hour, r)
		if got < time.Hour || got > time.Hour+6*time.Minute {
			t.Errorf("Jitter(1h, %v) = %s, want within [1h, 1h6m]", r, got)
		}
	}
}

func TestConfig_Validate(t *testing.T) {
	t.Parallel()
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	c.MaxInterval = time.Minute
	if err := c.Validate(); err == nil {
		t.Error("max-interval below min-interval accepted")
	}
	c = DefaultConfig()
	c.LeaseTTL = time.Second
	if err := c.Validate(); err == nil {
		t.Error("1s lease accepted")
	}
}
