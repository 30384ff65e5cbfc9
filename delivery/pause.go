package delivery

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/rs/zerolog"

	"github.com/messenger-bridge/messenger-bridge/graph"
)

// A failure that speaks for Graph as a whole (graph.Scope other than
// ScopeCall) is paid once, not once per person, as a circuit breaker does:
// it pauses every queue. While paused, one message at a time, the oldest
// waiting across all people, probes Graph. When a probe gets an answer that
// is not such a failure, every queue resumes at once, each in its own
// order. The waits between probes are in pause.probeWait.

// pause is the state of every queue while Graph fails for everyone. Its
// fields are guarded by Dispatcher.mu.
type pause struct {
	began   time.Time   // when the pause began
	scope   graph.Scope // of the latest failure
	since   time.Time   // when failures of this scope began
	err     error       // the latest failure
	key     string      // what of err the log compares, see errKey
	probes  int         // probes that failed
	next    time.Time   // no probe starts before
	probing bool        // a probe is under way
	// waiting holds the job each worker waits to attempt, by recipient.
	waiting map[string]*Job
	// changed is closed, and replaced, whenever the pause ends or any field
	// above that a waiter depends on changes.
	changed chan struct{}
}

// broadcast wakes every waiter; d.mu must be held.
func (p *pause) broadcast() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// pausedBy returns the failure every queue is paused for, nil if none.
func (d *Dispatcher) pausedBy() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.pause == nil {
		return nil
	}
	return d.pause.err
}

// await returns at once unless Graph is paused. While it is, it waits
// until the pause ends, until j is chosen to probe (probe is true), or
// until deadline; pauseErr is then the failure the pause is for. It
// reports false if ctx ended first.
func (d *Dispatcher) await(ctx context.Context, j *Job, deadline time.Time) (probe bool, pauseErr error, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var in *pause // the pause j waits in
	defer func() {
		if in != nil {
			delete(in.waiting, j.Recipient)
		}
		if p := d.pause; p != nil && !probe {
			p.broadcast() // another may be the oldest now
		}
	}()
	for {
		p := d.pause
		if p == nil {
			return false, nil, true
		}
		now := d.opts.Clock.Now()
		if !now.Before(deadline) {
			return false, p.err, true
		}
		if in != nil && in != p {
			delete(in.waiting, j.Recipient)
		}
		in = p
		p.waiting[j.Recipient] = j
		if !p.probing && !now.Before(p.next) && p.oldestWaiting() == j {
			p.probing = true
			return true, p.err, true
		}
		wake := deadline
		if !p.probing && p.next.After(now) && p.next.Before(wake) {
			wake = p.next
		}
		changed := p.changed
		d.mu.Unlock()
		c, stop := d.opts.Clock.NewTimer(wake.Sub(now))
		select {
		case <-changed:
		case <-c:
		case <-ctx.Done():
		}
		stop()
		d.mu.Lock()
		if ctx.Err() != nil {
			return false, nil, false
		}
	}
}

// oldestWaiting returns the waiting job accepted first; Dispatcher.mu must
// be held.
func (p *pause) oldestWaiting() *Job {
	var oldest *Job
	for _, j := range p.waiting {
		if oldest == nil || j.arrived.Before(oldest.arrived) ||
			j.arrived.Equal(oldest.arrived) && j.Seq < oldest.Seq {
			oldest = j
		}
	}
	return oldest
}

// settle tells the pause what an attempt found: a failure of the given
// scope, or, when answered, that Graph works. An attempt that learnt
// neither, such as one set aside before calling Graph, gives up the probe
// it may have held; the next comes ProbeFloor later, as the side job of the
// one set aside may still call Graph.
func (d *Dispatcher) settle(probe bool, scope graph.Scope, err error, answered bool, log zerolog.Logger) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case scope != graph.ScopeCall:
		d.fail(scope, err, probe, log)
	case answered:
		d.resume(log)
	case probe && d.pause != nil:
		p := d.pause
		p.probing = false
		if floor := d.opts.Clock.Now().Add(d.opts.ProbeFloor); floor.After(p.next) {
			p.next = floor
		}
		p.broadcast()
	}
}

// fail pauses every queue for err, or keeps the pause going; d.mu must be
// held. It logs when the pause begins and when its error changes, at debug
// level otherwise.
func (d *Dispatcher) fail(scope graph.Scope, err error, probe bool, log zerolog.Logger) {
	now := d.opts.Clock.Now()
	p := d.pause
	fresh := p == nil
	if fresh {
		p = &pause{began: now, scope: scope, since: now, changed: make(chan struct{}), waiting: make(map[string]*Job)}
		d.pause = p
	}
	if p.scope != scope {
		p.scope, p.since = scope, now
	}
	if probe {
		p.probing = false
		p.probes++
	}
	if next := now.Add(d.probeWait(scope, now.Sub(p.since), err)); probe || next.After(p.next) {
		p.next = next
	}
	key := errKey(err)
	changed := key != p.key
	p.err, p.key = err, key
	p.broadcast()

	ev := log.Debug()
	msg := "Graph still fails for everyone"
	switch {
	case fresh:
		ev, msg = log.Warn(), "Graph fails for everyone; every queue waits, and one message at a time probes Graph"
	case changed:
		ev, msg = log.Warn(), "Graph still fails for everyone, differently"
	}
	ev.Err(err).Str("scope", scope.String()).Int("probes", p.probes).
		Str("next_probe_in", p.next.Sub(now).Round(time.Millisecond).String()).Msg(msg)
}

// resume ends the pause, if any; d.mu must be held.
func (d *Dispatcher) resume(log zerolog.Logger) {
	p := d.pause
	if p == nil {
		return
	}
	d.pause = nil
	close(p.changed)
	log.Info().Str("paused_for", d.opts.Clock.Now().Sub(p.began).Round(time.Millisecond).String()).
		Int("probes", p.probes).Msg("Graph answers again; every queue resumes")
}

// probeWait returns how long after a failure of scope, with failures of
// that scope going on for so long already, the next probe starts:
//   - when Graph said (Retry-After, estimated_time_to_regain_access) or the
//     page is restricted, that long, but ProbeFloor at least;
//   - otherwise a random wait ("full jitter" above ProbeFloor) up to half of
//     how long the failures have lasted, so that the end of an outage is
//     found within a fraction of its length, yet no sooner than 2·ProbeFloor
//     and no later than ServerProbeMax, or BudgetProbeMax for a spent budget.
func (d *Dispatcher) probeWait(scope graph.Scope, lasted time.Duration, err error) time.Duration {
	floor := d.opts.ProbeFloor
	if hint := retryAfter(err, d.opts.RestrictedHold); hint > 0 {
		return max(hint, floor)
	}
	limit := d.opts.ServerProbeMax
	if scope == graph.ScopeBudget {
		limit = d.opts.BudgetProbeMax
	}
	ceiling := max(min(max(lasted/2, 2*floor), limit), floor)
	return floor + rand.N(ceiling-floor+1)
}

// sharedScope says whom err speaks for. A failure to fetch an attachment
// is never Graph's.
func sharedScope(err error) graph.Scope {
	if _, ok := errors.AsType[*fetchError](err); ok {
		return graph.ScopeCall
	}
	return graph.ScopeOf(err)
}

// answered reports whether err is an answer of Graph's, which tells that
// Graph works, as opposed to a failure before any call.
func answered(err error) bool {
	if we, ok := errors.AsType[*WindowError](err); ok {
		return we.Graph != nil
	}
	_, ok := errors.AsType[*graph.Error](err)
	return ok
}

// errKey is what the log compares to tell a new error from the same one
// again: Graph's status, code and subcode, which stay when the trace id
// changes, or the message of an error without them.
func errKey(err error) string {
	if ge, ok := errors.AsType[*graph.Error](err); ok {
		return fmt.Sprintf("graph %d/%d/%d", ge.Status, ge.Code, ge.Subcode)
	}
	return err.Error()
}
