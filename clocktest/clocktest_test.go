package clocktest_test

import (
	"context"
	"testing"
	"time"

	"github.com/messenger-bridge/messenger-bridge/clocktest"
)

func fired(c <-chan time.Time) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func TestClock(t *testing.T) {
	start := time.Now()
	c := clocktest.New(start)
	late := c.After(3 * time.Second)
	early, _ := c.NewTimer(time.Second)
	stopped, stop := c.NewTimer(2 * time.Second)
	if !fired(c.After(0)) {
		t.Error("a timer of 0 did not fire at once")
	}
	if n := c.Timers(); n != 3 {
		t.Fatalf("%d timers, want 3", n)
	}
	if !stop() || stop() {
		t.Error("stop did not report the timer running once")
	}
	if d := c.AdvanceToNext(); d != time.Second || !fired(early) || fired(late) {
		t.Errorf("AdvanceToNext moved %v; want 1s, firing the earliest only", d)
	}
	if n := c.Advance(5 * time.Second); n != 1 || !fired(late) || fired(stopped) || c.Timers() != 0 {
		t.Errorf("Advance fired %d; want the one due, not the stopped one", n)
	}
	if got := c.Now().Sub(start); got != 6*time.Second {
		t.Errorf("Now is %v after the start, want 6s", got)
	}
	if d := c.AdvanceToNext(); d != 0 {
		t.Errorf("AdvanceToNext without timers moved %v", d)
	}
}

func TestWaitTimers(t *testing.T) {
	c := clocktest.New(time.Now())
	go c.After(time.Minute)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if !c.WaitTimers(ctx, 1) {
		t.Fatal("WaitTimers did not see the timer")
	}
	c.Settled(t, 10*time.Second)
	short, cancel2 := context.WithCancel(t.Context())
	cancel2()
	if c.WaitTimers(short, 2) {
		t.Error("WaitTimers reported 2 timers with one running")
	}
}
