package discovery

import (
	"slices"
	"time"
)

// blockedAttributes are the keys Home Assistant's MQTT integration silently
// drops from the JSON object on an entity's json_attributes_topic:
// MQTT_ATTRIBUTES_BLOCKED in home-assistant/core,
// homeassistant/components/mqtt/entity.py (its 2025 and 2026 versions
// together: newer ones block "friendly_name" where older ones block "name",
// and some add "context_recent_time"), and the sensor platform's own
// MQTT_SENSOR_ATTRIBUTES_BLOCKED (sensor.ATTR_LAST_RESET,
// sensor.ATTR_STATE_CLASS) in homeassistant/components/mqtt/sensor.py. An
// attribute under one of these keys never shows in Home Assistant.
var blockedAttributes = [...]string{
	"assumed_state",
	"available",
	"context_recent_time",
	"device_class",
	"device_info",
	"entity_category",
	"entity_picture",
	"entity_registry_enabled_default",
	"extra_state_attributes",
	"force_update",
	"friendly_name",
	"icon",
	"name",
	"should_poll",
	"state",
	"supported_features",
	"unique_id",
	"unit_of_measurement",
	// sensor only
	"last_reset",
	"state_class",
}

// BlockedAttribute reports whether Home Assistant drops key from a JSON
// attributes payload (see blockedAttributes), so that a payload published
// on a json_attributes_topic must not use it.
func BlockedAttribute(key string) bool {
	return slices.Contains(blockedAttributes[:], key)
}

// TokenAttributes is the JSON object on [TokenAttributesTopic], shown as the
// attributes of the page token entity. Its keys are none Home Assistant drops
// ([BlockedAttribute]): hence token_state, not state.
type TokenAttributes struct {
	// TokenState is "unknown", "valid" or "invalid".
	TokenState string `json:"token_state"`
	// ExpiresAt is left out when the token never expires or its expiry is
	// not known.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// Problem says what is wrong with the token and what to do.
	Problem string `json:"problem,omitempty"`
}
