package bridge_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
	"github.com/messenger-bridge/messenger-bridge/keepalive"
	"github.com/messenger-bridge/messenger-bridge/mqtttest"
	"github.com/messenger-bridge/messenger-bridge/receive"
)

// fakeClock is a clock that moves only when the test says, and tells the
// test each time the code under test starts waiting on it.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []fakeTimer
	waiting chan struct{} // a value per After call
}

type fakeTimer struct {
	at time.Time
	c  chan time.Time
}

func newFakeClock(now time.Time) *fakeClock {
	return &fakeClock{now: now, waiting: make(chan struct{}, 100)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := fakeTimer{at: c.now.Add(d), c: make(chan time.Time, 1)}
	if d <= 0 {
		t.c <- c.now
	} else {
		c.timers = append(c.timers, t)
	}
	c.waiting <- struct{}{}
	return t.c
}

// advance moves the clock on by d, firing the timers due, and returns how
// many it fired.
func (c *fakeClock) advance(d time.Duration) (fired int) {
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

// settled waits until the code under test waits on the clock again.
func (c *fakeClock) settled(t *testing.T) {
	t.Helper()
	select {
	case <-c.waiting:
	case <-time.After(mqtttest.Wait):
		t.Fatal("the keep-alive did not go back to waiting")
	}
}

func TestKeepaliveAsksOnceBeforeTheWindowCloses(t *testing.T) {
	h := newHarness(t, nil)
	clock := newFakeClock(time.Now().Truncate(time.Second))
	k := keepalive.New(keepalive.Config{
		Before: 2 * time.Hour, Text: "Still there?", People: []string{"alice", "bob"},
		Reach: h.reach, Asker: h.bridge, Memory: h.received, Clock: clock, Log: zerolog.Nop(),
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { k.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	clock.settled(t)

	// Alice wrote 21 hours ago: her window closes in 3 hours, so she is
	// asked in 1 hour.
	window := h.client.Subscribe("messenger/person/alice")
	wrote := clock.Now().Add(-21 * time.Hour)
	h.takeIn(receive.Event{MID: "m_old", PSID: alicePSID, Type: receive.TypeMessage, Text: "ok", Timestamp: wrote})
	mqtttest.Until(t, window, func(m mqtttest.Message) bool {
		var p person
		return json.Unmarshal(m.Payload, &p) == nil && p.LastReceived != nil
	})
	clock.settled(t) // woken by the window it learned

	plain := func(text string) graphtest.Request {
		t.Helper()
		h.client.Publish("messenger/notify/alice", text)
		return h.request()
	}
	if fired := clock.advance(59 * time.Minute); fired != 0 {
		t.Fatalf("59 minutes on, %d timers fired: the question is due in an hour", fired)
	}
	if req := plain("one"); req.Text != "one" {
		t.Fatalf("59 minutes on, Graph got %q before the plain message: asked too early", req.Text)
	}
	if fired := clock.advance(time.Minute); fired == 0 {
		t.Fatal("an hour on, no timer fired: the question is due")
	}
	clock.settled(t)
	req := h.request()
	if req.Text != "Still there?" || len(req.QuickReplies) != 1 || req.Payloads[0] != keepalive.Payload || req.Notification != "SILENT_PUSH" {
		t.Fatalf("at the moment, Graph got %+v, want the silent keep-alive question with one quick reply", req)
	}
	clock.advance(30 * time.Minute)
	if req := plain("two"); req.Text != "two" {
		t.Fatalf("half an hour later Graph got %q: asked twice in one window", req.Text)
	}
	// Past the window's end nobody is asked; bob's window was never known.
	if fired := clock.advance(3 * time.Hour); fired > 0 {
		clock.settled(t)
	}
	if req := plain("three"); req.Text != "three" {
		t.Fatalf("after the window closed Graph got %q", req.Text)
	}
}
