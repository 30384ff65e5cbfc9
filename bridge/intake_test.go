package bridge_test

import (
	"strings"
	"testing"

	"github.com/messenger-bridge/messenger-bridge/delivery"
	"github.com/messenger-bridge/messenger-bridge/mqtttest"
)

// A bad payload to targets that overlap (family holds alice) is reported
// once per person.
func TestBadPayloadToOverlappingTargetsReportsOncePerPerson(t *testing.T) {
	h := newHarness(t, nil)
	h.client.Publish("messenger/notify", `{"target":["alice","family"],"message":5,"id":"bad-1"}`)
	// Refusals go out in arrival order, so the marker's is next after bad-1's.
	h.client.Publish("messenger/notify", `{"target":["alice","bob"],"message":6,"id":"marker"}`)
	for _, name := range []string{"alice", "bob"} {
		for _, id := range []string{"bad-1", "marker"} {
			if r := h.result(name); r.ID != id || r.Status != delivery.Failed {
				t.Fatalf("%s: result %+v, want %s failed (bad-1 reported once)", name, r, id)
			}
		}
	}
}

// A message the broker sends again, because its acknowledgement was lost,
// reports the unknown target it names once, as it sends the message once.
func TestRedeliveryReportsAnUnknownTargetOnce(t *testing.T) {
	h, proxy := prepareProxied(t, nil)
	h.start()

	proxy.DropAcks()
	h.client.Publish("messenger/notify", `{"message":"hi","id":"dup-1","target":["alice","zed"]}`)
	if r := h.result("alice"); r.ID != "dup-1" || r.Status != delivery.Sent {
		t.Fatalf("alice: %+v, want dup-1 sent", r)
	}
	if r := h.result("zed"); r.ID != "dup-1" || r.Status != delivery.Failed || !strings.Contains(r.Error.Message, `unknown recipient "zed"`) {
		t.Fatalf("zed: %+v, want dup-1 failed as unknown", r)
	}
	proxy.Cut() // the acknowledgement is lost: the broker sends dup-1 again
	h.awaitRedelivery()
	// The bridge refuses in arrival order, so once the marker is refused the
	// redelivery was handled. (Counted in the log: the result the bridge
	// published may itself reach a subscriber twice, as QoS 1 allows, when
	// the cut came before the broker's acknowledgement of it.)
	h.client.Publish("messenger/notify/zed", `{"message":"marker","id":"marker"}`)
	refused := func(id string) func(string) bool {
		return func(l string) bool {
			return strings.Contains(l, `"message":"message refused"`) && strings.Contains(l, `"id":"`+id+`"`)
		}
	}
	if _, ok := h.logs.Wait(mqtttest.Wait, refused("marker")); !ok {
		t.Fatal("the marker was not refused")
	}
	if n := strings.Count(h.logs.String(), `"recipient":"zed","id":"dup-1"`); n != 1 {
		t.Errorf("the unknown target of dup-1 was refused %d times, want once", n)
	}
	if n := len(h.graph.Requests()); n != 1 {
		t.Errorf("Graph got %d messages, want 1", n)
	}
}

// Clearing a retained command as the README says is not a command: it gets
// no result, and the next start reports nothing.
func TestClearingARetainedCommandIsSilent(t *testing.T) {
	broker := mqtttest.Start(t)
	h := prepareHarness(t, broker, nil)
	h.client.PublishRetained("messenger/notify/alice", "left retained by mistake")
	h.start()
	if r := h.result("alice"); r.Status != delivery.Failed || !strings.HasPrefix(r.Error.Message, "retained message ignored") {
		t.Fatalf("retained command: %+v, want refused", r)
	}

	h.client.PublishRetained("messenger/notify/alice", "") // mosquitto_pub -r -n
	h.client.Publish("messenger/notify/alice", "marker 1")
	if r := h.result("alice"); r.Status != delivery.Sent {
		t.Fatalf("after the clear: %+v, want the marker sent and nothing for the clear", r)
	}
	if _, ok := h.logs.Wait(mqtttest.Wait, func(l string) bool { return strings.Contains(l, "cleared a retained command") }); !ok {
		t.Error("no debug line for the clear")
	}

	restartFindsNothingRetained(t, h, "the 2 markers")
}

// A command retained while the bridge is connected reaches it without the
// retain flag (MQTT 3.1.1 section 3.3.1.3), so it is sent like any message,
// and the clear that follows is an empty message, refused with a result, as
// the README says; once cleared, the next start finds nothing.
func TestRetainedWhileConnectedIsSent(t *testing.T) {
	h := newHarness(t, nil)
	h.client.PublishRetained("messenger/notify/alice", "retained while connected")
	if r := h.result("alice"); r.Status != delivery.Sent {
		t.Fatalf("retained while connected: %+v, want sent, as MQTT cannot tell it from a command", r)
	}
	h.client.PublishRetained("messenger/notify/alice", "") // mosquitto_pub -r -n
	if r := h.result("alice"); r.Status != delivery.Failed || r.Error == nil || !strings.Contains(r.Error.Message, "empty payload") {
		t.Fatalf("the clear: %+v, want failed with empty payload", r)
	}

	restartFindsNothingRetained(t, h, "the retained one and the marker")
}

// restartFindsNothingRetained restarts h's bridge and sends a marker: the
// first result must be the marker's, sent, with nothing retained reported
// before it, and Graph must have had two messages in all, which two names.
func restartFindsNothingRetained(t *testing.T, h *harness, two string) {
	t.Helper()
	h.stop()
	h.start()
	h.client.Publish("messenger/notify/alice", "marker after the restart")
	if r := h.result("alice"); r.Status != delivery.Sent {
		t.Fatalf("after a restart: %+v, want the marker sent and nothing retained", r)
	}
	if n := len(h.graph.Requests()); n != 2 {
		t.Errorf("Graph got %d messages, want %s", n, two)
	}
}

// Other empty messages are still refused with a result.
func TestEmptyMessageIsRefused(t *testing.T) {
	h := newHarness(t, nil)
	h.client.Publish("messenger/notify/alice", "")
	if r := h.result("alice"); r.Status != delivery.Failed || r.Error == nil || !strings.Contains(r.Error.Message, "empty payload") {
		t.Fatalf("empty message: %+v, want failed with empty payload", r)
	}
}

// A message without an id that the broker sends again, because its
// acknowledgement was lost, is known by its packet identifier and payload:
// it is sent once, as Home Assistant's notify entity, which sends no id,
// needs.
func TestRedeliveryWithoutID(t *testing.T) {
	h, proxy := prepareProxied(t, nil)
	h.start()

	proxy.DropAcks()
	h.client.Publish("messenger/notify/alice", "Smoke in the kitchen")
	h.request()
	proxy.Cut() // the acknowledgement is lost: the broker sends it again
	h.awaitRedelivery()
	// The same text again is a new message: sent too. (Results are not
	// counted: the one published as the cut came may reach a subscriber
	// twice, as QoS 1 allows.)
	h.client.Publish("messenger/notify/alice", "Smoke in the kitchen")
	h.request()
	// Once bob's message is sent, everything before it was handled.
	h.client.Publish("messenger/notify/bob", "marker")
	if req := h.request(); req.Text != "marker" {
		t.Errorf("Graph got %q after the second message, want the marker", req.Text)
	}
	if n := len(h.graph.Requests()); n != 3 {
		t.Errorf("Graph got %d messages, want 3: the first once, the second, the marker", n)
	}
}

// prepareProxied is prepareHarness on a fresh broker, with the bridge
// connected through a proxy that can lose its acknowledgements and cut or
// refuse its connection.
func prepareProxied(t *testing.T, env map[string]string) (*harness, *mqtttest.Proxy) {
	t.Helper()
	broker := mqtttest.Start(t)
	proxy := broker.Proxy(t)
	h := prepareHarness(t, broker, env)
	h.env["MQTT_URL"] = proxy.URL
	return h, proxy
}

// awaitRedelivery waits until the bridge recognised a message the broker
// sent again as one it had stored.
func (h *harness) awaitRedelivery() {
	h.t.Helper()
	if _, ok := h.logs.Wait(mqtttest.Wait, func(l string) bool { return strings.Contains(l, "broker redelivery of a stored message ignored") }); !ok {
		h.t.Fatal("the broker did not send the message again")
	}
}
