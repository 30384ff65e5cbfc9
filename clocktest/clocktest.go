// Package clocktest is a clock for tests that moves only when the test says,
// and tells the test each time the code under test starts waiting on it, so
// that timed behaviour is tested without sleeping. Package clock has the
// system's.
package clocktest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// Clock implements Now, After and NewTimer on a time the test moves with
// Advance or AdvanceToNext. It is safe for concurrent use.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*timer
	waiting chan struct{} // a value per After or NewTimer call
	changed chan struct{} // closed and replaced whenever timers change
}

type timer struct {
	at time.Time
	c  chan time.Time
}

// New returns a Clock reading now.
func New(now time.Time) *Clock {
	return &Clock{now: now, waiting: make(chan struct{}, 1000), changed: make(chan struct{})}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After returns a channel that receives the time once the clock has been
// advanced by d; at once for d ≤ 0.
func (c *Clock) After(d time.Duration) <-chan time.Time {
	ch, _ := c.NewTimer(d)
	return ch
}

// NewTimer is After, with a function that stops the timer and reports
// whether it was still running.
func (c *Clock) NewTimer(d time.Duration) (<-chan time.Time, func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &timer{at: c.now.Add(d), c: make(chan time.Time, 1)}
	if d <= 0 {
		t.c <- c.now
	} else {
		c.timers = append(c.timers, t)
		c.notify()
	}
	select {
	case c.waiting <- struct{}{}:
	default:
	}
	return t.c, func() bool { return c.stop(t) }
}

func (c *Clock) stop(t *timer) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := slices.Index(c.timers, t)
	if i < 0 {
		return false
	}
	c.timers = slices.Delete(c.timers, i, i+1)
	c.notify()
	return true
}

// notify wakes those in WaitTimers; c.mu must be held.
func (c *Clock) notify() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Advance moves the clock on by d, fires the timers due, earliest first,
// and returns how many it fired.
func (c *Clock) Advance(d time.Duration) (fired int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	slices.SortStableFunc(c.timers, func(x, y *timer) int { return x.at.Compare(y.at) })
	for fired < len(c.timers) && !c.timers[fired].at.After(c.now) {
		c.timers[fired].c <- c.now
		fired++
	}
	if fired > 0 {
		c.timers = slices.Delete(c.timers, 0, fired)
		c.notify()
	}
	return fired
}

// AdvanceToNext moves the clock to the earliest running timer and fires it,
// with any other due then. It returns how far the clock moved, 0 when no
// timer runs.
func (c *Clock) AdvanceToNext() time.Duration {
	c.mu.Lock()
	if len(c.timers) == 0 {
		c.mu.Unlock()
		return 0
	}
	next := slices.MinFunc(c.timers, func(x, y *timer) int { return x.at.Compare(y.at) }).at
	d := next.Sub(c.now)
	c.mu.Unlock()
	c.Advance(d)
	return d
}

// Timers returns the number of timers running.
func (c *Clock) Timers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// WaitTimers waits until at least n timers run, which tells a test that
// code stopping its timers when done has that many goroutines waiting on
// the clock. It reports false if ctx ended first.
func (c *Clock) WaitTimers(ctx context.Context, n int) bool {
	for {
		c.mu.Lock()
		ok, changed := len(c.timers) >= n, c.changed
		c.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return false
		}
	}
}

// Settled waits, up to within, until the code under test calls After again:
// it has done what a fired timer or a wake-up asked and waits once more.
func (c *Clock) Settled(tb testing.TB, within time.Duration) {
	tb.Helper()
	select {
	case <-c.waiting:
	case <-time.After(within):
		tb.Fatal("the code under test did not go back to waiting on the clock")
	}
}
