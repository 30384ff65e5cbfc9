package mqttsession

import (
	"errors"
	"fmt"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

var errNoSuback = errors.New("the broker did not confirm the subscription in time")

// subQoSFailure is the SUBACK return code of a refused subscription (MQTT
// 3.1.1 section 3.9.3); paho reports it in the token's Result, not Error.
const subQoSFailure = 0x80

// subscribe subscribes to the session's subscriptions and checks what the
// broker granted. A refusal is an error naming the topic and the user; a
// lower QoS than asked is only logged.
func (s *Session) subscribe(c mqtt.Client) error {
	subs := s.opts.Subscriptions
	if len(subs) == 0 {
		return nil // an empty SUBSCRIBE is a protocol violation (MQTT 3.1.1 section 3.8.3)
	}
	t := c.SubscribeMultiple(subs, nil)
	if !t.WaitTimeout(connectTimeout) {
		return errNoSuback
	}
	if err := t.Error(); err != nil {
		return err
	}
	st, ok := t.(*mqtt.SubscribeToken)
	if !ok {
		return nil
	}
	for topic, granted := range st.Result() {
		switch {
		case granted == subQoSFailure:
			return fmt.Errorf("the broker refused the subscription to %s (check its ACL for user %q)", topic, s.opts.Username)
		case granted < subs[topic]:
			s.log.Warn().Str("topic", topic).Uint8("qos", granted).Uint8("asked", subs[topic]).
				Msg("the broker granted less than the QoS asked: messages sent while the bridge is away may be lost")
		}
	}
	return nil
}
