package bridge_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/messenger-bridge/messenger-bridge/delivery"
	"github.com/messenger-bridge/messenger-bridge/mqtttest"
)

// TestOutboxFullSaysWhatWaits sends a message for two people to an outbox
// with room for one: the refusal says that nothing waits, and why.
func TestOutboxFullSaysWhatWaits(t *testing.T) {
	h := newHarness(t, map[string]string{"OUTBOX_MAX": "1"})
	h.client.Publish("messenger/notify/family", withID("doorbell"))
	for _, name := range []string{"alice", "bob"} {
		r := h.result(name)
		if r.Status != delivery.Failed || r.ID != "doorbell" {
			t.Fatalf("result for %s: %+v, want doorbell failed", name, r)
		}
		if want := "outbox full: 0 messages waiting, and this one adds 2, beyond OUTBOX_MAX 1; message refused"; r.Error.Message != want {
			t.Errorf("result for %s says %q, want %q", name, r.Error.Message, want)
		}
	}
	// A message for one person fits, and goes.
	h.client.Publish("messenger/notify/alice", withID("one"))
	if r := h.result("alice"); r.Status != delivery.Sent {
		t.Fatalf("result %+v, want sent", r)
	}
}

// TestOutboxMaxBytes refuses a message that would take the outbox beyond
// OUTBOX_MAX_BYTES, with a result saying so, and takes a smaller one.
func TestOutboxMaxBytes(t *testing.T) {
	h := newHarness(t, map[string]string{"OUTBOX_MAX_BYTES": "4kB"})
	big := strings.Repeat("smoke ", 1000)
	h.client.Publish("messenger/notify/family", `{"message":"`+big+`","id":"big"}`)
	for _, name := range []string{"alice", "bob"} {
		r := h.result(name)
		if r.Status != delivery.Failed || !strings.Contains(r.Error.Message, "beyond OUTBOX_MAX_BYTES 4kB; message refused") ||
			!strings.Contains(r.Error.Message, "0B waiting in 0 messages") {
			t.Fatalf("result for %s: %+v, want a refusal naming OUTBOX_MAX_BYTES", name, r)
		}
	}
	// Stored once for both: 2 × 3 kB would not fit, 3 kB does.
	mid := strings.Repeat("x", 3000)
	h.client.Publish("messenger/notify/family", `{"message":"`+mid+`","id":"mid"}`)
	for _, name := range []string{"alice", "bob"} {
		if r := h.result(name); r.Status != delivery.Sent || r.ID != "mid" {
			t.Fatalf("result for %s: %+v, want mid sent", name, r)
		}
	}
}

// TestDamagedOutboxAtStart starts the bridge on a garbage outbox.db: it
// starts, logs one line, moves the file aside, raises the "Outbox damaged"
// problem sensor, and delivers with a fresh outbox. The next start lowers
// the sensor.
func TestDamagedOutboxAtStart(t *testing.T) {
	h := newHarness(t, nil)
	states := h.client.Subscribe("messenger/bridge/outbox/damaged")
	mqtttest.Until(t, states, func(m mqtttest.Message) bool { return string(m.Payload) == "OFF" })
	h.stop()

	path := filepath.Join(h.dataDir, "outbox.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("not a database ", 5000)), 0o600); err != nil {
		t.Fatal(err)
	}
	h.start()
	mqtttest.Until(t, states, func(m mqtttest.Message) bool { return string(m.Payload) == "ON" })
	lines := 0
	for line := range strings.Lines(h.logs.String()) {
		if strings.Contains(line, "the outbox file was damaged") {
			lines++
			if !strings.Contains(line, `"level":"error"`) || !strings.Contains(line, "outbox.db.damaged-") || !strings.Contains(line, `"salvaged":0`) {
				t.Errorf("damage line %s: want an error naming where the file went and what was salvaged", line)
			}
		}
	}
	if lines != 1 {
		t.Errorf("%d lines about the damage, want 1", lines)
	}
	if moved, _ := filepath.Glob(path + ".damaged-*"); len(moved) != 1 {
		t.Errorf("files moved aside: %v, want one", moved)
	}
	h.client.Publish("messenger/notify/alice", withID("after"))
	if r := h.result("alice"); r.Status != delivery.Sent {
		t.Fatalf("result %+v, want sent", r)
	}

	h.stop()
	h.start()
	mqtttest.Until(t, states, func(m mqtttest.Message) bool { return string(m.Payload) == "OFF" })
}
