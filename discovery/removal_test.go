package discovery

import (
	"reflect"
	"testing"
)

// Home Assistant's documentation on device-based discovery
// (https://www.home-assistant.io/integrations/mqtt/#device-discovery-payload):
//
//	"An empty config can be published as an update to remove a single
//	component from the device discovery. Note that adding the platform (p)
//	option is still required."
//	[example: "some_unique_id2": {"p": "sensor"}]
//	"This will explicitly remove the humidity sensor and its entry."
//	"After removing a component, you should send another update with the
//	removed component omitted from the configuration."
//
// and the code, homeassistant/components/mqtt/discovery.py,
// async_discovery_message_received: "component = config.pop(CONF_PLATFORM)
// ... If the dict is empty after removing the platform, the payload is
// assumed to remove the existing config". schemas.py check_unique_id asks for
// a unique_id only when "len(config.keys()) > 1", so {"platform": ...} alone
// passes DEVICE_DISCOVERY_SCHEMA.

func TestRemovedRecipientIsRemoved(t *testing.T) {
	d := testDevice()
	before := []Entity{{Name: "alice"}, {Name: "carol"}, {Name: "family", Group: true}, {Name: "kids", Group: true}}
	after := []Entity{{Name: "alice"}, {Name: "family", Group: true}}

	previous, err := Config(d, before, nil)
	if err != nil {
		t.Fatal(err)
	}
	removed := Removed(previous, d, after)
	// A person has a notify entity, a last result sensor and the window's
	// two entities; a group only the notify entity.
	if want := []string{"last_result_carol", "notify_carol", "notify_kids", "reachable_carol", "received_carol", "window_until_carol"}; !reflect.DeepEqual(removed, want) {
		t.Fatalf("Removed = %q, want %q", removed, want)
	}

	cleanup, err := Config(d, after, removed)
	if err != nil {
		t.Fatal(err)
	}
	cmps := components(t, cleanup)
	for id, platform := range map[string]string{
		"notify_carol":      "notify",
		"last_result_carol": "sensor",
		"notify_kids":       "notify",
	} {
		if want := map[string]any{"platform": platform}; !reflect.DeepEqual(cmps[id], want) {
			t.Errorf("component %s = %v, want %v", id, cmps[id], want)
		}
	}
	if cmps["notify_alice"]["command_topic"] != "messenger/notify/alice" {
		t.Errorf("alice lost her configuration: %v", cmps["notify_alice"])
	}

	// What was published is remembered without the removed components...
	live, err := Components(cleanup)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"connection", "last_result_alice", "notify_alice", "notify_family", "page_restricted", "reachable_alice", "received_alice", "token_expiry", "token_problem", "window_until_alice"}
	if !reflect.DeepEqual(live, want) {
		t.Errorf("Components(cleanup) = %q, want %q", live, want)
	}
	// ...so neither the cleanup payload nor the final one found at the next
	// start asks for them to be removed again.
	final, err := Config(d, after, nil)
	if err != nil {
		t.Fatal(err)
	}
	for what, p := range map[string][]byte{"cleanup": cleanup, "final": final} {
		if got := Removed(p, d, after); got != nil {
			t.Errorf("Removed(%s) = %q, want nil", what, got)
		}
	}
	if _, found := components(t, final)["notify_carol"]; found {
		t.Errorf("final payload still names carol")
	}
}

func TestRemovedReadsAbbreviations(t *testing.T) {
	previous := []byte(`{"dev":{"ids":["messenger_104857600123456"]},"o":{"name":"messenger-bridge"},
		"cmps":{"notify_carol":{"p":"notify","uniq_id":"messenger_104857600123456_notify_carol","cmd_t":"messenger/notify/carol"},
		"notify_dave":{"p":"notify"}}}`)
	got := Removed(previous, testDevice(), testEntities)
	if want := []string{"notify_carol"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Removed = %q, want %q", got, want)
	}
}

func TestRemovedWithoutUsablePrevious(t *testing.T) {
	for _, previous := range []string{
		"",
		"not json",
		"[]",
		`"string"`,
		`{}`,
		`{"components": 5}`,
		`{"components": {"notify_carol": "x"}}`,
		// An id this version cannot place on a platform is left alone.
		`{"components": {"switch_x": {"platform": "switch", "unique_id": "x"}}}`,
	} {
		if got := Removed([]byte(previous), testDevice(), testEntities); got != nil {
			t.Errorf("Removed(%q) = %q, want nil", previous, got)
		}
	}
	// Nor when the new configuration is one Config refuses.
	previous, err := Config(testDevice(), []Entity{{Name: "carol"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := Removed(previous, testDevice(), []Entity{{Name: "Not Valid"}}); got != nil {
		t.Errorf("Removed with invalid entities = %q, want nil", got)
	}
}

func TestComponentsRejectsInvalidJSON(t *testing.T) {
	if ids, err := Components([]byte("{")); err == nil {
		t.Errorf("Components(%q) = %q, want an error", "{", ids)
	}
}
