package discovery

import (
	"encoding/json"
	"testing"
	"time"
)

func TestBlockedAttribute(t *testing.T) {
	// The key this list exists for: Home Assistant shows an entity's state
	// itself, never an attribute called state.
	for _, key := range []string{"state", "name", "friendly_name", "unit_of_measurement", "state_class"} {
		if !BlockedAttribute(key) {
			t.Errorf("%s is blocked by Home Assistant", key)
		}
	}
	for _, key := range []string{"token_state", "expires_at", "problem", "status", "error", "", "State"} {
		if BlockedAttribute(key) {
			t.Errorf("%q is not blocked by Home Assistant", key)
		}
	}
}

func TestTokenAttributesKeys(t *testing.T) {
	expires := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	full, err := json.Marshal(TokenAttributes{TokenState: "invalid", ExpiresAt: &expires, Problem: "the token expired"})
	if err != nil {
		t.Fatal(err)
	}
	got := decode(t, full)
	want := map[string]any{"token_state": "invalid", "expires_at": "2026-07-01T00:00:00Z", "problem": "the token expired"}
	if len(got) != len(want) {
		t.Errorf("attributes %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("attribute %s = %v, want %v", k, got[k], v)
		}
	}
	for k := range got {
		if BlockedAttribute(k) {
			t.Errorf("attribute %s: Home Assistant drops it", k)
		}
	}
	// A token that never expires and has no problem shows just its state.
	bare, _ := json.Marshal(TokenAttributes{TokenState: "valid"})
	if string(bare) != `{"token_state":"valid"}` {
		t.Errorf("attributes %s, want only token_state", bare)
	}
}
