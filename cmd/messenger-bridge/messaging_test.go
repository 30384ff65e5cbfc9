package main

import (
	"strings"
	"testing"

	"github.com/messenger-bridge/messenger-bridge/delivery"
	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
)

// A retired tag stops the service before it connects anywhere: exit status
// 2 and one line naming the tag, the date and what to do.
func TestRetiredTagStopsStart(t *testing.T) {
	for _, tag := range []string{"ACCOUNT_UPDATE", "confirmed_event_update", "POST_PURCHASE_UPDATE"} {
		t.Run(tag, func(t *testing.T) {
			useEnv(t, map[string]string{
				"FB_PAGE_TOKEN": setupPageToken, "RECIPIENTS": "alice:" + alicePSID,
				"FB_MESSAGING_TYPE": "MESSAGE_TAG", "FB_MESSAGE_TAG": tag,
				"MQTT_URL": "tcp://127.0.0.1:1", "DATA_DIR": t.TempDir(),
			})
			code, out, errOut := runCmd(t, nil, "run")
			if code != exitUsage {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitUsage, errOut)
			}
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			if len(lines) != 1 || out != "" {
				t.Fatalf("want one line on stderr and nothing on stdout, got stdout %q, stderr:\n%s", out, errOut)
			}
			for _, want := range []string{"FB_MESSAGE_TAG", strings.ToUpper(tag), "2026-04-27", "FB_MESSAGING_TYPE=UPDATE", "FB_UTILITY_TEMPLATE"} {
				if !strings.Contains(lines[0], want) {
					t.Errorf("line %q does not say %q", lines[0], want)
				}
			}
		})
	}
}

// HUMAN_AGENT is accepted, with a warning, and sent as that tag.
func TestHumanAgentWarns(t *testing.T) {
	s := newFakeGraph(t)
	s.AddUserOutsideWindow(alicePSID)
	sendEnv(t, s, map[string]string{"FB_MESSAGING_TYPE": "MESSAGE_TAG", "FB_MESSAGE_TAG": "HUMAN_AGENT"})
	code, out, errOut := runCmd(t, nil, "send", "alice", "Answered by a person")
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	if !strings.Contains(errOut, "HUMAN_AGENT needs the Human Agent permission") {
		t.Errorf("stderr does not warn of HUMAN_AGENT:\n%s", errOut)
	}
	if r := sendResults(t, out)["alice"]; r.Status != delivery.Sent {
		t.Errorf("result %+v, want sent", r)
	}
	if reqs := s.Requests(); len(reqs) != 1 || reqs[0].MessagingType != "MESSAGE_TAG" || reqs[0].Tag != "HUMAN_AGENT" {
		t.Errorf("Graph got %+v, want one MESSAGE_TAG HUMAN_AGENT send", reqs)
	}
}

// The send command reaches a person whose window is closed through the
// template, as the service does.
func TestSendThroughTemplate(t *testing.T) {
	s := newFakeGraph(t)
	s.AddUserOutsideWindow(alicePSID)
	s.AddTemplate(graphtest.Template{Name: "door_alert", Language: "de_DE", Status: graphtest.TemplateApproved,
		Body: "Hausalarm: {{message}}. Antworte hier."})
	sendEnv(t, s, map[string]string{"FB_UTILITY_TEMPLATE": "door_alert", "FB_UTILITY_TEMPLATE_LANG": "de_DE"})
	code, out, errOut := runCmd(t, nil, "send", "alice", "Tür offen")
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	if r := sendResults(t, out)["alice"]; r.Status != delivery.Sent || r.Via != delivery.ViaTemplate {
		t.Errorf("result %+v, want sent via the template", r)
	}
	reqs := s.Requests()
	if len(reqs) != 1 || reqs[0].Template == nil || reqs[0].Template.Text != "Hausalarm: Tür offen. Antworte hier." {
		t.Errorf("Graph got %+v, want the template with the text filled in", reqs)
	}
}
