// Package topics is the bridge's MQTT contract (SPEC.md sections 2 and 5):
// the name of every topic it subscribes or publishes to, and every fixed
// payload. Intake, results, status and Home Assistant discovery all take
// their topics from here, so each is written once.
package topics

import (
	"strings"
	"time"
)

// Payloads of <base>/bridge/state, the bridge's retained will topic, which
// are also Home Assistant's availability payloads and its birth message on
// <prefix>/status.
const (
	Online  = "online"
	Offline = "offline"
)

// Payloads of the problem sensors (page token, page restricted): the MQTT
// binary sensor's defaults (DEFAULT_PAYLOAD_ON/OFF in
// homeassistant/components/mqtt/binary_sensor.py), spelled out in the
// discovery payload so the contract is visible there.
const (
	On  = "ON"
	Off = "OFF"
)

// None is published on a timestamp topic whose time is not known. Home
// Assistant's MQTT sensor sets its state to unknown on this payload
// (PAYLOAD_NONE in homeassistant/components/mqtt/const.py). An empty
// payload would not do: a retained empty message deletes the retained
// state instead.
const None = "None"

// Tree names every topic under one base topic (MQTT_BASE_TOPIC) and one
// Home Assistant discovery prefix (HA_DISCOVERY_PREFIX).
type Tree struct {
	Base, DiscoveryPrefix string
}

// Notify is the topic for a message to one person or group.
func (t Tree) Notify(name string) string { return t.Base + "/notify/" + name }

// NotifyAny is the topic for a message naming its targets in the payload.
func (t Tree) NotifyAny() string { return t.Base + "/notify" }

// Recipient returns the name addressed by a notify topic: "" for NotifyAny,
// ok false for a topic that is not a notify topic.
func (t Tree) Recipient(topic string) (name string, ok bool) {
	if topic == t.NotifyAny() {
		return "", true
	}
	if name, ok := strings.CutPrefix(topic, t.Base+"/notify/"); ok {
		return name, true
	}
	return "", false
}

// Result is where results for name are published; name "" is for input
// that names no recipient the bridge could attribute it to.
func (t Tree) Result(name string) string {
	if name == "" {
		return t.Base + "/result"
	}
	return t.Base + "/result/" + name
}

// State is the retained Online/Offline topic, also the MQTT will.
func (t Tree) State() string { return t.Base + "/bridge/state" }

// Info is the retained JSON description of the bridge.
func (t Tree) Info() string { return t.Base + "/bridge/info" }

// Token is the retained JSON whose keys Home Assistant shows as attributes
// of the page token entity.
func (t Tree) Token() string { return t.Base + "/bridge/token" }

// TokenProblem is the page token's retained problem state, On or Off.
func (t Tree) TokenProblem() string { return t.Base + "/bridge/token/problem" }

// TokenExpires is the page token's retained expiry (see Time).
func (t Tree) TokenExpires() string { return t.Base + "/bridge/token/expires" }

// Restricted is the page's retained restriction state: On while Meta
// restricts the page from sending, else Off.
func (t Tree) Restricted() string { return t.Base + "/bridge/restricted" }

// Person is the retained JSON of what the bridge knows of name's 24-hour
// window: window_until, last_received and reachable.
func (t Tree) Person(name string) string { return t.Base + "/person/" + name }

// Received is where what name sent to the Page is published, not
// retained (SPEC §6).
func (t Tree) Received(name string) string { return t.Base + "/received/" + name }

// UnknownSender is where a message from someone not in RECIPIENTS is
// published: never an event, never a command.
func (t Tree) UnknownSender() string { return t.Base + "/bridge/unknown_sender" }

// HomeAssistantStatus is Home Assistant's birth and last-will topic.
func (t Tree) HomeAssistantStatus() string { return t.DiscoveryPrefix + "/status" }

// Flag returns On for true and Off for false.
func Flag(on bool) string {
	if on {
		return On
	}
	return Off
}

// Time returns the payload of a timestamp topic: t in RFC 3339 (UTC), or
// None when t is zero.
func Time(t time.Time) string {
	if t.IsZero() {
		return None
	}
	return t.UTC().Format(time.RFC3339)
}
