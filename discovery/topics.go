package discovery

import "time"

// Payloads of the bridge's diagnostic topics.
const (
	// Payloads of <base>/bridge/state, the bridge's retained will topic
	// (SPEC.md section 2).
	payloadOnline  = "online"
	payloadOffline = "offline"

	// Payloads of the token problem topic: the MQTT binary sensor's
	// defaults (DEFAULT_PAYLOAD_ON/OFF in
	// homeassistant/components/mqtt/binary_sensor.py), spelled out in the
	// discovery payload so the contract is visible there.
	payloadProblem   = "ON"
	payloadNoProblem = "OFF"
)

// TokenExpiresUnknown is published on [TokenExpiresTopic] when the
// token never expires or its expiry is not known. Home Assistant's MQTT
// sensor sets its state to unknown on this payload (PAYLOAD_NONE in
// homeassistant/components/mqtt/const.py). An empty payload would not do: a
// retained empty message deletes the retained state instead.
const TokenExpiresUnknown = "None"

// TokenProblemTopic returns the topic of the page token's problem state,
// "ON" or "OFF" (see [TokenProblemPayload]).
func TokenProblemTopic(base string) string { return base + "/bridge/token/problem" }

// TokenAttributesTopic returns the topic of a JSON object whose keys Home
// Assistant shows as attributes of the page token entity.
func TokenAttributesTopic(base string) string { return base + "/bridge/token" }

// TokenExpiresTopic returns the topic of the page token's expiry time (see
// [TokenExpiresPayload]).
func TokenExpiresTopic(base string) string { return base + "/bridge/token/expires" }

// TokenProblemPayload returns the payload for [TokenProblemTopic].
func TokenProblemPayload(problem bool) string {
	if problem {
		return payloadProblem
	}
	return payloadNoProblem
}

// TokenExpiresPayload returns the payload for [TokenExpiresTopic]: t in
// RFC 3339 (UTC), or [TokenExpiresUnknown] when t is zero.
func TokenExpiresPayload(t time.Time) string {
	if t.IsZero() {
		return TokenExpiresUnknown
	}
	return t.UTC().Format(time.RFC3339)
}

// PageRestrictedTopic returns the topic of the page's restriction state,
// "ON" while Meta restricts the page from sending, else "OFF" (see
// [TokenProblemPayload], whose payloads it shares).
func PageRestrictedTopic(base string) string { return base + "/bridge/restricted" }

// OutboxDamagedTopic returns the topic of the outbox's state, "ON" when the
// bridge found its outbox file damaged at start and moved it aside, else
// "OFF" (see [TokenProblemPayload], whose payloads it shares).
func OutboxDamagedTopic(base string) string { return base + "/bridge/outbox/damaged" }

// PersonTopic returns the retained topic of what the bridge knows of name's
// 24-hour window (SPEC.md section 2): JSON with window_until,
// last_received and reachable.
func PersonTopic(base, name string) string { return base + "/person/" + name }

func stateTopic(base string) string         { return base + "/bridge/state" }
func commandTopic(base, name string) string { return base + "/notify/" + name }
func resultTopic(base, name string) string  { return base + "/result/" + name }
