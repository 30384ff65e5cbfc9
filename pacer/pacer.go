// Package pacer spaces out the bridge's Graph calls: every call, whatever
// it is for (sends, uploads, template sends, the receive path), waits its
// turn at one Pacer. It keeps to SEND_RATE, and slows down further as the
// usage Graph reports in its answers nears the app's or the page's limit,
// so that the bridge stops before Graph has to stop it.
package pacer

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/messenger-bridge/messenger-bridge/clock"
	"github.com/messenger-bridge/messenger-bridge/graph"
)

// Thresholds of the usage Graph reports, in percent of a limit ("Rate
// Limiting", https://developers.facebook.com/docs/graph-api/overview/rate-limiting:
// "when any of these metrics exceed 100, the app will be rate limited").
const (
	// SlowFrom is the usage above which calls are spaced out further, in
	// proportion to the headroom left: at 87.5 % they are twice as far
	// apart as at 75 %, at 95 % five times.
	SlowFrom = 75
	// HoldFrom is the usage from which calls wait for Graph's
	// estimated_time_to_regain_access, when it gives one.
	HoldFrom = 95
)

// stretchBase is the interval that usage above SlowFrom stretches when
// SEND_RATE lifts the limit: the default SEND_RATE of 20 calls a second.
const stretchBase = 50 * time.Millisecond

// usageMemory is how long a usage reading counts. Graph reports usage with
// its answers; a reading older than this says little of the present.
const usageMemory = time.Minute

// Clock is what a Pacer reads time from: clock.System, or clocktest's in
// tests.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) (<-chan time.Time, func() bool)
}

// Pacer hands out turns to make a Graph call. It is safe for concurrent
// use; turns are given in the order Wait was called.
type Pacer struct {
	base  time.Duration // 1/SEND_RATE; 0: no limit
	clock Clock
	log   zerolog.Logger

	mu      sync.Mutex
	next    time.Time // the earliest the next turn may start
	usage   graph.Usage
	seen    time.Time // when usage was read
	hold    time.Time // no turn before, for estimated_time_to_regain_access
	slowing bool      // whether the last reading slowed calls, for the log
}

// Option configures a Pacer.
type Option func(*Pacer)

// WithClock makes the Pacer read time from c instead of the system clock.
func WithClock(c Clock) Option { return func(p *Pacer) { p.clock = c } }

// WithLog makes the Pacer log when Graph's usage starts and stops slowing
// calls down.
func WithLog(log zerolog.Logger) Option { return func(p *Pacer) { p.log = log } }

// New returns a Pacer that starts at most perSecond turns a second; 0 lifts
// that limit, but not the slowing down for usage.
func New(perSecond float64, opts ...Option) *Pacer {
	p := &Pacer{clock: clock.System{}, log: zerolog.Nop()}
	if perSecond > 0 {
		p.base = time.Duration(float64(time.Second) / perSecond)
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Wait waits for a turn. It returns ctx's error if ctx ends first; the turn
// is then given up for the next caller.
func (p *Pacer) Wait(ctx context.Context) error {
	p.mu.Lock()
	now := p.clock.Now()
	at := now
	if p.next.After(at) {
		at = p.next
	}
	if p.hold.After(at) {
		at = p.hold
	}
	interval := p.interval(now)
	p.next = at.Add(interval)
	p.mu.Unlock()

	if !at.After(now) {
		return ctx.Err()
	}
	c, stop := p.clock.NewTimer(at.Sub(now))
	defer stop()
	select {
	case <-c:
		return nil
	case <-ctx.Done():
		p.mu.Lock()
		if p.next.Equal(at.Add(interval)) { // nobody queued behind: give the turn back
			p.next = at
		}
		p.mu.Unlock()
		return ctx.Err()
	}
}

// interval is the time between turns now; p.mu must be held.
func (p *Pacer) interval(now time.Time) time.Duration {
	pct := p.usage.Percent
	if now.Sub(p.seen) > usageMemory {
		pct = 0
	}
	if pct <= SlowFrom {
		return p.base
	}
	base := p.base
	if base == 0 {
		base = stretchBase
	}
	// The headroom counts at least 1 point: 25 times the interval at most.
	headroom := max(100-pct, 1)
	return base * time.Duration(100-SlowFrom) / time.Duration(headroom)
}

// Observe takes the usage Graph reported with an answer; it is meant for
// graph.Config.OnUsage. Usage above SlowFrom spaces later turns out; from
// HoldFrom, an estimated_time_to_regain_access holds every turn until it
// has passed.
func (p *Pacer) Observe(u graph.Usage) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.clock.Now()
	p.usage, p.seen = u, now
	if u.Percent >= HoldFrom && u.RegainIn > 0 {
		if until := now.Add(u.RegainIn); until.After(p.hold) {
			p.hold = until
			p.log.Warn().Int("usage_percent", u.Percent).Str("regain_in", u.RegainIn.String()).
				Msg("Graph reports the call budget all but spent; every Graph call waits until it is regained")
		}
	}
	switch slow := u.Percent > SlowFrom; {
	case slow && !p.slowing:
		p.log.Warn().Int("usage_percent", u.Percent).Str("interval", p.interval(now).String()).
			Msg(fmt.Sprintf("Graph reports the call budget over %d%% used; spacing Graph calls out", SlowFrom))
	case !slow && p.slowing:
		p.log.Info().Int("usage_percent", u.Percent).Msg("Graph's call budget has room again; Graph calls at the usual pace")
	}
	p.slowing = u.Percent > SlowFrom
}

// Interval returns the time between turns as the last usage reading sets
// it, for tests and diagnostics.
func (p *Pacer) Interval() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.interval(p.clock.Now())
}
