package discovery

import (
	"bytes"
	"encoding/json"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func testDevice() Device {
	return Device{
		Prefix:     "homeassistant",
		Base:       "messenger",
		NodeID:     "104857600123456",
		Name:       "Home Alerts",
		Version:    "1.2.3",
		SupportURL: "https://github.com/messenger-bridge/messenger-bridge",
		Receiving:  true,
	}
}

// testEntities are two people and a group.
var testEntities = []Entity{{Name: "alice"}, {Name: "bob_smith"}, {Name: "family", Group: true}}

// decode parses a payload the way a test wants to look at it.
func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("payload is not a JSON object: %v\n%s", err, b)
	}
	return m
}

func components(t *testing.T, b []byte) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for id, c := range decode(t, b)["components"].(map[string]any) {
		out[id] = c.(map[string]any)
	}
	return out
}

func TestConfigGolden(t *testing.T) {
	got, err := Config(testDevice(), testEntities, nil)
	if err != nil {
		t.Fatal(err)
	}
	var indented bytes.Buffer
	if err := json.Indent(&indented, got, "", "  "); err != nil {
		t.Fatal(err)
	}
	indented.WriteByte('\n')
	golden := filepath.Join("testdata", "config.golden.json")
	if *update {
		if err := os.WriteFile(golden, indented.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(indented.Bytes(), want) {
		t.Errorf("Config differs from %s (go test -update rewrites it):\n%s", golden, indented.Bytes())
	}
}

// The payload is retained and republished on every Home Assistant restart;
// identical input must give identical bytes, whatever the order of entities.
func TestConfigIsDeterministic(t *testing.T) {
	first, err := Config(testDevice(), testEntities, nil)
	if err != nil {
		t.Fatal(err)
	}
	reversed := slices.Clone(testEntities)
	slices.Reverse(reversed)
	for range 20 {
		for _, es := range [][]Entity{testEntities, reversed} {
			again, err := Config(testDevice(), es, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(first, again) {
				t.Fatalf("Config is not deterministic:\n%s\n%s", first, again)
			}
		}
	}
}

func TestConfigValues(t *testing.T) {
	got, err := Config(testDevice(), testEntities, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := decode(t, got)
	wantDevice := map[string]any{
		"identifiers":  []any{"messenger_104857600123456"},
		"name":         "Home Alerts",
		"manufacturer": "messenger-bridge",
		"model":        "Messenger bridge",
		"sw_version":   "1.2.3",
	}
	if !reflect.DeepEqual(p["device"], wantDevice) {
		t.Errorf("device = %v, want %v", p["device"], wantDevice)
	}
	wantOrigin := map[string]any{
		"name":        "messenger-bridge",
		"sw_version":  "1.2.3",
		"support_url": "https://github.com/messenger-bridge/messenger-bridge",
	}
	if !reflect.DeepEqual(p["origin"], wantOrigin) {
		t.Errorf("origin = %v, want %v", p["origin"], wantOrigin)
	}

	available := map[string]any{
		"availability_topic":    "messenger/bridge/state",
		"payload_available":     "online",
		"payload_not_available": "offline",
	}
	with := func(m map[string]any, extra map[string]any) map[string]any {
		out := map[string]any{}
		for _, src := range []map[string]any{m, extra} {
			for k, v := range src {
				out[k] = v
			}
		}
		return out
	}
	notify := func(name, display, object string) map[string]any {
		return with(available, map[string]any{
			"platform":          "notify",
			"name":              display,
			"unique_id":         "messenger_104857600123456_notify_" + name,
			"default_entity_id": "notify." + object,
			"icon":              "mdi:facebook-messenger",
			"command_topic":     "messenger/notify/" + name,
			"qos":               1.0,
			"retain":            false,
		})
	}
	lastResult := func(name, display, object string) map[string]any {
		return with(available, map[string]any{
			"platform":              "sensor",
			"name":                  display + " last result",
			"unique_id":             "messenger_104857600123456_last_result_" + name,
			"default_entity_id":     "sensor." + object + "_last_result",
			"entity_category":       "diagnostic",
			"icon":                  "mdi:message-check",
			"state_topic":           "messenger/result/" + name,
			"value_template":        "{{ value_json.status }}",
			"json_attributes_topic": "messenger/result/" + name,
		})
	}
	want := map[string]map[string]any{
		"notify_alice":          notify("alice", "Alice", "messenger_alice"),
		"notify_bob_smith":      notify("bob_smith", "Bob Smith", "messenger_bob_smith"),
		"notify_family":         notify("family", "Family", "messenger_family"),
		"last_result_alice":     lastResult("alice", "Alice", "messenger_alice"),
		"last_result_bob_smith": lastResult("bob_smith", "Bob Smith", "messenger_bob_smith"),
		"connection": {
			// No availability: the entity must be able to show "offline".
			"platform":          "binary_sensor",
			"name":              "Connection",
			"unique_id":         "messenger_104857600123456_connection",
			"default_entity_id": "binary_sensor.messenger_connection",
			"entity_category":   "diagnostic",
			"device_class":      "connectivity",
			"state_topic":       "messenger/bridge/state",
			"payload_on":        "online",
			"payload_off":       "offline",
		},
		"token_problem": with(available, map[string]any{
			"platform":              "binary_sensor",
			"name":                  "Page token",
			"unique_id":             "messenger_104857600123456_token_problem",
			"default_entity_id":     "binary_sensor.messenger_page_token",
			"entity_category":       "diagnostic",
			"device_class":          "problem",
			"state_topic":           "messenger/bridge/token/problem",
			"json_attributes_topic": "messenger/bridge/token",
			"payload_on":            "ON",
			"payload_off":           "OFF",
		}),
		"token_expiry": with(available, map[string]any{
			"platform":          "sensor",
			"name":              "Page token expiry",
			"unique_id":         "messenger_104857600123456_token_expiry",
			"default_entity_id": "sensor.messenger_page_token_expiry",
			"entity_category":   "diagnostic",
			"device_class":      "timestamp",
			"state_topic":       "messenger/bridge/token/expires",
		}),
		"page_restricted": with(available, map[string]any{
			"platform":          "binary_sensor",
			"name":              "Page restricted",
			"unique_id":         "messenger_104857600123456_page_restricted",
			"default_entity_id": "binary_sensor.messenger_page_restricted",
			"entity_category":   "diagnostic",
			"device_class":      "problem",
			"state_topic":       "messenger/bridge/restricted",
			"payload_on":        "ON",
			"payload_off":       "OFF",
		}),
	}
	for _, p := range []struct{ name, display string }{{"alice", "Alice"}, {"bob_smith", "Bob Smith"}} {
		want["reachable_"+p.name] = with(available, map[string]any{
			"platform":              "binary_sensor",
			"name":                  p.display + " reachable",
			"unique_id":             "messenger_104857600123456_reachable_" + p.name,
			"default_entity_id":     "binary_sensor.messenger_" + p.name + "_reachable",
			"icon":                  "mdi:account-check",
			"state_topic":           "messenger/person/" + p.name,
			"json_attributes_topic": "messenger/person/" + p.name,
			"value_template":        "{{ 'ON' if value_json.reachable else 'OFF' }}",
			"payload_on":            "ON",
			"payload_off":           "OFF",
		})
		want["received_"+p.name] = with(available, map[string]any{
			"platform":          "event",
			"name":              p.display + " message",
			"unique_id":         "messenger_104857600123456_received_" + p.name,
			"default_entity_id": "event.messenger_" + p.name + "_message",
			"icon":              "mdi:facebook-messenger",
			"state_topic":       "messenger/received/" + p.name,
			"event_types":       []any{"message", "quick_reply", "postback", "reaction"},
		})
		want["window_until_"+p.name] = with(available, map[string]any{
			"platform":          "sensor",
			"name":              p.display + " messaging window until",
			"unique_id":         "messenger_104857600123456_window_until_" + p.name,
			"default_entity_id": "sensor.messenger_" + p.name + "_messaging_window_until",
			"device_class":      "timestamp",
			"state_topic":       "messenger/person/" + p.name,
			"value_template":    "{{ value_json.window_until or 'None' }}",
		})
	}
	gotCmps := components(t, got)
	if len(gotCmps) != len(want) {
		t.Errorf("got components %v, want %d: a group has no last result, event, reachable or window entity", slices.Sorted(maps.Keys(gotCmps)), len(want))
	}
	for id, w := range want {
		if !reflect.DeepEqual(gotCmps[id], w) {
			t.Errorf("component %s:\n got %v\nwant %v", id, gotCmps[id], w)
		}
	}
}

func TestDeviceNameFallback(t *testing.T) {
	d := testDevice()
	d.Name = ""
	got, err := Config(d, testEntities, nil)
	if err != nil {
		t.Fatal(err)
	}
	if name := decode(t, got)["device"].(map[string]any)["name"]; name != "Messenger" {
		t.Errorf("device name = %v, want Messenger", name)
	}
}

func TestNodeIDSanitised(t *testing.T) {
	tests := []struct {
		base, node, wantID string
	}{
		{"messenger", "104857600123456", "messenger_104857600123456"},
		{"messenger", "Bridge-1_a", "messenger_Bridge-1_a"},
		{"messenger", "bridge 1/x.y", "messenger_bridge_1_x_y"},
		{"messenger", "brücke+#", "messenger_br_cke__"},
		{"home/messenger", "client", "home_messenger_client"},
	}
	for _, tt := range tests {
		d := Device{Prefix: "homeassistant", Base: tt.base, NodeID: tt.node}
		if got := d.ID(); got != tt.wantID {
			t.Errorf("ID(%q, %q) = %q, want %q", tt.base, tt.node, got, tt.wantID)
		}
		if got, want := d.Topic(), "homeassistant/device/"+tt.wantID+"/config"; got != want {
			t.Errorf("Topic(%q, %q) = %q, want %q", tt.base, tt.node, got, want)
		}
		b, err := Config(d, []Entity{{Name: "alice"}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if ids := decode(t, b)["device"].(map[string]any)["identifiers"]; !reflect.DeepEqual(ids, []any{tt.wantID}) {
			t.Errorf("identifiers = %v, want [%s]", ids, tt.wantID)
		}
		c := components(t, b)["notify_alice"]
		if c["unique_id"] != tt.wantID+"_notify_alice" {
			t.Errorf("unique_id = %v, want %s_notify_alice", c["unique_id"], tt.wantID)
		}
		// Topics keep the base as configured; only the id is sanitised.
		if c["command_topic"] != tt.base+"/notify/alice" {
			t.Errorf("command_topic = %v, want %s/notify/alice", c["command_topic"], tt.base)
		}
	}
}

// Names may hold "-" and repeated "_", which Home Assistant's entity ids do
// not allow; display names split on both.
func TestNamesWithSeparators(t *testing.T) {
	tests := []struct {
		name, display, entityID string
	}{
		{"alice", "Alice", "notify.messenger_alice"},
		{"alice_smith", "Alice Smith", "notify.messenger_alice_smith"},
		{"bob-smith", "Bob Smith", "notify.messenger_bob_smith"},
		{"r2d2", "R2d2", "notify.messenger_r2d2"},
		{"a__b_", "A B", "notify.messenger_a_b"},
		{"_", "_", "notify.messenger"},
	}
	for _, tt := range tests {
		b, err := Config(testDevice(), []Entity{{Name: tt.name}}, nil)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		c := components(t, b)["notify_"+tt.name]
		if c["name"] != tt.display || c["default_entity_id"] != tt.entityID {
			t.Errorf("%q: name %v, default_entity_id %v; want %q, %q", tt.name, c["name"], c["default_entity_id"], tt.display, tt.entityID)
		}
		if !validEntityID(tt.entityID) {
			t.Errorf("%q: %s is not a valid Home Assistant entity id", tt.name, tt.entityID)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	ok := testDevice()
	with := func(f func(*Device)) Device { d := ok; f(&d); return d }
	tests := []struct {
		what     string
		d        Device
		entities []Entity
		removed  []string
	}{
		{"no prefix", with(func(d *Device) { d.Prefix = "" }), testEntities, nil},
		{"no base", with(func(d *Device) { d.Base = "" }), testEntities, nil},
		{"wildcard in base", with(func(d *Device) { d.Base = "messenger/#" }), testEntities, nil},
		{"wildcard in prefix", with(func(d *Device) { d.Prefix = "home+" }), testEntities, nil},
		{"no node id", with(func(d *Device) { d.NodeID = "" }), testEntities, nil},
		{"relative support URL", with(func(d *Device) { d.SupportURL = "/bridge" }), testEntities, nil},
		{"ftp support URL", with(func(d *Device) { d.SupportURL = "ftp://example.com/" }), testEntities, nil},
		{"URL without host", with(func(d *Device) { d.SupportURL = "https://" }), testEntities, nil},
		{"empty name", ok, []Entity{{Name: ""}}, nil},
		{"upper case name", ok, []Entity{{Name: "Alice"}}, nil},
		{"topic character in name", ok, []Entity{{Name: "a/b"}}, nil},
		{"name too long", ok, []Entity{{Name: strings.Repeat("a", 65)}}, nil},
		{"person twice", ok, []Entity{{Name: "alice"}, {Name: "alice"}}, nil},
		{"group named like a person", ok, []Entity{{Name: "alice"}, {Name: "alice", Group: true}}, nil},
		{"removed but configured", ok, testEntities, []string{"notify_alice"}},
		{"removed diagnostic still configured", ok, testEntities, []string{"connection"}},
		{"unknown removed id", ok, testEntities, []string{"switch_x"}},
	}
	for _, tt := range tests {
		if b, err := Config(tt.d, tt.entities, tt.removed); err == nil {
			t.Errorf("%s: Config succeeded, want an error:\n%s", tt.what, b)
		}
	}
	// Accepted URL forms, for contrast.
	for _, u := range []string{"https://example.com", "http://10.0.0.2:8080/x", "homeassistant://config/integrations"} {
		if _, err := Config(with(func(d *Device) { d.SupportURL = u }), testEntities, nil); err != nil {
			t.Errorf("support URL %q: %v", u, err)
		}
	}
	if _, err := Config(ok, []Entity{{Name: strings.Repeat("a", 64)}}, nil); err != nil {
		t.Errorf("64-character name: %v", err)
	}
}
