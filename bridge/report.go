package bridge

import (
	"encoding/json"

	"github.com/messenger-bridge/messenger-bridge/delivery"
)

// Report publishes r on the result topic of name. It implements
// delivery.Reporter, and keeps the diagnostic token state current: a 190
// error marks the token invalid at once, and a later success clears it.
func (b *Bridge) Report(name string, r delivery.Result) {
	payload, err := json.Marshal(r)
	if err != nil { // a Result always marshals; guard anyway rather than lose it silently
		b.log.Error().Err(err).Str("recipient", name).Msg("cannot encode result")
		return
	}
	b.publish(b.topics.Result(name), false, payload)
	b.deps.Metrics.Result(name, string(r.Status))
	switch {
	case r.Error != nil && r.Error.TokenInvalid:
		b.state.tokenInvalid(r.Error.Message)
	case r.Status == delivery.Sent:
		b.state.tokenWorks()
	}
}
