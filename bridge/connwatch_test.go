package bridge_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/messenger-bridge/messenger-bridge/delivery"
	"github.com/messenger-bridge/messenger-bridge/mqtttest"
)

// logLine is what the tests read of a JSON log line.
type logLine struct {
	Level   string `json:"level"`
	Message string `json:"message"`
	Reason  string `json:"reason"`
	Broker  string `json:"broker"`
}

// waitFailure waits for the warning of a failed connection attempt whose
// reason starts with reason.
func (h *harness) waitFailure(reason string) logLine {
	h.t.Helper()
	var got logLine
	_, ok := h.logs.Wait(mqtttest.Wait, func(line string) bool {
		var l logLine
		if json.Unmarshal([]byte(line), &l) != nil || l.Level != "warn" || !strings.HasPrefix(l.Message, "not connected to the MQTT broker") {
			return false
		}
		got = l
		return strings.HasPrefix(l.Reason, reason)
	})
	if !ok {
		h.t.Fatalf("no warning of a failed connection with reason %q; last seen: %+v", reason, got)
	}
	return got
}

// A wrong password, the most common mistake with the Home Assistant
// Mosquitto add-on, is named in the log and on /readyz; the bridge keeps
// trying, and connects once the broker knows the user.
func TestRefusedPasswordIsVisibleAndRetried(t *testing.T) {
	const wrong = "wrongMQTTpassword9999SECRET"
	broker := mqtttest.Start(t, mqtttest.WithUser("bridge", "the-right-one"))
	h := prepareHarness(t, broker, map[string]string{"MQTT_USERNAME": "bridge", "MQTT_PASSWORD": wrong, "LOG_LEVEL": "info"})
	h.launch()

	// Mosquitto and mochi both answer a bad password with MQTT 3.1.1's
	// "not authorised" (return code 5).
	l := h.waitFailure("not authorised")
	if l.Broker != broker.URL {
		t.Errorf("warning names broker %q, want %q", l.Broker, broker.URL)
	}
	err := h.bridge.BrokerReady()
	if want := "MQTT: not connected to " + broker.URL + ": not authorised (the broker refused user \"bridge\""; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("BrokerReady = %v, want it to contain %q", err, want)
	}
	if strings.Contains(h.logs.String(), wrong) || err != nil && strings.Contains(err.Error(), wrong) {
		t.Fatal("the password appears in the log or the readiness reason")
	}

	// The add-on creates the user after the bridge started.
	broker.SetUser("bridge", wrong)
	broker.Restart()
	select {
	case <-h.bridge.Ready():
	case <-time.After(mqtttest.Wait):
		t.Fatal("the bridge did not connect once the broker accepted its password")
	}
	if err := h.bridge.BrokerReady(); err != nil {
		t.Errorf("BrokerReady once connected = %v, want nil", err)
	}
}

// A broker certificate the bridge cannot verify is a TLS failure, said as
// such; with MQTT_CA_FILE the same broker works, over the bridge's own
// TLS dialing.
func TestTLSBroker(t *testing.T) {
	broker := mqtttest.Start(t, mqtttest.WithTLS())

	t.Run("unknown authority", func(t *testing.T) {
		h := prepareHarness(t, broker, nil)
		h.launch()
		h.waitFailure("TLS failure: certificate signed by unknown authority")
		if err := h.bridge.BrokerReady(); err == nil || !strings.Contains(err.Error(), "TLS failure") {
			t.Errorf("BrokerReady = %v, want the TLS failure", err)
		}
	})
	t.Run("with MQTT_CA_FILE", func(t *testing.T) {
		h := newHarnessOn(t, broker, map[string]string{"MQTT_CA_FILE": broker.CAFile})
		h.client.Publish("messenger/notify/alice", "over TLS")
		if req := h.request(); req.Text != "over TLS" {
			t.Fatalf("Graph got %q", req.Text)
		}
		if r := h.result("alice"); r.Status != delivery.Sent {
			t.Fatalf("result = %+v, want sent", r)
		}
	})
}

// A broker that goes away is a lost connection, then refused attempts.
func TestStoppedBrokerIsConnectionRefused(t *testing.T) {
	h := newHarness(t, map[string]string{"LOG_LEVEL": "info"})
	states := h.client.Subscribe("messenger/bridge/state")
	online := func(m mqtttest.Message) bool { return string(m.Payload) == "online" }
	mqtttest.Until(t, states, online)

	h.broker.Stop()
	h.waitFailure("connection refused")
	if err := h.bridge.BrokerReady(); err == nil || !strings.Contains(err.Error(), "not connected to "+h.broker.URL+": connection refused") {
		t.Errorf("BrokerReady = %v, want connection refused", err)
	}
	h.broker.Restart()
	if _, ok := h.logs.Wait(mqtttest.Wait, func(l string) bool {
		return strings.Contains(l, `"failed_attempts"`) && strings.Contains(l, "connected to the MQTT broker\"")
	}); !ok {
		t.Fatal("no log line of the reconnection with the failed attempts it took")
	}
	mqtttest.Until(t, states, online) // back, subscribed and announced
	if err := h.bridge.BrokerReady(); err != nil {
		t.Errorf("BrokerReady once back = %v, want nil", err)
	}
}

// MQTT over websockets keeps paho's own dialing, and works.
func TestWebsocketBroker(t *testing.T) {
	h := newHarnessOn(t, mqtttest.Start(t, mqtttest.WithWebsocket()), nil)
	h.client.Publish("messenger/notify/alice", "over websockets")
	if req := h.request(); req.Text != "over websockets" {
		t.Fatalf("Graph got %q", req.Text)
	}
	if r := h.result("alice"); r.Status != delivery.Sent {
		t.Fatalf("result = %+v, want sent", r)
	}
}
