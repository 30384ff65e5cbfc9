package bridge_test

import (
	"testing"

	"github.com/messenger-bridge/messenger-bridge/delivery"
)

// TestPageTokenWithTrailingNewline starts the bridge with the token as a
// file or an env file often leaves it, ending in a line break: the token
// is trimmed, so Graph calls carry a valid header and the message goes out.
func TestPageTokenWithTrailingNewline(t *testing.T) {
	h := newHarness(t, map[string]string{"FB_PAGE_TOKEN": pageToken + "\r\n"})
	h.client.Publish("messenger/notify/alice", "SMOKE ALARM kitchen")
	if r := h.result("alice"); r.Status != delivery.Sent || r.Attempts != 1 {
		t.Fatalf("result = %+v, want sent at the first attempt", r)
	}
}

// TestHATokenOnlyForPictures asks for Home Assistant's entity states as a
// picture: the request goes out without HA_TOKEN, so Home Assistant shows
// nothing of its API.
func TestHATokenOnlyForPictures(t *testing.T) {
	home := newHome(t)
	h := newHarness(t, home.env())
	h.client.Publish("messenger/notify/alice", `{"message": "states", "image": "/api/states"}`)
	h.result("alice")
	got := home.requests("/api/states")
	if len(got) == 0 {
		t.Fatal("Home Assistant got no request for /api/states")
	}
	for _, auth := range got {
		if auth != "" {
			t.Fatalf("Home Assistant got /api/states with Authorization %q", auth)
		}
	}
}
