package bridge

import (
	"encoding/json"

	"github.com/messenger-bridge/messenger-bridge/delivery"
)

// Report publishes r on the result topic of name. It implements
// delivery.Reporter. What a result says of the page token reaches the
// token's topics through the reach.Tracker, not through results.
func (b *Bridge) Report(name string, r delivery.Result) {
	payload, err := json.Marshal(r)
	if err != nil { // a Result always marshals; guard anyway rather than lose it silently
		b.log.Error().Err(err).Str("recipient", name).Msg("cannot encode result")
		return
	}
	b.publish(b.topics.Result(name), false, payload)
	b.deps.Metrics.Result(name, string(r.Status))
}
