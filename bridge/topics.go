package bridge

import "strings"

// Topics names every topic under the base topic (SPEC §2).
type Topics struct{ Base string }

// Notify is the topic for a message to one person or group.
func (t Topics) Notify(name string) string { return t.Base + "/notify/" + name }

// NotifyAny is the topic for a message naming its targets in the payload.
func (t Topics) NotifyAny() string { return t.Base + "/notify" }

// Result is where results for name are published; name "" is for input that
// names no recipient the bridge could attribute it to.
func (t Topics) Result(name string) string {
	if name == "" {
		return t.Base + "/result"
	}
	return t.Base + "/result/" + name
}

// State is the retained online/offline topic, also the MQTT will.
func (t Topics) State() string { return t.Base + "/bridge/state" }

// Info is the retained JSON description of the bridge.
func (t Topics) Info() string { return t.Base + "/bridge/info" }

// recipient returns the name addressed by a notify topic: "" for the topic
// without a name, ok false for a topic that is not a notify topic.
func (t Topics) recipient(topic string) (name string, ok bool) {
	if topic == t.NotifyAny() {
		return "", true
	}
	name, ok = strings.CutPrefix(topic, t.Base+"/notify/")
	return name, ok
}
