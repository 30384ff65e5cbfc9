package delivery

import (
	"time"

	"github.com/messenger-bridge/messenger-bridge/clock"
)

// Clock is what delivery reads time from and waits on: clock.System, or
// clocktest's in tests.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) (c <-chan time.Time, stop func() bool)
}

// Options tune delivery. Zero values take the defaults below.
type Options struct {
	// TTL is how long an entry may wait before it is reported expired.
	TTL time.Duration
	// Backoff is the first retry's ceiling; it doubles per attempt up to MaxBackoff.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// Drain is how long attempts in flight may run on after shutdown begins.
	Drain time.Duration
	// RestrictedHold is how long every recipient waits after Meta answered
	// that the page is temporarily restricted from sending.
	RestrictedHold time.Duration
	// While Graph fails for everyone, one message at a time probes it:
	// ProbeFloor apart at least, and at most ServerProbeMax apart while
	// Graph itself fails, BudgetProbeMax while the call budget is spent.
	ProbeFloor, ServerProbeMax, BudgetProbeMax time.Duration
	// Clock is what delivery reads time from; nil is the system's.
	Clock Clock
	// Observer, when set, is told of every attempt.
	Observer Observer
}

// Defaults for Options.
const (
	DefaultTTL        = time.Hour
	DefaultBackoff    = time.Second
	DefaultMaxBackoff = 5 * time.Minute
	DefaultDrain      = 10 * time.Second
	// DefaultRestrictedHold: a restriction (code 10, subcode 1893063) lasts
	// hours or days, so one message every 5 minutes finds out when it ends.
	DefaultRestrictedHold = 5 * time.Minute
	// DefaultProbeFloor keeps an outage to one Graph call every 2 seconds,
	// however many people wait.
	DefaultProbeFloor = 2 * time.Second
	// DefaultServerProbeMax: Graph's codes 1 and 2 say "wait and retry"
	// ("Handling Errors", https://developers.facebook.com/docs/graph-api/guides/error-handling);
	// a probe every 10 s at most finds the end of an outage within 10 s.
	DefaultServerProbeMax = 10 * time.Second
	// DefaultBudgetProbeMax: throttling lasts minutes to an hour ("Rate
	// Limiting", https://developers.facebook.com/docs/graph-api/overview/rate-limiting),
	// and every call made meanwhile counts against the budget, so a long
	// one is probed once a minute.
	DefaultBudgetProbeMax = time.Minute
)

// withDefaults returns o with every duration that is not positive, and a
// nil Clock, set to its default.
func (o Options) withDefaults() Options {
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{
		{&o.TTL, DefaultTTL}, {&o.Backoff, DefaultBackoff}, {&o.MaxBackoff, DefaultMaxBackoff},
		{&o.Drain, DefaultDrain}, {&o.RestrictedHold, DefaultRestrictedHold}, {&o.ProbeFloor, DefaultProbeFloor},
		{&o.ServerProbeMax, DefaultServerProbeMax}, {&o.BudgetProbeMax, DefaultBudgetProbeMax},
	} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	if o.Clock == nil {
		o.Clock = clock.System{}
	}
	return o
}
