// Package clock is the system's clock, for code that is handed a clock so
// that its tests can hand it clocktest's instead. Consumers declare the
// interface they need, made of Now and either of the waits below.
package clock

import "time"

// System is the machine's clock. Its times carry the monotonic reading, so
// that durations between them ignore steps of the wall clock.
type System struct{}

// Now returns time.Now().
func (System) Now() time.Time { return time.Now() }

// After returns time.After(d).
func (System) After(d time.Duration) <-chan time.Time { return time.After(d) }

// NewTimer returns a channel that receives the time once d has passed, and a
// function that stops the timer, reporting whether it was still running.
func (System) NewTimer(d time.Duration) (<-chan time.Time, func() bool) {
	t := time.NewTimer(d)
	return t.C, t.Stop
}
