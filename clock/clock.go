// Package clock gives code that waits a clock it can be handed: System, the
// machine's, or Fake, one a test moves by hand, so that tests of retries and
// pacing neither sleep nor race with the machine's load.
//
// Consumers declare the interface they need, made of the methods below:
//
//	type Clock interface {
//		Now() time.Time
//		NewTimer(d time.Duration) (c <-chan time.Time, stop func() bool)
//	}
package clock

import (
	"context"
	"sort"
	"sync"
	"time"
)

// System is the machine's clock. Its times carry the monotonic reading, so
// that durations between them ignore steps of the wall clock.
type System struct{}

// Now returns time.Now().
func (System) Now() time.Time { return time.Now() }

// NewTimer returns a channel that receives the time once d has passed, and a
// function that stops the timer, reporting whether it was still running.
func (System) NewTimer(d time.Duration) (<-chan time.Time, func() bool) {
	t := time.NewTimer(d)
	return t.C, t.Stop
}

// Fake is a clock that moves only when Advance or AdvanceToNext is called.
// Its methods are safe for concurrent use.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*timer
	changed chan struct{} // closed and replaced whenever timers change
}

type timer struct {
	at time.Time
	c  chan time.Time
}

// NewFake returns a Fake reading start.
func NewFake(start time.Time) *Fake {
	return &Fake{now: start, changed: make(chan struct{})}
}

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// NewTimer returns a channel that receives once the fake time reaches
// Now()+d, at once if d <= 0, and a function that stops the timer.
func (f *Fake) NewTimer(d time.Duration) (<-chan time.Time, func() bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &timer{at: f.now.Add(d), c: make(chan time.Time, 1)}
	if d <= 0 {
		t.c <- f.now
		return t.c, func() bool { return false }
	}
	f.timers = append(f.timers, t)
	f.notify()
	return t.c, func() bool { return f.stop(t) }
}

func (f *Fake) stop(t *timer) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, u := range f.timers {
		if u == t {
			f.timers = append(f.timers[:i], f.timers[i+1:]...)
			f.notify()
			return true
		}
	}
	return false
}

// notify wakes those waiting in WaitTimers; f.mu must be held.
func (f *Fake) notify() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// Advance moves the fake time on by d and fires every timer due by then,
// earliest first.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	sort.SliceStable(f.timers, func(i, j int) bool { return f.timers[i].at.Before(f.timers[j].at) })
	n := 0
	for n < len(f.timers) && !f.timers[n].at.After(f.now) {
		f.timers[n].c <- f.now
		n++
	}
	if n > 0 {
		f.timers = append(f.timers[:0], f.timers[n:]...)
		f.notify()
	}
}

// AdvanceToNext moves the fake time to the earliest running timer and fires
// it, with any other due then. It returns how far the time moved, 0 when no
// timer runs.
func (f *Fake) AdvanceToNext() time.Duration {
	f.mu.Lock()
	if len(f.timers) == 0 {
		f.mu.Unlock()
		return 0
	}
	next := f.timers[0].at
	for _, t := range f.timers[1:] {
		if t.at.Before(next) {
			next = t.at
		}
	}
	d := next.Sub(f.now)
	f.mu.Unlock()
	f.Advance(d)
	return d
}

// Timers returns the number of timers running.
func (f *Fake) Timers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.timers)
}

// WaitTimers waits until at least n timers run, which tells a test that
// that many goroutines are waiting on the clock. It reports false if ctx
// ended first.
func (f *Fake) WaitTimers(ctx context.Context, n int) bool {
	for {
		f.mu.Lock()
		ok, changed := len(f.timers) >= n, f.changed
		f.mu.Unlock()
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
