package bridge_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/messenger-bridge/messenger-bridge/delivery"
	"github.com/messenger-bridge/messenger-bridge/message"
)

// TestTooManyTargetsIsOneRefusal sends one message naming 10,000 unknown
// people: one result comes back, on the topic for input that names no
// attributable recipient, and none on any other topic.
func TestTooManyTargetsIsOneRefusal(t *testing.T) {
	h := newHarness(t, nil)
	names := make([]string, 10000)
	for i := range names {
		names[i] = fmt.Sprintf(`"nobody%d"`, i)
	}
	h.client.Publish("messenger/notify", `{"id": "flood", "message": "hi", "target": [`+strings.Join(names, ",")+`]}`)
	r := h.result("")
	if r.Status != delivery.Failed || r.ID != "flood" || !strings.Contains(r.Error.Message, "at most 64 people and groups, got 10000") {
		t.Fatalf("result = %+v, want failed: at most 64", r)
	}
	// Results go out in order: once alice's comes, any other result of the
	// flood would have come before it.
	h.client.Publish("messenger/notify/alice", "after the flood")
	if r := h.result("alice"); r.Status != delivery.Sent {
		t.Fatalf("alice's result = %+v", r)
	}
	for topic, rs := range h.early {
		if len(rs) > 0 {
			t.Errorf("%d more results on %s, e.g. %+v", len(rs), topic, rs[0])
		}
	}
}

// TestLongTextIsCutAtTenMessages sends the longest text a payload holds:
// ten Send API calls, the last ending with the cut marker.
func TestLongTextIsCutAtTenMessages(t *testing.T) {
	h := newHarness(t, nil)
	text := strings.Repeat("Smoke alarm kitchen. ", (message.MaxPayload-64)/21)
	h.client.Publish("messenger/notify/alice", text)
	r := h.result("alice")
	if r.Status != delivery.Sent || len(r.MessageIDs) != message.MaxParts {
		t.Fatalf("result = %s with %d message ids, want sent with %d", r.Status, len(r.MessageIDs), message.MaxParts)
	}
	reqs := h.graph.Requests()
	if len(reqs) != message.MaxParts {
		t.Fatalf("Graph got %d calls, want %d", len(reqs), message.MaxParts)
	}
	if last := reqs[len(reqs)-1].Text; !strings.HasSuffix(last, message.CutMarker) || len([]rune(last)) > message.MaxTextLen {
		t.Errorf("last part (%d characters) ends %q, want it within %d and ending %q",
			len([]rune(last)), last[max(0, len(last)-60):], message.MaxTextLen, message.CutMarker)
	}
}

// TestDeepJSONIsRefused sends an object nested past what a JSON decoder
// reads: it is refused with one result, not sent as pages of brackets.
func TestDeepJSONIsRefused(t *testing.T) {
	h := newHarness(t, nil)
	h.client.Publish("messenger/notify/alice", `{"message": "door", "x": `+strings.Repeat("[", 20000)+strings.Repeat("]", 20000)+`}`)
	r := h.result("alice")
	if r.Status != delivery.Failed || !strings.Contains(r.Error.Message, "nested more than") {
		t.Fatalf("result = %+v, want failed: nested too deeply", r)
	}
	if n := len(h.graph.Requests()); n != 0 {
		t.Errorf("Graph got %d calls for a refused payload", n)
	}
}
