package clock_test

import (
	"context"
	"testing"
	"time"

	"github.com/messenger-bridge/messenger-bridge/clock"
)

func fired(c <-chan time.Time) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func TestFake(t *testing.T) {
	start := time.Now()
	f := clock.NewFake(start)
	late, _ := f.NewTimer(3 * time.Second)
	early, _ := f.NewTimer(time.Second)
	stopped, stop := f.NewTimer(2 * time.Second)
	if now, _ := f.NewTimer(0); !fired(now) {
		t.Error("a timer of 0 did not fire at once")
	}
	if n := f.Timers(); n != 3 {
		t.Fatalf("%d timers, want 3", n)
	}
	if !stop() || stop() {
		t.Error("stop did not report the timer running once")
	}
	if d := f.AdvanceToNext(); d != time.Second || !fired(early) || fired(late) {
		t.Errorf("AdvanceToNext moved %v; want 1s, firing the earliest only", d)
	}
	f.Advance(5 * time.Second)
	if !fired(late) || fired(stopped) || f.Timers() != 0 {
		t.Error("Advance did not fire what was due, or fired a stopped timer")
	}
	if got := f.Now().Sub(start); got != 6*time.Second {
		t.Errorf("Now is %v after the start, want 6s", got)
	}
	if d := f.AdvanceToNext(); d != 0 {
		t.Errorf("AdvanceToNext without timers moved %v", d)
	}
}

func TestWaitTimers(t *testing.T) {
	f := clock.NewFake(time.Now())
	go f.NewTimer(time.Minute)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if !f.WaitTimers(ctx, 1) {
		t.Fatal("WaitTimers did not see the timer")
	}
	short, cancel2 := context.WithCancel(t.Context())
	cancel2()
	if f.WaitTimers(short, 2) {
		t.Error("WaitTimers reported 2 timers with one running")
	}
}
