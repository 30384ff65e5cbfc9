package bridge

import "time"

// ArriveAt hands the intake a message on topic as if it had come from the
// broker at the given time, for tests of what counts from arrival.
func (b *Bridge) ArriveAt(topic, payload string, at time.Time) {
	b.inbox.Push(inbound{msg: arrived{topic: topic, payload: []byte(payload)}, at: at})
}

// arrived is a message as paho hands it over, QoS 1 and not retained.
type arrived struct {
	topic   string
	payload []byte
}

func (arrived) Duplicate() bool   { return false }
func (arrived) Qos() byte         { return 1 }
func (arrived) Retained() bool    { return false }
func (a arrived) Topic() string   { return a.topic }
func (arrived) MessageID() uint16 { return 1 }
func (a arrived) Payload() []byte { return a.payload }
func (arrived) Ack()              {}
