package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// An option is one key of the add-on's options.json (config.yaml's schema)
// and the variable of SPEC section 1 it sets.
type option struct {
	key      string
	variable string
	// format turns the option's JSON value into the variable's text; ""
	// leaves the variable unset.
	format func(json.RawMessage) (string, error)
}

// options lists every option of the add-on, in config.yaml's order.
var options = []option{
	{"page_token", "FB_PAGE_TOKEN", scalar},
	{"app_secret", "FB_APP_SECRET", scalar},
	{"recipients", "RECIPIENTS", recipients},
	{"groups", "GROUPS", groups},
	{"messaging_type", "FB_MESSAGING_TYPE", scalar},
	{"message_tag", "FB_MESSAGE_TAG", scalar},
	{"utility_template", "FB_UTILITY_TEMPLATE", scalar},
	{"utility_template_lang", "FB_UTILITY_TEMPLATE_LANG", scalar},
	{"receive", "RECEIVE", scalar},
	{"poll_interval", "POLL_INTERVAL", scalar},
	{"verify_token", "FB_VERIFY_TOKEN", scalar},
	{"window_keepalive", "WINDOW_KEEPALIVE", scalar},
	{"window_keepalive_text", "WINDOW_KEEPALIVE_TEXT", scalar},
	{"mqtt_url", "MQTT_URL", scalar},
	{"mqtt_username", "MQTT_USERNAME", scalar},
	{"mqtt_password", "MQTT_PASSWORD", scalar},
	{"mqtt_client_id", "MQTT_CLIENT_ID", scalar},
	{"base_topic", "MQTT_BASE_TOPIC", scalar},
	{"discovery", "HA_DISCOVERY", scalar},
	{"discovery_prefix", "HA_DISCOVERY_PREFIX", scalar},
	{"ha_url", "HA_URL", scalar},
	{"ha_token", "HA_TOKEN", scalar},
	{"media_dirs", "MEDIA_DIRS", list},
	{"message_ttl", "MESSAGE_TTL", scalar},
	{"outbox_max", "OUTBOX_MAX", scalar},
	{"outbox_max_bytes", "OUTBOX_MAX_BYTES", scalar},
	{"send_rate", "SEND_RATE", scalar},
	{"log_level", "LOG_LEVEL", scalar},
}

// scalar is a string, number or boolean as written; null is unset.
func scalar(raw json.RawMessage) (string, error) {
	var v any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber() // 10000 stays 10000, not 1e+04
	if err := d.Decode(&v); err != nil {
		return "", err
	}
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return strings.TrimSpace(v), nil
	case json.Number:
		return v.String(), nil
	case bool:
		return fmt.Sprint(v), nil
	default:
		return "", errors.New("want a text, a number or true/false")
	}
}

// list joins a list of texts with commas, as MEDIA_DIRS takes them.
func list(raw json.RawMessage) (string, error) {
	var items []string
	if err := json.Unmarshal(raw, &items); err != nil {
		return "", errors.New("want a list of texts")
	}
	var kept []string
	for _, it := range items {
		if it = strings.TrimSpace(it); it != "" {
			kept = append(kept, it)
		}
	}
	return strings.Join(kept, ","), nil
}

// recipients turns [{"name": "alice", "psid": "264…"}] into RECIPIENTS'
// "alice:264…". The bridge checks names and PSIDs.
func recipients(raw json.RawMessage) (string, error) {
	var people []struct{ Name, PSID string }
	if err := json.Unmarshal(raw, &people); err != nil {
		return "", errors.New("want a list of entries with a name and a psid")
	}
	pairs := make([]string, len(people))
	for i, p := range people {
		pairs[i] = strings.TrimSpace(p.Name) + ":" + strings.TrimSpace(p.PSID)
	}
	return strings.Join(pairs, ","), nil
}

// groups turns [{"name": "family", "members": "alice, bob"}] into GROUPS'
// "family:alice+bob". Members may be separated by commas, plus signs or
// spaces, whichever a person types.
func groups(raw json.RawMessage) (string, error) {
	var gs []struct{ Name, Members string }
	if err := json.Unmarshal(raw, &gs); err != nil {
		return "", errors.New("want a list of entries with a name and members")
	}
	pairs := make([]string, len(gs))
	for i, g := range gs {
		members := strings.FieldsFunc(g.Members, func(r rune) bool {
			return r == ',' || r == '+' || r == ' ' || r == '\t'
		})
		pairs[i] = strings.TrimSpace(g.Name) + ":" + strings.Join(members, "+")
	}
	return strings.Join(pairs, ","), nil
}
