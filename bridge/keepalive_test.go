package bridge_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/messenger-bridge/messenger-bridge/clocktest"
	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
	"github.com/messenger-bridge/messenger-bridge/keepalive"
	"github.com/messenger-bridge/messenger-bridge/mqtttest"
	"github.com/messenger-bridge/messenger-bridge/receive"
)

func TestKeepaliveAsksOnceBeforeTheWindowCloses(t *testing.T) {
	h := newHarness(t, nil)
	clock := clocktest.New(time.Now().Truncate(time.Second))
	k := keepalive.New(keepalive.Config{
		Before: 2 * time.Hour, Text: "Still there?", People: []string{"alice", "bob"},
		Reach: h.reach, Asker: h.bridge, Memory: h.received, Clock: clock, Log: zerolog.Nop(),
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { k.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	clock.Settled(t, mqtttest.Wait)

	// Alice wrote 21 hours ago: her window closes in 3 hours, so she is
	// asked in 1 hour.
	window := h.client.Subscribe("messenger/person/alice")
	wrote := clock.Now().Add(-21 * time.Hour)
	h.takeIn(receive.Event{MID: "m_old", PSID: alicePSID, Type: receive.TypeMessage, Text: "ok", Timestamp: wrote})
	mqtttest.Until(t, window, func(m mqtttest.Message) bool {
		var p person
		return json.Unmarshal(m.Payload, &p) == nil && p.LastReceived != nil
	})
	clock.Settled(t, mqtttest.Wait) // woken by the window it learned

	plain := func(text string) graphtest.Request {
		t.Helper()
		h.client.Publish("messenger/notify/alice", text)
		return h.request()
	}
	if fired := clock.Advance(59 * time.Minute); fired != 0 {
		t.Fatalf("59 minutes on, %d timers fired: the question is due in an hour", fired)
	}
	if req := plain("one"); req.Text != "one" {
		t.Fatalf("59 minutes on, Graph got %q before the plain message: asked too early", req.Text)
	}
	if fired := clock.Advance(time.Minute); fired == 0 {
		t.Fatal("an hour on, no timer fired: the question is due")
	}
	clock.Settled(t, mqtttest.Wait)
	req := h.request()
	if req.Text != "Still there?" || len(req.QuickReplies) != 1 || req.Payloads[0] != keepalive.Payload || req.Notification != "SILENT_PUSH" {
		t.Fatalf("at the moment, Graph got %+v, want the silent keep-alive question with one quick reply", req)
	}
	clock.Advance(30 * time.Minute)
	if req := plain("two"); req.Text != "two" {
		t.Fatalf("half an hour later Graph got %q: asked twice in one window", req.Text)
	}
	// Past the window's end nobody is asked; bob's window was never known.
	if fired := clock.Advance(3 * time.Hour); fired > 0 {
		clock.Settled(t, mqtttest.Wait)
	}
	if req := plain("three"); req.Text != "three" {
		t.Fatalf("after the window closed Graph got %q", req.Text)
	}
}
