package pacer_test

import (
	"context"
	"testing"
	"time"

	"github.com/messenger-bridge/messenger-bridge/clocktest"
	"github.com/messenger-bridge/messenger-bridge/graph"
	"github.com/messenger-bridge/messenger-bridge/pacer"
)

const patience = 10 * time.Second

// waitAsync starts p.Wait and returns a channel that receives its error.
func waitAsync(ctx context.Context, p *pacer.Pacer) <-chan error {
	done := make(chan error, 1)
	go func() { done <- p.Wait(ctx) }()
	return done
}

// expectTurn fails t unless done delivers nil at once; it does not block
// long when the turn is owed.
func expectTurn(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Wait = %v", err)
		}
	case <-time.After(patience):
		t.Fatal("no turn")
	}
}

// expectWaiting fails t unless the Wait behind done waits on c.
func expectWaiting(t *testing.T, c *clocktest.Clock, done <-chan error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), patience)
	defer cancel()
	if !c.WaitTimers(ctx, 1) {
		t.Fatal("Wait does not wait")
	}
	select {
	case err := <-done:
		t.Fatalf("Wait returned %v before its turn", err)
	default:
	}
}

func TestRate(t *testing.T) {
	c := clocktest.New(time.Now())
	p := pacer.New(10, pacer.WithClock(c))
	expectTurn(t, waitAsync(t.Context(), p)) // the first turn is at once
	done := waitAsync(t.Context(), p)
	expectWaiting(t, c, done)
	if d := c.AdvanceToNext(); d != 100*time.Millisecond {
		t.Errorf("second turn %v after the first, want 100ms at 10 a second", d)
	}
	expectTurn(t, done)
}

func TestNoLimit(t *testing.T) {
	c := clocktest.New(time.Now())
	p := pacer.New(0, pacer.WithClock(c))
	for range 100 {
		expectTurn(t, waitAsync(t.Context(), p))
	}
	if n := c.Timers(); n != 0 {
		t.Errorf("%d timers without a limit", n)
	}
}

// TestUsageStretches checks that usage above 75 % spaces turns out in
// proportion to the headroom left, from the usual interval or, without a
// limit, from the default SEND_RATE's, and that an old reading stops
// counting.
func TestUsageStretches(t *testing.T) {
	tests := []struct {
		perSecond float64
		percent   int
		want      time.Duration
	}{
		{10, 50, 100 * time.Millisecond},
		{10, 75, 100 * time.Millisecond},
		{10, 87, 192307692 * time.Nanosecond}, // 25/13 times
		{10, 95, 500 * time.Millisecond},
		{10, 100, 2500 * time.Millisecond},
		{10, 180, 2500 * time.Millisecond},
		{0, 50, 0},
		{0, 90, 50 * time.Millisecond * 25 / 10},
	}
	for _, tt := range tests {
		c := clocktest.New(time.Now())
		p := pacer.New(tt.perSecond, pacer.WithClock(c))
		p.Observe(graph.Usage{Percent: tt.percent})
		if got := p.Interval(); got != tt.want {
			t.Errorf("%v a second at %d%%: interval %v, want %v", tt.perSecond, tt.percent, got, tt.want)
		}
		c.Advance(2 * time.Minute)
		usual := time.Duration(0)
		if tt.perSecond > 0 {
			usual = time.Duration(float64(time.Second) / tt.perSecond)
		}
		if got := p.Interval(); got != usual {
			t.Errorf("%v a second, %d%% two minutes ago: interval %v, want the usual %v", tt.perSecond, tt.percent, got, usual)
		}
	}
}

// TestRegainHolds checks that from 95 % Graph's estimated time to regain
// access holds every turn until it has passed.
func TestRegainHolds(t *testing.T) {
	c := clocktest.New(time.Now())
	p := pacer.New(0, pacer.WithClock(c))
	p.Observe(graph.Usage{Percent: 90, RegainIn: time.Minute}) // below HoldFrom: no hold
	expectTurn(t, waitAsync(t.Context(), p))
	c.Advance(time.Second)
	p.Observe(graph.Usage{Percent: 97, RegainIn: 19 * time.Minute})
	done := waitAsync(t.Context(), p)
	expectWaiting(t, c, done)
	if d := c.AdvanceToNext(); d != 19*time.Minute {
		t.Errorf("turn %v after the reading, want the 19 minutes Graph gave", d)
	}
	expectTurn(t, done)
}

func TestWaitEndsWithContext(t *testing.T) {
	c := clocktest.New(time.Now())
	p := pacer.New(1, pacer.WithClock(c))
	expectTurn(t, waitAsync(t.Context(), p))
	ctx, cancel := context.WithCancel(t.Context())
	done := waitAsync(ctx, p)
	expectWaiting(t, c, done)
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Wait = nil after its context ended")
		}
	case <-time.After(patience):
		t.Fatal("Wait did not return when its context ended")
	}
}
