package batcher

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeClock hands every timer it makes to the test, which fires it by hand.
type fakeClock struct{ made chan *fakeTimer }

type fakeTimer struct {
	c       chan time.Time
	d       time.Duration
	stopped chan struct{}
}

func (f *fakeClock) NewTimer(d time.Duration) Timer {
	t := &fakeTimer{c: make(chan time.Time, 1), d: d, stopped: make(chan struct{}, 1)}
	f.made <- t
	return t
}
func (t *fakeTimer) C() <-chan time.Time { return t.c }
func (t *fakeTimer) Stop() bool {
	select {
	case t.stopped <- struct{}{}:
	default:
	}
	return true
}

type flushed struct {
	Items  []int
	Reason FlushReason
}

type bundle struct {
	in      chan int
	clock   *fakeClock
	flushes chan flushed
	done    chan error
	ctx     context.Context
	cancel  context.CancelFunc
}

// setup starts a batcher over ints whose size is their value.
func setup(t *testing.T, cfg Config) *bundle {
	t.Helper()
	b := &bundle{in: make(chan int), clock: &fakeClock{made: make(chan *fakeTimer, 16)}, flushes: make(chan flushed, 16), done: make(chan error, 1)}
	cfg.Clock = b.clock
	bt, err := New(cfg, func(ctx context.Context, batch []int, reason FlushReason) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		b.flushes <- flushed{batch, reason}
		return nil
	}, func(i int) int { return i }, zaptest.NewLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	t.Cleanup(b.cancel)
	go func() { b.done <- bt.Run(b.ctx, b.in) }()
	return b
}

func (b *bundle) next(t *testing.T) flushed {
	t.Helper()
	select {
	case f := <-b.flushes:
		return f
	case <-time.After(5 * time.Second):
		t.Fatal("no flush")
	}
	return flushed{}
}

// timer returns the next timer the batcher makes.
func (b *bundle) timer(t *testing.T) *fakeTimer {
	t.Helper()
	select {
	case tm := <-b.clock.made:
		return tm
	case <-time.After(5 * time.Second):
		t.Fatal("no timer made")
	}
	return nil
}

func (b *bundle) finish(t *testing.T) {
	t.Helper()
	close(b.in)
	select {
	case err := <-b.done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after input closed")
	}
}

func TestBatcher_Flush(t *testing.T) {
	t.Parallel()
	t.Run("OnSize", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{MaxMessages: 3, MaxBytes: 1000, MaxWait: time.Hour})
		for i := 1; i <= 7; i++ {
			b.in <- 1
		}
		got := []flushed{b.next(t), b.next(t)}
		b.finish(t)
		got = append(got, b.next(t))
		want := []flushed{{[]int{1, 1, 1}, FlushSize}, {[]int{1, 1, 1}, FlushSize}, {[]int{1}, FlushShutdown}}
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("(-want +got)\n%s", d)
		}
	})
	t.Run("OnBytes", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{MaxMessages: 100, MaxBytes: 10, MaxWait: time.Hour})
		for _, n := range []int{4, 4, 4, 6, 30, 1} {
			b.in <- n
		}
		got := []flushed{b.next(t), b.next(t), b.next(t)}
		b.finish(t)
		got = append(got, b.next(t))
		want := []flushed{
			{[]int{4, 4}, FlushBytes}, // 4+4+4 would pass 10
			{[]int{4, 6}, FlushBytes}, // reached 10 exactly
			{[]int{30}, FlushBytes},   // larger than MaxBytes: alone
			{[]int{1}, FlushShutdown},
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("(-want +got)\n%s", d)
		}
	})
	t.Run("OnTime", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{MaxMessages: 100, MaxBytes: 1000, MaxWait: 5 * time.Second})
		b.in <- 1
		tm := <-b.clock.made
		if tm.d != 5*time.Second {
			t.Fatalf("timer for %s, want MaxWait", tm.d)
		}
		b.in <- 2
		tm.c <- time.Now()
		if d := cmp.Diff(flushed{[]int{1, 2}, FlushTime}, b.next(t)); d != "" {
			t.Fatalf("(-want +got)\n%s", d)
		}
		b.in <- 3 // a new batch starts a new timer
		<-b.clock.made
		b.finish(t)
		if d := cmp.Diff(flushed{[]int{3}, FlushShutdown}, b.next(t)); d != "" {
			t.Fatalf("(-want +got)\n%s", d)
		}
	})
	t.Run("OnIdle", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{MaxMessages: 100, MaxBytes: 1000, MaxWait: 5 * time.Second, MaxIdle: 100 * time.Millisecond})
		b.in <- 1
		if wait := b.timer(t); wait.d != 5*time.Second {
			t.Fatalf("first timer for %s, want MaxWait", wait.d)
		}
		idle := b.timer(t)
		if idle.d != 100*time.Millisecond {
			t.Fatalf("second timer for %s, want MaxIdle", idle.d)
		}
		b.in <- 2
		idle.c <- time.Now() // an item arrived since: no flush, check again later
		again := b.timer(t)
		select {
		case f := <-b.flushes:
			t.Fatalf("flushed while items were arriving: %+v", f)
		default:
		}
		again.c <- time.Now() // nothing arrived since the last check
		if d := cmp.Diff(flushed{[]int{1, 2}, FlushIdle}, b.next(t)); d != "" {
			t.Fatalf("(-want +got)\n%s", d)
		}
		b.in <- 3 // a new batch starts both timers again
		b.timer(t)
		b.timer(t)
		b.finish(t)
		if d := cmp.Diff(flushed{[]int{3}, FlushShutdown}, b.next(t)); d != "" {
			t.Fatalf("(-want +got)\n%s", d)
		}
	})
	t.Run("IdleOffByDefault", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{MaxMessages: 100, MaxBytes: 1000, MaxWait: 5 * time.Second})
		b.in <- 1
		<-b.clock.made
		b.in <- 2 // the second item was taken, so a second timer would have been made by now
		select {
		case tm := <-b.clock.made:
			t.Fatalf("made a timer for %s without MaxIdle", tm.d)
		default:
		}
		b.finish(t)
		b.next(t)
	})
	t.Run("PartialOnShutdown", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{MaxMessages: 100, MaxBytes: 1000, MaxWait: time.Hour})
		b.in <- 1
		b.in <- 2
		b.cancel() // SIGTERM: the context ends before the input is closed
		b.finish(t)
		if d := cmp.Diff(flushed{[]int{1, 2}, FlushShutdown}, b.next(t)); d != "" {
			t.Fatalf("the shutdown flush must run on a live context (-want +got)\n%s", d)
		}
	})
	t.Run("EmptyOnShutdown", func(t *testing.T) {
		t.Parallel()
		b := setup(t, Config{MaxMessages: 100, MaxBytes: 1000, MaxWait: time.Hour})
		b.finish(t)
		select {
		case f := <-b.flushes:
			t.Fatalf("flushed an empty batch: %+v", f)
		default:
		}
	})
}

func TestBatcher_FlushErrorStopsRun(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	bt, err := New(Config{MaxMessages: 1}, func(context.Context, []int, FlushReason) error { return boom },
		func(int) int { return 1 }, zaptest.NewLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	in := make(chan int, 1)
	in <- 1
	if err := bt.Run(context.Background(), in); !errors.Is(err, boom) {
		t.Fatalf("got %v, want the flush error", err)
	}
}

func TestConfig_Validate(t *testing.T) {
	t.Parallel()
	for _, c := range []Config{{MaxMessages: -1}, {MaxBytes: -5}, {MaxWait: -time.Second}, {MaxIdle: -time.Second}} {
		if _, err := New(c, func(context.Context, []int, FlushReason) error { return nil }, func(int) int { return 1 }, zaptest.NewLogger(t), nil); err == nil {
			t.Errorf("New(%+v) accepted an invalid config", c)
		}
	}
}

func BenchmarkBatcher(b *testing.B) {
	bt, err := New(Config{MaxMessages: 100, MaxWait: time.Hour}, func(context.Context, []int, FlushReason) error { return nil },
		func(int) int { return 1024 }, zaptest.NewLogger(b), nil)
	if err != nil {
		b.Fatal(err)
	}
	in := make(chan int, 1024)
	done := make(chan error)
	go func() { done <- bt.Run(context.Background(), in) }()
	n := 0
	for b.Loop() {
		in <- n
		n++
	}
	close(in)
	<-done
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msgs/s")
}
