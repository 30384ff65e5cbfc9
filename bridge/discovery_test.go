package bridge_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/messenger-bridge/messenger-bridge/delivery"
	"github.com/messenger-bridge/messenger-bridge/discovery"
	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
	"github.com/messenger-bridge/messenger-bridge/mqtttest"
)

// deviceTopic is where the harness's bridge announces itself: the page id
// comes from the fake Graph server's GET /me.
const deviceTopic = "homeassistant/device/messenger_1122334455/config"

type discoveryPayload struct {
	Device struct {
		Identifiers []string `json:"identifiers"`
		Name        string   `json:"name"`
	} `json:"device"`
	Components map[string]map[string]any `json:"components"`
}

func decodeDiscovery(t *testing.T, m mqtttest.Message) discoveryPayload {
	t.Helper()
	var p discoveryPayload
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		t.Fatalf("discovery on %s is not JSON: %v\n%s", m.Topic, err, m.Payload)
	}
	return p
}

func TestDiscoveryIsRetainedOnStart(t *testing.T) {
	h := newHarness(t, nil)
	mqtttest.Next(t, h.client.Subscribe(deviceTopic)) // the broker has it now
	// A Home Assistant that connects later still finds the device.
	late := h.broker.Connect(t).Subscribe("homeassistant/device/+/config")
	m := mqtttest.Next(t, late)
	if m.Topic != deviceTopic || !m.Retained {
		t.Fatalf("got %s (retained %v), want retained %s", m.Topic, m.Retained, deviceTopic)
	}
	p := decodeDiscovery(t, m)
	if p.Device.Name != "Our Home" {
		t.Errorf("device name = %q, want the page's name", p.Device.Name)
	}
	for _, name := range []string{"alice", "bob", "family"} {
		c := p.Components["notify_"+name]
		if c == nil {
			t.Fatalf("no notify component for %s in %v", name, keys(p.Components))
		}
		if c["command_topic"] != "messenger/notify/"+name || c["default_entity_id"] != "notify.messenger_"+name ||
			c["qos"] != float64(1) || c["retain"] != false {
			t.Errorf("notify_%s = %v", name, c)
		}
	}
	if p.Components["last_result_family"] != nil {
		t.Error("a group has no results of its own, so no last-result sensor")
	}
}

func TestNotifyEntityCommandReachesGraph(t *testing.T) {
	h := newHarness(t, nil)
	p := decodeDiscovery(t, mqtttest.Next(t, h.client.Subscribe(deviceTopic)))
	topic, _ := p.Components["notify_bob"]["command_topic"].(string)
	// Home Assistant's MQTT notify entity publishes the bare message.
	h.client.Publish(topic, "The washing machine is done")
	if req := h.request(); req.PSID != bobPSID || req.Text != "The washing machine is done" {
		t.Fatalf("Graph got %s %q", req.PSID, req.Text)
	}
}

func TestDiscoveryIsRepublishedWhenHomeAssistantComesOnline(t *testing.T) {
	h := newHarness(t, nil)
	configs := h.client.Subscribe(deviceTopic)
	first := mqtttest.Next(t, configs)
	h.client.Publish("homeassistant/status", "online")
	again := mqtttest.Next(t, configs)
	if again.Retained {
		t.Error("the republished config reached a live subscriber, so it should not carry the retained flag")
	}
	if string(again.Payload) != string(first.Payload) {
		t.Fatalf("republished config differs:\n%s\nvs\n%s", again.Payload, first.Payload)
	}
	// Any other status (Home Assistant going offline) republishes nothing:
	// after "offline" and one more "online", the next config is the answer to
	// the second "online".
	h.client.Publish("homeassistant/status", "offline")
	h.client.Publish("homeassistant/status", "online")
	mqtttest.Next(t, configs)
	select {
	case m := <-configs:
		t.Fatalf("unexpected extra discovery %s", m.Payload)
	default:
	}
}

func TestDroppedRecipientIsRemovedAtNextStart(t *testing.T) {
	h := newHarness(t, nil)
	configs := h.client.Subscribe(deviceTopic)
	before := decodeDiscovery(t, mqtttest.Next(t, configs))
	h.stop()

	h.env["RECIPIENTS"] = "alice:" + alicePSID
	h.env["GROUPS"] = ""
	h.start()
	removal := decodeDiscovery(t, mqtttest.Until(t, configs, func(m mqtttest.Message) bool {
		return !strings.Contains(string(m.Payload), `"command_topic":"messenger/notify/bob"`)
	}))
	for _, id := range []string{"notify_bob", "last_result_bob", "notify_family"} {
		c, ok := removal.Components[id]
		if !ok || len(c) != 1 || c["platform"] == nil {
			t.Errorf("component %s = %v, want the removal form {platform}", id, c)
		}
	}
	if removal.Components["notify_alice"]["unique_id"] != before.Components["notify_alice"]["unique_id"] {
		t.Error("alice's unique_id changed across restarts")
	}

	// The retained config that stays behind no longer mentions bob at all:
	// once the second publication is out, a new subscriber gets only it.
	mqtttest.Until(t, configs, func(m mqtttest.Message) bool {
		return !strings.Contains(string(m.Payload), "bob") && !strings.Contains(string(m.Payload), "family")
	})
	retained := decodeDiscovery(t, mqtttest.Next(t, h.broker.Connect(t).Subscribe(deviceTopic)))
	for id := range retained.Components {
		if strings.Contains(id, "bob") || strings.Contains(id, "family") {
			t.Errorf("retained config still has %s", id)
		}
	}
}

func TestDeviceSurvivesAStartWithoutGraph(t *testing.T) {
	h := newHarness(t, nil)
	configs := h.client.Subscribe("homeassistant/device/+/config")
	mqtttest.Next(t, configs) // the retained config of the first start
	h.stop()
	h.offline = true
	h.start()
	m := mqtttest.Next(t, configs)
	if m.Topic != deviceTopic || len(m.Payload) == 0 {
		t.Fatalf("after a start without Graph: %s %.60q, want the same device announced again", m.Topic, m.Payload)
	}
}

func TestTokenProblemTurnsOnAfter190(t *testing.T) {
	h := newHarness(t, nil)
	problem := h.client.Subscribe("messenger/bridge/token/problem")
	if m := mqtttest.Next(t, problem); string(m.Payload) != "OFF" {
		t.Fatalf("initial token problem = %q, want OFF", m.Payload)
	}
	h.graph.FailNext(1, graphtest.TokenExpired)
	h.client.Publish("messenger/notify/alice", "token test")
	h.result("alice")
	// The first OFF may come twice, retained and live, when the bridge
	// publishes it while the subscription is being made.
	if m := mqtttest.Until(t, problem, func(m mqtttest.Message) bool { return string(m.Payload) != "OFF" }); string(m.Payload) != "ON" {
		t.Fatalf("token problem after 190 = %q, want ON", m.Payload)
	}
	var info struct {
		Token struct{ State string } `json:"token"`
	}
	m := mqtttest.Next(t, h.broker.Connect(t).Subscribe("messenger/bridge/info"))
	if err := json.Unmarshal(m.Payload, &info); err != nil || info.Token.State != "invalid" {
		t.Fatalf("bridge/info = %s, want token state invalid", m.Payload)
	}
	// A later success shows the token works again.
	h.client.Publish("messenger/notify/alice", "token works")
	if r := h.result("alice"); r.Status != delivery.Sent {
		t.Fatalf("result = %+v", r)
	}
	if m := mqtttest.Next(t, problem); string(m.Payload) != "OFF" {
		t.Fatalf("token problem after a success = %q, want OFF", m.Payload)
	}
}

func TestDiscoveryDisabledPublishesNothingUnderThePrefix(t *testing.T) {
	broker := mqtttest.Start(t)
	watcher := broker.Connect(t).Subscribe("homeassistant/#")
	h := newHarnessOn(t, broker, map[string]string{"HA_DISCOVERY": "false"})
	// Results follow every earlier publication of the bridge on the same
	// connection, so once one arrives, discovery would have arrived too.
	h.client.Publish("messenger/notify/alice", "no discovery")
	h.result("alice")
	select {
	case m := <-watcher:
		t.Fatalf("published %s under the discovery prefix", m.Topic)
	default:
	}
}

// TestAttributesAreNotDroppedByHomeAssistant reads every payload on the
// json_attributes_topic of each component the bridge announces: Home
// Assistant drops the keys discovery.BlockedAttribute names, state among them,
// so what the bridge published under one would never show.
func TestAttributesAreNotDroppedByHomeAssistant(t *testing.T) {
	h := newHarness(t, nil)
	p := decodeDiscovery(t, mqtttest.Next(t, h.client.Subscribe(deviceTopic)))
	watcher := h.broker.Connect(t)
	topics := map[string]<-chan mqtttest.Message{}
	for _, c := range p.Components {
		if topic, ok := c["json_attributes_topic"].(string); ok && topics[topic] == nil {
			topics[topic] = watcher.Subscribe(topic)
		}
	}
	for _, want := range []string{"messenger/bridge/token", "messenger/result/alice", "messenger/result/bob"} {
		if topics[want] == nil {
			t.Fatalf("no component has json_attributes_topic %s; announced: %v", want, keys(p.Components))
		}
	}

	// The token's state as at start, read before the 190 below: the status
	// topics say the latest state, so a change made before the first
	// publication would replace it.
	if a := attributes(t, mqtttest.Next(t, topics["messenger/bridge/token"])); a["token_state"] != "valid" {
		t.Errorf("token attributes at start %v, want token_state valid", a)
	}

	// A 190 marks the token invalid, with a problem, and gives alice a
	// failed result; bob's is sent.
	h.graph.FailNext(1, graphtest.TokenExpired)
	h.client.Publish("messenger/notify/alice", "attributes test")
	h.result("alice")
	h.client.Publish("messenger/notify/bob", "attributes test")
	h.result("bob")

	// The first payload on each result topic; on the others, what has come.
	first := map[string]map[string]any{}
	for _, topic := range []string{"messenger/result/alice", "messenger/result/bob"} {
		first[topic] = attributes(t, mqtttest.Next(t, topics[topic]))
	}
	for topic, ch := range topics {
		if _, read := first[topic]; read || topic == "messenger/bridge/token" {
			continue
		}
		for len(ch) > 0 {
			attributes(t, <-ch)
		}
	}
	if first["messenger/result/alice"]["error"] == nil {
		t.Errorf("alice's result %v, want a failure with its error", first["messenger/result/alice"])
	}
	invalid := attributes(t, mqtttest.Until(t, topics["messenger/bridge/token"], func(m mqtttest.Message) bool {
		return attributes(t, m)["token_state"] == "invalid"
	}))
	if problem, _ := invalid["problem"].(string); problem == "" {
		t.Errorf("token attributes after a 190 %v, want a problem saying what to do", invalid)
	}
}

// attributes decodes m as Home Assistant reads a json_attributes_topic, and
// fails the test for a key Home Assistant would drop.
func attributes(t *testing.T, m mqtttest.Message) map[string]any {
	t.Helper()
	var attrs map[string]any
	if err := json.Unmarshal(m.Payload, &attrs); err != nil || attrs == nil {
		t.Fatalf("%s: %s is not a JSON object, which Home Assistant ignores as attributes", m.Topic, m.Payload)
	}
	for k := range attrs {
		if discovery.BlockedAttribute(k) {
			t.Errorf("%s: key %q is one Home Assistant drops (MQTT_ATTRIBUTES_BLOCKED): %s", m.Topic, k, m.Payload)
		}
	}
	return attrs
}

func keys(m map[string]map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
