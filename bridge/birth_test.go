package bridge_test

import (
	"testing"
	"time"

	"github.com/messenger-bridge/messenger-bridge/delivery"
	"github.com/messenger-bridge/messenger-bridge/mqtttest"
)

// TestBirthBurstRepublishesOnce sends a burst of Home Assistant birth
// messages: discovery is republished once for all of them, and a birth
// after that republish gets one of its own.
func TestBirthBurstRepublishesOnce(t *testing.T) {
	const births = 500
	h := newHarness(t, nil)
	configs := h.client.Subscribe(deviceTopic)
	// The config this start announced: retained if it came before the
	// subscription, as it was published otherwise; once either way.
	mqtttest.Next(t, configs)
	h.stop()
	// Each republish the bridge schedules hands over the channel that lets
	// it go, so the test decides when it fires.
	scheduled := make(chan chan time.Time, births+1)
	h.discoveryAfter = func(time.Duration) <-chan time.Time {
		due := make(chan time.Time, 1)
		scheduled <- due
		return due
	}
	h.start()
	mqtttest.Next(t, configs) // announced by this start once connected

	for range births {
		h.client.Publish("homeassistant/status", "online")
	}
	h.settle()
	if n := len(scheduled); n != 1 {
		t.Fatalf("%d births scheduled %d republishes, want 1", births, n)
	}
	if n := len(configs); n != 0 {
		t.Fatalf("discovery published %d times before its delay", n)
	}
	(<-scheduled) <- time.Now()
	if m := mqtttest.Next(t, configs); len(m.Payload) == 0 {
		t.Fatal("the republished config is empty")
	}
	h.settle()
	if n := len(configs); n != 0 {
		t.Errorf("%d births republished discovery %d times, want once", births, 1+n)
	}

	// The burst is answered: a later birth is a new restart of Home
	// Assistant, and is answered too.
	h.client.Publish("homeassistant/status", "online")
	h.settle()
	if n := len(scheduled); n != 1 {
		t.Fatalf("a birth after the republish scheduled %d republishes, want 1", n)
	}
	(<-scheduled) <- time.Now()
	mqtttest.Next(t, configs)
}

// settle sends alice a message and waits for its result. The bridge takes
// its messages, and publishes, in order: once the result is in, every
// message published before has been handled, and every publication that
// handling made synchronously has arrived.
func (h *harness) settle() {
	h.t.Helper()
	h.client.Publish("messenger/notify/alice", "settle")
	if r := h.result("alice"); r.Status != delivery.Sent {
		h.t.Fatalf("settling message: result %+v", r)
	}
}
