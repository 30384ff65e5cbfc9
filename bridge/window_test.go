package bridge_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/messenger-bridge/messenger-bridge/delivery"
	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
	"github.com/messenger-bridge/messenger-bridge/message"
	"github.com/messenger-bridge/messenger-bridge/mqtttest"
)

// person is the retained JSON on messenger/person/<name>.
type person struct {
	WindowUntil  *time.Time `json:"window_until"`
	LastReceived *time.Time `json:"last_received"`
	Reachable    bool       `json:"reachable"`
}

// nextPerson waits for a publication on ch whose reachable is want.
func nextPerson(t *testing.T, ch <-chan mqtttest.Message, want bool) person {
	t.Helper()
	var p person
	mqtttest.Until(t, ch, func(m mqtttest.Message) bool {
		if err := json.Unmarshal(m.Payload, &p); err != nil {
			t.Fatalf("%s is not JSON: %q", m.Topic, m.Payload)
		}
		return p.Reachable == want
	})
	return p
}

func TestClosedWindowWithoutTemplate(t *testing.T) {
	h := newHarness(t, nil)
	h.graph.AddUserOutsideWindow(bobPSID)
	bob := h.client.Subscribe("messenger/person/bob")
	if p := nextPerson(t, bob, true); p.WindowUntil != nil || p.LastReceived != nil {
		t.Errorf("bob at start = %+v, want reachable with nothing known", p)
	}

	h.client.Publish("messenger/notify/bob", "The garage is open")
	r := h.result("bob")
	if r.Status != delivery.Failed || r.Attempts != 1 || r.Error.Code != 10 || r.Error.Subcode != 2018278 || r.Error.Retryable {
		t.Fatalf("result = %+v (error %+v), want failed once, 10/2018278, not retryable", r, r.Error)
	}
	for _, want := range []string{"Bob has not written to the page in 24 hours", "ask Bob to send the page any message", "FB_UTILITY_TEMPLATE"} {
		if !strings.Contains(r.Error.Hint, want) {
			t.Errorf("hint = %q, want it to contain %q", r.Error.Hint, want)
		}
	}
	if calls := h.graph.Calls(); calls != 1 {
		t.Errorf("Graph saw %d calls, want the one refused send", calls)
	}
	nextPerson(t, bob, false)

	// The next message does not spend a doomed Graph call.
	h.client.Publish("messenger/notify/bob", "The garage is still open")
	if r := h.result("bob"); r.Status != delivery.Failed || r.Error.Code != 10 || !strings.Contains(r.Error.Message, "not asked again") {
		t.Fatalf("second result = %+v (error %+v), want failed without asking Graph", r, r.Error)
	}
	if calls := h.graph.Calls(); calls != 1 {
		t.Errorf("Graph saw %d calls after the second message, want 1", calls)
	}
	// Alice is not affected.
	h.client.Publish("messenger/notify/alice", "hello")
	if r := h.result("alice"); r.Status != delivery.Sent {
		t.Fatalf("alice: %+v, want sent", r)
	}
}

// newTemplateHarness starts the bridge with FB_UTILITY_TEMPLATE home_alert,
// which the page holds in en_US with status before the bridge starts: it
// checks the template at start.
func newTemplateHarness(t *testing.T, status string) *harness {
	t.Helper()
	h := prepareHarness(t, mqtttest.Start(t), map[string]string{"FB_UTILITY_TEMPLATE": "home_alert"})
	h.graph.AddTemplate(graphtest.Template{Name: "home_alert", Language: "en_US", Status: status,
		Body: "Home alert: {{message}}. Reply here for details."})
	h.start()
	return h
}

func TestClosedWindowGoesThroughTemplate(t *testing.T) {
	h := newTemplateHarness(t, graphtest.TemplateApproved)
	h.graph.AddUserOutsideWindow(bobPSID)
	bob := h.client.Subscribe("messenger/person/bob")
	nextPerson(t, bob, true)

	h.client.Publish("messenger/notify/bob", `{"title": "Smoke", "message": "🔥 Kitchen\nat 45% #2", "camera": "camera.kitchen", "quick_replies": ["OK"]}`)
	r := h.result("bob")
	if r.Status != delivery.Sent || r.Via != delivery.ViaTemplate || len(r.MessageIDs) != 1 {
		t.Fatalf("result = %+v (error %+v), want sent via utility_template with one message", r, r.Error)
	}
	for _, want := range []string{"camera.kitchen", "quick replies", "utility template carries text only"} {
		if !strings.Contains(r.Note, want) {
			t.Errorf("note = %q, want it to name %q", r.Note, want)
		}
	}
	var sent *graphtest.Request
	for _, req := range h.graph.Requests() {
		if req.Template != nil {
			sent = &req
		}
	}
	if sent == nil {
		t.Fatalf("Graph accepted no template send: %+v", h.graph.Requests())
	}
	if sent.MessagingType != "UTILITY" || sent.Template.Name != "home_alert" || sent.Template.Language != "en_US" {
		t.Errorf("template send = %+v, want UTILITY home_alert en_US", sent)
	}
	if got, want := sent.Template.Params["message"], "Smoke - Kitchen - at 45 percent no. 2"; got != want {
		t.Errorf("template parameter = %q, want %q", got, want)
	}
	// Reachable all along: the template reaches bob.
	select {
	case m := <-bob:
		var p person
		if json.Unmarshal(m.Payload, &p) == nil && !p.Reachable {
			t.Errorf("bob published unreachable with a template configured: %s", m.Payload)
		}
	default:
	}
	// The next message goes straight to the template, without a doomed send.
	before := h.graph.Calls()
	h.client.Publish("messenger/notify/bob", "Smoke cleared")
	if r := h.result("bob"); r.Status != delivery.Sent || r.Via != delivery.ViaTemplate || r.Note != "" {
		t.Fatalf("second result = %+v, want sent via the template with no note", r)
	}
	if calls := h.graph.Calls() - before; calls != 1 {
		t.Errorf("second message made %d Graph calls, want 1", calls)
	}
}

func TestTemplateNotApprovedFailsWithHint(t *testing.T) {
	h := newTemplateHarness(t, graphtest.TemplatePending)
	h.graph.AddUserOutsideWindow(bobPSID)
	bob := h.client.Subscribe("messenger/person/bob")
	nextPerson(t, bob, true)
	h.client.Publish("messenger/notify/bob", "Door open")
	r := h.result("bob")
	if r.Status != delivery.Failed || r.Error.Code != 100 || r.Error.Retryable || r.Attempts != 1 {
		t.Fatalf("result = %+v (error %+v), want failed once with code 100", r, r.Error)
	}
	if !strings.Contains(r.Error.Message, "Template cannot be found") || !strings.Contains(r.Error.Hint, "messenger-bridge template check") {
		t.Errorf("error = %+v, want Graph's answer and a hint to check the template", r.Error)
	}
	// Neither the window nor the template reaches bob: an automation may
	// fall back to another notifier.
	nextPerson(t, bob, false)

	// Once Meta approves the template, it reaches bob again.
	h.graph.AddTemplate(graphtest.Template{Name: "home_alert", Language: "en_US", Status: graphtest.TemplateApproved,
		Body: "Home alert: {{message}}. Reply here for details."})
	h.client.Publish("messenger/notify/bob", "Door still open")
	if r := h.result("bob"); r.Status != delivery.Sent || r.Via != delivery.ViaTemplate {
		t.Fatalf("after the approval: %+v (error %+v), want sent via the template", r, r.Error)
	}
	nextPerson(t, bob, true)
}

func TestRestrictedPageHoldsEveryone(t *testing.T) {
	h := newHarness(t, nil)
	restricted := h.client.Subscribe("messenger/bridge/restricted")
	mqtttest.Until(t, restricted, func(m mqtttest.Message) bool { return string(m.Payload) == "OFF" })

	h.graph.FailNext(1, graphtest.PageRestricted)
	t0 := time.Now()
	h.client.Publish("messenger/notify/alice", "first")
	mqtttest.Until(t, restricted, func(m mqtttest.Message) bool { return string(m.Payload) == "ON" })
	h.client.Publish("messenger/notify/bob", "second")

	ra, rb := h.result("alice"), h.result("bob")
	if ra.Status != delivery.Sent || ra.Attempts != 2 || rb.Status != delivery.Sent || rb.Attempts != 1 {
		t.Fatalf("results alice %+v, bob %+v: want both sent, alice at the second attempt", ra, rb)
	}
	for _, req := range h.graph.Requests() {
		if held := req.At.Sub(t0); held < restrictedHold {
			t.Errorf("%s was sent %v after the restriction began, want at least the hold of %v", req.Text, held, restrictedHold)
		}
	}
	mqtttest.Until(t, restricted, func(m mqtttest.Message) bool { return string(m.Payload) == "OFF" })
}

// A text longer than a template's parameter may hold goes through the
// template in order, in parts that each fit.
func TestLongTextGoesThroughTemplateInParts(t *testing.T) {
	h := newTemplateHarness(t, graphtest.TemplateApproved)
	h.graph.AddUserOutsideWindow(bobPSID)
	words := make([]string, 500)
	for i := range words {
		words[i] = fmt.Sprintf("w%03d", i)
	}
	text := strings.Join(words, " ") // 2,499 characters
	h.client.Publish("messenger/notify/bob", text)
	r := h.result("bob")
	if r.Status != delivery.Sent || r.Via != delivery.ViaTemplate || len(r.MessageIDs) != 3 {
		t.Fatalf("result = %+v (error %+v), want sent via utility_template in 3 messages", r, r.Error)
	}
	var got []string
	for _, req := range h.graph.Requests() {
		if req.Template == nil {
			continue
		}
		p := req.Template.Params["message"]
		if n := utf8.RuneCountInString(p); n > message.MaxTemplateText {
			t.Errorf("a template parameter holds %d characters, want at most %d", n, message.MaxTemplateText)
		}
		got = append(got, p)
	}
	if strings.Join(got, " ") != text {
		t.Errorf("the template parts, joined, are not the text in order:\n%q", got)
	}
}
