package discovery

import (
	"slices"
	"strings"
	"testing"
)

// The allow-lists below are written down from Home Assistant's MQTT
// integration (home-assistant/core, homeassistant/components/mqtt/, the
// 2025/2026 sources). Every key the payload uses must be one of them, in its
// full spelling: Home Assistant drops unknown keys silently
// (DISCOVERY_SCHEMA = PLATFORM_SCHEMA_MODERN.extend({}, extra=REMOVE_EXTRA)),
// so a misspelt key would only show as a missing feature.

// availabilityKeys: schemas.py, _MQTT_AVAILABILITY_SINGLE_SCHEMA
// (availability_topic, availability_template, payload_available,
// payload_not_available) and _MQTT_AVAILABILITY_LIST_SCHEMA
// (availability_mode, availability).
var availabilityKeys = []string{
	"availability_topic", "availability_template", "payload_available",
	"payload_not_available", "availability_mode", "availability",
}

// entityKeys: keys every MQTT entity platform accepts.
var entityKeys = join(availabilityKeys, []string{
	// schemas.py, MQTT_ENTITY_COMMON_SCHEMA = _MQTT_AVAILABILITY_SCHEMA.extend({
	//   Optional(CONF_DEVICE), Optional(CONF_ENTITY_PICTURE), Optional(CONF_ORIGIN),
	//   Optional(CONF_ENABLED_BY_DEFAULT), Optional(CONF_ENTITY_CATEGORY),
	//   Optional(CONF_ICON), Optional(CONF_JSON_ATTRS_TOPIC),
	//   Optional(CONF_JSON_ATTRS_TEMPLATE), Optional(CONF_DEFAULT_ENTITY_ID),
	//   Optional(CONF_MESSAGE_EXPIRY_INTERVAL), Optional(CONF_UNIQUE_ID),
	//   Optional(CONF_VISIBLE_BY_DEFAULT) })
	// object_id is gone from it: HA 2025.10 deprecated it for
	// default_entity_id ("Replace the "object_id": "x" option with
	// "default_entity_id": "sensor.x" in your published discovery
	// configuration ... This will stop working in Home Assistant Core
	// 2026.4", the repair message quoted in e.g.
	// https://github.com/w1tw0lf/Unifi-Device-info/issues/34).
	"device", "entity_picture", "origin", "enabled_by_default", "entity_category",
	"icon", "json_attributes_topic", "json_attributes_template", "default_entity_id",
	"message_expiry_interval", "unique_id", "visible_by_default",
	// config.py, SCHEMA_BASE: Optional(CONF_QOS), Optional(CONF_ENCODING),
	// Optional(CONF_GROUP).
	"qos", "encoding", "group",
	// schemas.py, _COMPONENT_CONFIG_SCHEMA:
	// Required(CONF_PLATFORM): In(SUPPORTED_COMPONENTS), in device discovery.
	"platform",
})

// roKeys: config.py, MQTT_RO_SCHEMA = MQTT_BASE_SCHEMA.extend({
// Required(CONF_STATE_TOPIC), Optional(CONF_VALUE_TEMPLATE) }).
var roKeys = []string{"state_topic", "value_template"}

// platformKeys are the keys each platform accepts.
var platformKeys = map[string][]string{
	// notify.py, PLATFORM_SCHEMA_MODERN = MQTT_BASE_SCHEMA.extend({
	//   Optional(CONF_COMMAND_TEMPLATE), Required(CONF_COMMAND_TOPIC),
	//   Optional(CONF_NAME), Optional(CONF_RETAIN, default=DEFAULT_RETAIN)
	// }).extend(mqtt_entity_common_schema(Platform.NOTIFY).schema)
	"notify": join(entityKeys, []string{"command_template", "command_topic", "name", "retain"}),
	// sensor.py, _PLATFORM_SCHEMA_BASE = MQTT_RO_SCHEMA.extend({
	//   Optional(CONF_DEVICE_CLASS), Optional(CONF_EXPIRE_AFTER),
	//   Optional(CONF_FORCE_UPDATE), Optional(CONF_LAST_RESET_VALUE_TEMPLATE),
	//   Optional(CONF_NAME), Optional(CONF_OPTIONS),
	//   Optional(CONF_SUGGESTED_DISPLAY_PRECISION), Optional(CONF_STATE_CLASS),
	//   Optional(CONF_UNIT_OF_MEASUREMENT) }).extend(MQTT_ENTITY_COMMON_SCHEMA.schema)
	"sensor": join(entityKeys, roKeys, []string{
		"device_class", "expire_after", "force_update", "last_reset_value_template",
		"name", "options", "suggested_display_precision", "state_class", "unit_of_measurement",
	}),
	// binary_sensor.py, PLATFORM_SCHEMA_MODERN = MQTT_RO_SCHEMA.extend({
	//   Optional(CONF_DEVICE_CLASS), Optional(CONF_EXPIRE_AFTER),
	//   Optional(CONF_FORCE_UPDATE), Optional(CONF_NAME), Optional(CONF_OFF_DELAY),
	//   Optional(CONF_PAYLOAD_OFF), Optional(CONF_PAYLOAD_ON)
	// }).extend(MQTT_ENTITY_COMMON_SCHEMA.schema)
	"binary_sensor": join(entityKeys, roKeys, []string{
		"device_class", "expire_after", "force_update", "name", "off_delay",
		"payload_off", "payload_on",
	}),
	// event.py, _PLATFORM_SCHEMA_BASE = MQTT_RO_SCHEMA.extend({
	//   Optional(CONF_DEVICE_CLASS), Optional(CONF_NAME),
	//   Required(CONF_EVENT_TYPES) }).extend(MQTT_ENTITY_COMMON_SCHEMA.schema)
	"event": join(entityKeys, roKeys, []string{"device_class", "name", "event_types"}),
}

// requiredKeys: the platform and its Required(...) topic; unique_id because
// schemas.py check_unique_id demands it of an entity component with more
// than its platform, and the docs: "Entity components must have set the
// unique_id option". name and default_entity_id are this bridge's contract
// (SPEC.md section 5).
var requiredKeys = map[string][]string{
	"notify":        {"platform", "unique_id", "name", "default_entity_id", "command_topic"},
	"sensor":        {"platform", "unique_id", "name", "default_entity_id", "state_topic"},
	"binary_sensor": {"platform", "unique_id", "name", "default_entity_id", "state_topic"},
	"event":         {"platform", "unique_id", "name", "default_entity_id", "state_topic", "event_types"},
}

// deviceDiscoveryKeys: schemas.py, DEVICE_DISCOVERY_SCHEMA =
// _MQTT_AVAILABILITY_SCHEMA.extend({ Required(CONF_DEVICE),
// Required(CONF_COMPONENTS), Required(CONF_ORIGIN), Optional(CONF_STATE_TOPIC),
// Optional(CONF_COMMAND_TOPIC), Optional(CONF_MESSAGE_EXPIRY_INTERVAL),
// Optional(CONF_QOS), Optional(CONF_ENCODING) }).
var deviceDiscoveryKeys = join(availabilityKeys, []string{
	"device", "components", "origin", "state_topic", "command_topic",
	"message_expiry_interval", "qos", "encoding",
})

// deviceKeys: schemas.py, MQTT_ENTITY_DEVICE_INFO_SCHEMA.
var deviceKeys = []string{
	"identifiers", "connections", "manufacturer", "model", "model_id", "name",
	"hw_version", "serial_number", "sw_version", "via_device", "suggested_area",
	"configuration_url",
}

// originKeys: schemas.py, MQTT_ORIGIN_INFO_SCHEMA = Schema({
// Required(CONF_NAME), Optional(CONF_SW_VERSION), Optional(CONF_SUPPORT_URL) }).
var originKeys = []string{"name", "sw_version", "support_url"}

func join(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

func checkKeys(t *testing.T, where string, m map[string]any, allowed, required []string) {
	t.Helper()
	for k := range m {
		if !slices.Contains(allowed, k) {
			t.Errorf("%s: key %q is not in Home Assistant's schema", where, k)
		}
	}
	for _, k := range required {
		if _, ok := m[k]; !ok {
			t.Errorf("%s: required key %q is missing", where, k)
		}
	}
}

// validEntityID mirrors VALID_ENTITY_ID in homeassistant/core.py:
// _OBJECT_ID = r"(?!_)[\da-z_]+(?<!_)"; _DOMAIN = r"(?!.+__)" + _OBJECT_ID;
// VALID_ENTITY_ID = re.compile(r"^" + _DOMAIN + r"\." + _OBJECT_ID + r"$").
func validEntityID(s string) bool {
	domain, object, ok := strings.Cut(s, ".")
	if !ok || strings.Contains(s, "__") {
		return false
	}
	for _, part := range []string{domain, object} {
		if part == "" || part[0] == '_' || part[len(part)-1] == '_' {
			return false
		}
		for _, c := range []byte(part) {
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
				return false
			}
		}
	}
	return true
}

func TestConfigMatchesHomeAssistantSchemas(t *testing.T) {
	b, err := Config(testDevice(), testEntities, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := decode(t, b)
	checkKeys(t, "payload", p, deviceDiscoveryKeys, []string{"device", "components", "origin"})
	checkKeys(t, "device", p["device"].(map[string]any), deviceKeys, []string{"identifiers", "name"})
	checkKeys(t, "origin", p["origin"].(map[string]any), originKeys, []string{"name"})

	uniqueIDs := map[string]string{}
	entityIDs := map[string]string{}
	for id, c := range components(t, b) {
		platform, _ := c["platform"].(string)
		allowed, known := platformKeys[platform]
		if !known {
			t.Errorf("component %s: platform %q is not notify, sensor, binary_sensor or event", id, platform)
			continue
		}
		checkKeys(t, "component "+id, c, allowed, requiredKeys[platform])

		uid, _ := c["unique_id"].(string)
		if other, dup := uniqueIDs[uid]; dup {
			t.Errorf("components %s and %s share unique_id %q", id, other, uid)
		}
		uniqueIDs[uid] = id
		// The unique_id stays the same across restarts because it is made
		// only of configuration: the device id and the component id.
		if want := "messenger_104857600123456_" + id; uid != want {
			t.Errorf("component %s: unique_id %q, want %q", id, uid, want)
		}

		eid, _ := c["default_entity_id"].(string)
		if !strings.HasPrefix(eid, platform+".") || !validEntityID(eid) {
			t.Errorf("component %s: default_entity_id %q is not a valid %s entity id", id, eid, platform)
		}
		if other, dup := entityIDs[eid]; dup {
			t.Errorf("components %s and %s share default_entity_id %q", id, other, eid)
		}
		entityIDs[eid] = id

		// What automations act on (notify, and whether a person can be
		// reached) is a primary entity; the rest is diagnostic.
		primary := platform == "notify" || platform == "event" || strings.HasPrefix(id, "reachable_") || strings.HasPrefix(id, "window_until_")
		if !primary && c["entity_category"] != "diagnostic" {
			t.Errorf("component %s: entity_category %v, want diagnostic", id, c["entity_category"])
		}
		if primary && c["entity_category"] != nil {
			t.Errorf("component %s: entity_category %v, want none: automations use it", id, c["entity_category"])
		}
		for k, v := range c {
			topic, isTopic := v.(string)
			if !strings.HasSuffix(k, "_topic") || !isTopic {
				continue
			}
			if !strings.HasPrefix(topic, "messenger/") || strings.ContainsAny(topic, "+#") {
				t.Errorf("component %s: %s %q is not a plain topic under the base", id, k, topic)
			}
		}
	}
}
