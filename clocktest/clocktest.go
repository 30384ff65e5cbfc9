// Package clocktest is a clock for tests that moves only when the test says,
// and tells the test each time the code under test starts waiting on it, so
// that timed behaviour is tested without sleeping.
package clocktest

import (
	"sync"
	"testing"
	"time"
)

// Clock implements Now and After on a time the test moves with Advance.
// It is safe for concurrent use.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []timer
	waiting chan struct{} // a value per After call
}

type timer struct {
	at time.Time
	c  chan time.Time
}

// New returns a Clock reading now.
func New(now time.Time) *Clock {
	return &Clock{now: now, waiting: make(chan struct{}, 1000)}
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
	c.mu.Lock()
	defer c.mu.Unlock()
	t := timer{at: c.now.Add(d), c: make(chan time.Time, 1)}
	if d <= 0 {
		t.c <- c.now
	} else {
		c.timers = append(c.timers, t)
	}
	select {
	case c.waiting <- struct{}{}:
	default:
	}
	return t.c
}

// Advance moves the clock on by d, fires the timers due, and returns how
// many it fired.
func (c *Clock) Advance(d time.Duration) (fired int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.timers[:0]
	for _, t := range c.timers {
		if t.at.After(c.now) {
			kept = append(kept, t)
			continue
		}
		t.c <- c.now
		fired++
	}
	c.timers = kept
	return fired
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
