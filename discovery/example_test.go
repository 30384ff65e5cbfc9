package discovery_test

import (
	"fmt"

	"github.com/messenger-bridge/messenger-bridge/discovery"
)

// At start-up the bridge reads the retained payload at the device topic,
// removes what is gone, then publishes the configuration without it.
func ExampleRemoved() {
	d := discovery.Device{Prefix: "homeassistant", Base: "messenger", NodeID: "104857600123456"}
	entities := []discovery.Entity{{Name: "alice"}, {Name: "family", Group: true}}

	// Found retained on the broker: last run also had carol.
	previous, _ := discovery.Config(d, append(entities, discovery.Entity{Name: "carol"}), nil)

	fmt.Println(d.Topic())
	if removed := discovery.Removed(previous, d, entities); removed != nil {
		fmt.Println("removing", removed)
		cleanup, _ := discovery.Config(d, entities, removed)
		_ = cleanup // publish retained, then:
	}
	final, _ := discovery.Config(d, entities, nil)
	_ = final // publish retained; again whenever homeassistant/status is "online"
	// Output:
	// homeassistant/device/messenger_104857600123456/config
	// removing [last_result_carol notify_carol reachable_carol window_until_carol]
}
