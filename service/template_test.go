package service_test

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
	"github.com/messenger-bridge/messenger-bridge/logtest"
	"github.com/messenger-bridge/messenger-bridge/mqtttest"
)

// templateEnv configures the utility template home_alert in en_US.
var templateEnv = map[string]string{"FB_UTILITY_TEMPLATE": "home_alert", "FB_UTILITY_TEMPLATE_LANG": "en_US"}

// startWithTemplate starts the service with the page holding home_alert in
// en_US as status and reason say, with env overlaid on templateEnv, and
// returns its log.
func startWithTemplate(t *testing.T, g *graphtest.Server, broker *mqtttest.Broker, status, reason string, env map[string]string) *logtest.Buffer {
	t.Helper()
	g.AddTemplate(graphtest.Template{Name: "home_alert", Language: "en_US", Status: status, RejectedReason: reason,
		Body: "Home alert: {{message}}. Reply here for details."})
	logs := new(logtest.Buffer)
	start(t, load(t, broker, g, withTemplate(env)), logs)
	return logs
}

// withTemplate returns templateEnv overlaid with env.
func withTemplate(env map[string]string) map[string]string {
	all := maps.Clone(templateEnv)
	maps.Copy(all, env)
	return all
}

// templateLine waits for the log line of the template check at level.
func templateLine(t *testing.T, logs *logtest.Buffer, level string) string {
	t.Helper()
	line, ok := logs.Wait(mqtttest.Wait, func(l string) bool {
		return strings.Contains(l, `"level":"`+level+`"`) && strings.Contains(l, `"template":"home_alert"`)
	})
	if !ok {
		t.Fatalf("no %s line about the utility template at start; log:\n%s", level, logs.String())
	}
	return line
}

// An approved template is said so once, with no warning.
func TestTemplateCheckedAtStartApproved(t *testing.T) {
	g := graphtest.NewServer(t, pageToken)
	logs := startWithTemplate(t, g, mqtttest.Start(t), graphtest.TemplateApproved, "", nil)
	if line := templateLine(t, logs, "info"); !strings.Contains(line, "APPROVED") {
		t.Errorf("info line %s, want it to say APPROVED", line)
	}
	for l := range strings.Lines(logs.String()) {
		if strings.Contains(l, `"level":"warn"`) && strings.Contains(l, "template") {
			t.Errorf("a warning about an approved template: %s", l)
		}
	}
	if strings.Contains(logs.String(), pageToken) {
		t.Errorf("the log holds the page token:\n%s", logs.String())
	}
}

// A template under review gets a warning saying what fails until Meta
// approves it and how to check.
func TestTemplateCheckedAtStartPending(t *testing.T) {
	g := graphtest.NewServer(t, pageToken)
	logs := startWithTemplate(t, g, mqtttest.Start(t), graphtest.TemplatePending, "", nil)
	line := templateLine(t, logs, "warn")
	for _, want := range []string{"PENDING", "fail until Meta approves it", "messenger-bridge template check"} {
		if !strings.Contains(line, want) {
			t.Errorf("warning %s, want it to say %q", line, want)
		}
	}
}

// A rejected template gets a warning with Meta's reason and what to do,
// and a person whose window is known closed (they last wrote two days ago)
// is not reachable, before any message is sent.
func TestTemplateCheckedAtStartRejected(t *testing.T) {
	g := graphtest.NewServer(t, pageToken)
	g.SetPage("1122334455", "Our Home")
	g.AddIncoming(alicePSID, "Alice", graphtest.Incoming{MID: "m_old", Text: "hi", At: time.Now().Add(-48 * time.Hour)})
	g.AddUserOutsideWindow(alicePSID)
	broker := mqtttest.Start(t)
	person := broker.Connect(t).Subscribe("messenger/person/alice")
	logs := startWithTemplate(t, g, broker, graphtest.TemplateRejected, "INVALID_FORMAT", map[string]string{"RECEIVE": "poll", "WINDOW_KEEPALIVE": "0"})

	line := templateLine(t, logs, "warn")
	for _, want := range []string{"REJECTED", `"rejected_reason":"INVALID_FORMAT"`, "messenger-bridge template create"} {
		if !strings.Contains(line, want) {
			t.Errorf("warning %s, want it to say %q", line, want)
		}
	}
	mqtttest.Until(t, person, func(m mqtttest.Message) bool {
		var p struct {
			LastReceived *time.Time `json:"last_received"`
			Reachable    bool       `json:"reachable"`
		}
		return json.Unmarshal(m.Payload, &p) == nil && p.LastReceived != nil && !p.Reachable
	})
	if reqs := g.Requests(); len(reqs) != 0 {
		t.Errorf("sends %+v, want none: the check alone marks the template refused", reqs)
	}
}

// A page token without pages_utility_messaging gets a warning naming the
// permission, and the template is marked refused: no send can use it.
func TestTemplateCheckedAtStartWithoutPermission(t *testing.T) {
	g := graphtest.NewServer(t, pageToken)
	g.SetTokenInfo(pageToken, graphtest.TokenInfo{Type: "PAGE", Scopes: []string{"pages_messaging", "pages_show_list"}})
	g.AddTemplate(graphtest.Template{Name: "home_alert", Language: "en_US", Status: graphtest.TemplateApproved,
		Body: "Home alert: {{message}}. Reply here for details."})
	logs := new(logtest.Buffer)
	r := start(t, load(t, mqtttest.Start(t), g, withTemplate(nil)), logs)
	if line := templateLine(t, logs, "warn"); !strings.Contains(line, "lacks the pages_utility_messaging permission") {
		t.Errorf("warning %s, want it to name pages_utility_messaging", line)
	}
	if p := r.Reach().Person("alice"); p.TemplateRefused.IsZero() {
		t.Errorf("alice %+v: the template is not marked refused though the token cannot use it", p)
	}
}

// A Graph that cannot be reached gets an info line, and marks nothing.
func TestTemplateCheckedAtStartGraphUnreachable(t *testing.T) {
	g := graphtest.NewServer(t, pageToken)
	logs := new(logtest.Buffer)
	env := withTemplate(map[string]string{"FB_GRAPH_URL": "http://" + freeAddr(t)})
	r := start(t, load(t, mqtttest.Start(t), g, env), logs)
	if line := templateLine(t, logs, "info"); !strings.Contains(line, "cannot reach the Graph API") {
		t.Errorf("info line %s, want it to say Graph cannot be reached", line)
	}
	if p := r.Reach().Person("alice"); !p.TemplateRefused.IsZero() {
		t.Errorf("alice %+v: the template is marked refused though Graph was not reached", p)
	}
}
