package graphtest_test

import (
	"encoding/json"
	"testing"

	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
)

// TestOutage checks that an outage fails every send, and each reaches
// Failed, until it is lifted.
func TestOutage(t *testing.T) {
	s := newServer(t)
	body := `{"recipient":{"id":"` + psid + `"},"messaging_type":"UPDATE","message":{"text":"hi"}}`
	s.SetOutage(&graphtest.Unavailable)
	for range 3 {
		if a := sendJSON(t, s, "/v25.0/me/messages", body); a.status != 503 || a.Error.Code != 2 || !a.Error.Transient {
			t.Fatalf("answer %d %+v during the outage, want 503 code 2, transient", a.status, a.Error)
		}
	}
	s.SetOutage(nil)
	if a := sendJSON(t, s, "/v25.0/me/messages", body); a.status != 200 || a.MessageID == "" {
		t.Fatalf("answer %d %+v after the outage, want a message id", a.status, a.Error)
	}
	if n := len(s.Failed()); n != 3 {
		t.Errorf("Failed holds %d calls, want the 3 of the outage", n)
	}
}

// TestUsageHeaders checks the usage headers of answers, as Graph writes
// them: X-App-Usage, and X-Business-Use-Case-Usage by page id.
func TestUsageHeaders(t *testing.T) {
	s := newServer(t)
	body := `{"recipient":{"id":"` + psid + `"},"messaging_type":"UPDATE","message":{"text":"hi"}}`
	if a := sendJSON(t, s, "/v25.0/me/messages", body); a.header.Get("X-App-Usage") != "" || a.header.Get("X-Business-Use-Case-Usage") != "" {
		t.Errorf("usage headers %v before SetUsage, want none", a.header)
	}
	s.SetUsage(graphtest.Usage{App: graphtest.Share{CallCount: 28, TotalCPUTime: 25, TotalTime: 25},
		Page: graphtest.Share{CallCount: 96}, RegainMinutes: 5})
	a := sendJSON(t, s, "/v25.0/me/messages", body)
	var app map[string]int
	if err := json.Unmarshal([]byte(a.header.Get("X-App-Usage")), &app); err != nil ||
		app["call_count"] != 28 || app["total_cputime"] != 25 || app["total_time"] != 25 {
		t.Errorf("X-App-Usage %q (%v)", a.header.Get("X-App-Usage"), err)
	}
	var buc map[string][]struct {
		Type      string `json:"type"`
		CallCount int    `json:"call_count"`
		Regain    int    `json:"estimated_time_to_regain_access"`
	}
	if err := json.Unmarshal([]byte(a.header.Get("X-Business-Use-Case-Usage")), &buc); err != nil ||
		len(buc[pageID]) != 1 || buc[pageID][0].Type != "messenger" || buc[pageID][0].CallCount != 96 || buc[pageID][0].Regain != 5 {
		t.Errorf("X-Business-Use-Case-Usage %q (%v)", a.header.Get("X-Business-Use-Case-Usage"), err)
	}
}
