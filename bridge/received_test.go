package bridge_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/messenger-bridge/messenger-bridge/delivery"
	"github.com/messenger-bridge/messenger-bridge/mqtttest"
	"github.com/messenger-bridge/messenger-bridge/receive"
)

// received reads the next publication on ch as SPEC §6's JSON.
func received(t *testing.T, ch <-chan mqtttest.Message) receive.Received {
	t.Helper()
	m := mqtttest.Next(t, ch)
	if m.Retained {
		t.Errorf("%s was published retained; Home Assistant's event entity ignores retained messages", m.Topic)
	}
	var r receive.Received
	if err := json.Unmarshal(m.Payload, &r); err != nil {
		t.Fatalf("%s is not JSON: %q", m.Topic, m.Payload)
	}
	return r
}

func (h *harness) takeIn(events ...receive.Event) {
	h.t.Helper()
	if _, err := h.received.Add(events...); err != nil {
		h.t.Fatal(err)
	}
}

func TestReplyAndTapReachTheBroker(t *testing.T) {
	h := newHarness(t, nil)
	alice := h.client.Subscribe("messenger/received/alice")
	window := h.client.Subscribe("messenger/person/alice")
	nextPerson(t, window, true)
	at := time.Now().Add(-time.Minute).Truncate(time.Second)
	h.takeIn(receive.Event{MID: "m_reply", PSID: alicePSID, Type: receive.TypeMessage, Text: "On my way", Timestamp: at})
	if r := received(t, alice); r.EventType != "message" || r.Text != "On my way" || r.MID != "m_reply" || !r.Timestamp.Equal(at) {
		t.Fatalf("reply = %+v", r)
	}
	// The reply opened alice's window for 24 hours.
	var p person
	mqtttest.Until(t, window, func(m mqtttest.Message) bool {
		return json.Unmarshal(m.Payload, &p) == nil && p.LastReceived != nil
	})
	if !p.LastReceived.Equal(at) || p.WindowUntil == nil || !p.WindowUntil.Equal(at.Add(24*time.Hour)) || !p.Reachable {
		t.Errorf("alice's window = %+v, want last received %v, open until a day later", p, at)
	}

	// A message with quick replies goes out; a tap read by polling holds
	// only the title, and comes back with the payload and the message's id.
	h.client.Publish("messenger/notify/alice", `{"message": "Someone at the door", "id": "doorbell-1",
		"actions": [{"action": "OPEN_DOOR", "title": "Open"}, {"action": "IGNORE", "title": "Ignore"}]}`)
	if r := h.result("alice"); r.Status != delivery.Sent {
		t.Fatalf("doorbell: %+v", r)
	}
	if req := h.request(); len(req.Payloads) != 2 || req.Payloads[0] != "OPEN_DOOR" {
		t.Fatalf("Graph got quick replies %v with payloads %v", req.QuickReplies, req.Payloads)
	}
	h.takeIn(receive.Event{MID: "m_tap", PSID: alicePSID, Type: receive.TypeMessage, Text: "Open", Timestamp: time.Now()})
	r := received(t, alice)
	if r.EventType != "quick_reply" || r.Payload != "OPEN_DOOR" || r.Action != "OPEN_DOOR" || r.InReplyTo != "doorbell-1" || r.Text != "Open" {
		t.Fatalf("tap = %+v, want quick_reply OPEN_DOOR in reply to doorbell-1", r)
	}
	// A webhook's tap carries the payload.
	h.takeIn(receive.Event{MID: "m_tap2", PSID: alicePSID, Type: receive.TypeQuickReply, Text: "Ignore", Payload: "IGNORE", Timestamp: time.Now()})
	if r := received(t, alice); r.EventType != "quick_reply" || r.Action != "IGNORE" || r.InReplyTo != "doorbell-1" {
		t.Fatalf("webhook tap = %+v", r)
	}
	// A reaction names the message reacted to.
	h.takeIn(receive.Event{MID: "m_doorbell:react:👍", PSID: alicePSID, Type: receive.TypeReaction, ReactedMID: "m_doorbell",
		Reaction: "like", Emoji: "👍", Action: "react", Timestamp: time.Now()})
	if r := received(t, alice); r.EventType != "reaction" || r.MID != "m_doorbell" || r.Emoji != "👍" || r.Reaction != "like" {
		t.Fatalf("reaction = %+v", r)
	}
}

func TestUnknownSenderIsNeverAnEvent(t *testing.T) {
	h := newHarness(t, nil)
	unknown := h.client.Subscribe("messenger/bridge/unknown_sender")
	anyReceived := h.client.Subscribe("messenger/received/#")
	h.takeIn(
		receive.Event{MID: "m_1", PSID: "555", Name: "Carol Dupré", Type: receive.TypeMessage, Text: "hello?", Timestamp: time.Now()},
		receive.Event{MID: "m_2", PSID: "555", Name: "Carol Dupré", Type: receive.TypeMessage, Text: "anyone?", Timestamp: time.Now()},
		receive.Event{MID: "m_3", PSID: bobPSID, Type: receive.TypeMessage, Text: "bob here", Timestamp: time.Now()},
	)
	m := mqtttest.Next(t, unknown)
	var u struct{ PSID, Name, Text, RecipientsEntry string }
	if err := json.Unmarshal(m.Payload, &struct {
		PSID  *string `json:"psid"`
		Name  *string `json:"name"`
		Text  *string `json:"text"`
		Entry *string `json:"recipients_entry"`
	}{&u.PSID, &u.Name, &u.Text, &u.RecipientsEntry}); err != nil {
		t.Fatal(err)
	}
	if u.PSID != "555" || u.Text != "hello?" || u.RecipientsEntry != "carol_dupre:555" {
		t.Errorf("unknown sender = %+v", u)
	}
	// Bob's message came after both of Carol's: once it is out, the second
	// of Carol's was dealt with, and was not reported again.
	if m := mqtttest.Next(t, anyReceived); m.Topic != "messenger/received/bob" {
		t.Fatalf("got %s, want bob's message only", m.Topic)
	}
	select {
	case m := <-unknown:
		t.Errorf("the same unknown sender was reported twice within the rate limit: %s", m.Payload)
	default:
	}
}

func TestReceivedWaitsForTheBrokerAndGoesOutOnce(t *testing.T) {
	h := newHarness(t, nil)
	h.broker.Stop()
	h.takeIn(receive.Event{MID: "m_while_down", PSID: alicePSID, Type: receive.TypeMessage, Text: "are you there", Timestamp: time.Now()})
	h.broker.Restart()
	c := h.broker.Connect(t)
	alice := c.Subscribe("messenger/received/alice")
	if r := received(t, alice); r.MID != "m_while_down" {
		t.Fatalf("got %+v", r)
	}
	// Restarted, the bridge publishes it no more: it left the store once the
	// broker had it, and its MID is remembered.
	h.stop()
	h.start()
	h.takeIn(
		receive.Event{MID: "m_while_down", PSID: alicePSID, Type: receive.TypeMessage, Text: "are you there", Timestamp: time.Now()},
		receive.Event{MID: "m_after", PSID: alicePSID, Type: receive.TypeMessage, Text: "later", Timestamp: time.Now()},
	)
	if r := received(t, alice); r.MID != "m_after" {
		t.Fatalf("after a restart got %+v, want m_after alone", r)
	}
}
