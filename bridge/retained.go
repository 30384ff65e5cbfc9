package bridge

import mqtt "github.com/eclipse/paho.mqtt.golang"

// maxRefusedTopics bounds how many notify topics refusedRetained remembers:
// one per configured name is the usual need, and a publisher retaining on
// many unknown names must not grow it without end.
const maxRefusedTopics = 256

// refusedRetained remembers the notify topics on which a retained command
// was refused, so that the empty message that clears it is recognised: a
// broker hands the clear to a subscriber without the retain flag (MQTT
// 3.1.1 section 3.3.1.3), like any message. Only the intake goroutine uses
// it.
type refusedRetained map[string]struct{}

func (r refusedRetained) refused(topic string) {
	if len(r) < maxRefusedTopics {
		r[topic] = struct{}{}
	}
}

// take reports whether a retained command was refused on topic, and
// forgets it.
func (r refusedRetained) take(topic string) bool {
	_, ok := r[topic]
	delete(r, topic)
	return ok
}

// retainedClear reports whether m is the empty message that clears a
// retained command, as `mosquitto_pub -r -n` sends: it is not a command, so
// it gets no result, only a debug line.
func (b *Bridge) retainedClear(m mqtt.Message) bool {
	if len(m.Payload()) != 0 || !m.Retained() && !b.cleared.take(m.Topic()) {
		return false
	}
	b.log.Debug().Str("topic", m.Topic()).Msg("an empty message cleared a retained command; nothing to send")
	return true
}
