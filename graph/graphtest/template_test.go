package graphtest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
)

// homeAlert is the body of the template the bridge creates.
const homeAlert = "Home alert: {{message}}. Reply here for details."

// templateAnswer is a decoded answer of a template endpoint.
type templateAnswer struct {
	status int
	Error  struct {
		Message   string `json:"message"`
		Code      int    `json:"code"`
		Subcode   int    `json:"error_subcode"`
		UserTitle string `json:"error_user_title"`
		FBTraceID string `json:"fbtrace_id"`
	} `json:"error"`
	ID       string `json:"id"`
	Status   string `json:"status"`
	Category string `json:"category"`
	Data     []map[string]string
	Paging   struct {
		Cursors struct{ After string }
		Next    string
	}
}

func templateCall(t *testing.T, s *graphtest.Server, method, path, body string) templateAnswer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a := templateAnswer{status: resp.StatusCode}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("%s %s: answer is not JSON: %v", method, path, err)
	}
	return a
}

// templateBody is a create call for a NAMED template with one BODY.
func templateBody(name, lang, text string, examples map[string]string) string {
	var ex []map[string]string
	for k, v := range examples {
		ex = append(ex, map[string]string{"param_name": k, "example": v})
	}
	b, _ := json.Marshal(map[string]any{
		"name": name, "language": lang, "category": "UTILITY", "parameter_format": "NAMED",
		"components": []map[string]any{{"type": "BODY", "text": text, "example": map[string]any{"body_text_named_params": ex}}},
	})
	return string(b)
}

func createTemplate(t *testing.T, s *graphtest.Server, body string) templateAnswer {
	t.Helper()
	return templateCall(t, s, http.MethodPost, "/v25.0/me/message_templates", body)
}

func listTemplates(t *testing.T, s *graphtest.Server, query url.Values) templateAnswer {
	t.Helper()
	return templateCall(t, s, http.MethodGet, "/v25.0/"+pageID+"/message_templates?"+query.Encode(), "")
}

func TestCreateTemplateChecks(t *testing.T) {
	msg := map[string]string{"message": "Front door opened"}
	raw := func(fields string) string {
		return `{"name":"home_alert","language":"en_US","category":"UTILITY","parameter_format":"NAMED"` + fields + `}`
	}
	tests := []struct {
		name          string
		body          string
		code, subcode int
		message       string // in the error's message or error_user_title
	}{
		{"the bridge's template", templateBody("home_alert", "en_US", homeAlert, msg), 0, 0, ""},
		{"no parameter", templateBody("plain", "en", "The house is fine.", nil), 0, 0, ""},
		{"positional", `{"name":"pos","language":"en_US","category":"UTILITY","components":[{"type":"BODY","text":"Alert at home: {{1}}, see the app.","example":{"body_text":[["door"]]}}]}`, 0, 0, ""},
		{"no name", templateBody("", "en_US", homeAlert, msg), 100, 0, "name"},
		{"upper-case name", templateBody("Home_Alert", "en_US", homeAlert, msg), 100, 0, "lowercase"},
		{"name of 513", templateBody(strings.Repeat("a", 513), "en_US", homeAlert, msg), 100, 0, "512"},
		{"bad language", templateBody("home_alert", "english", homeAlert, msg), 100, 0, "language"},
		{"marketing", strings.Replace(templateBody("home_alert", "en_US", homeAlert, msg), "UTILITY", "MARKETING", 1), 100, 0, "category"},
		{"bad parameter format", strings.Replace(templateBody("home_alert", "en_US", homeAlert, msg), "NAMED", "BOTH", 1), 100, 0, "parameter_format"},
		{"no components", raw(""), 100, 0, "components"},
		{"no body", raw(`,"components":[{"type":"FOOTER","text":"bye"}]`), 100, 0, "BODY"},
		{"two bodies", raw(`,"components":[{"type":"BODY","text":"a"},{"type":"BODY","text":"b"}]`), 100, 0, "only one BODY"},
		{"unknown component", raw(`,"components":[{"type":"BODY","text":"a"},{"type":"CAROUSEL"}]`), 100, 0, "type"},
		{"starts with a placeholder", templateBody("a", "en_US", "{{message}} at home, reply for details.", msg), 100, 2388299, "start or end"},
		{"ends with a placeholder", templateBody("b", "en_US", "Home alert, reply for details: {{message}}.", msg), 100, 2388299, "start or end"},
		{"mostly placeholders", templateBody("c", "en_US", "Alert {{message}} now", msg), 100, 2388293, "Too many variables"},
		{"positional name when NAMED", templateBody("d", "en_US", "Home alert: {{1}}. Reply here for details.", map[string]string{"1": "x"}), 100, 0, "parameter_format"},
		{"no example", templateBody("e", "en_US", homeAlert, nil), 100, 0, "example"},
		{"unclosed placeholder", templateBody("f", "en_US", "Home alert: {{message. Reply here.", msg), 100, 0, "malformed"},
		{"too long", templateBody("g", "en_US", "Home alert: {{message}}. "+strings.Repeat("Reply. ", 150), msg), 100, 2388040, "Character Limit"},
		{"same name and language", templateBody("home_alert", "en_US", homeAlert, msg), 100, 2388024, "Content in This Language Already Exists"},
		{"same name, another language", templateBody("home_alert", "fr_FR", "Alerte maison : {{message}}. Répondez ici.", msg), 0, 0, ""},
	}
	s := newServer(t)
	created := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := createTemplate(t, s, tt.body)
			if a.Error.Code != tt.code || a.Error.Subcode != tt.subcode ||
				!strings.Contains(a.Error.Message+" "+a.Error.UserTitle, tt.message) {
				t.Fatalf("error = %+v, want code %d/%d with %q", a.Error, tt.code, tt.subcode, tt.message)
			}
			if tt.code != 0 {
				if a.status != http.StatusBadRequest || a.Error.FBTraceID == "" {
					t.Errorf("HTTP %d, fbtrace_id %q: want 400 with a trace id", a.status, a.Error.FBTraceID)
				}
				return
			}
			created++
			if a.status != http.StatusOK || a.ID == "" || a.Status != graphtest.TemplateApproved || a.Category != "UTILITY" {
				t.Errorf("answer = HTTP %d %+v, want 200 with an id, APPROVED, UTILITY", a.status, a)
			}
		})
	}
	got := s.Templates()
	if len(got) != created {
		t.Fatalf("Templates holds %d, want the %d created", len(got), created)
	}
	if got[0].Name != "home_alert" || got[0].Language != "en_US" || got[0].Body != homeAlert || got[0].Status != graphtest.TemplateApproved {
		t.Errorf("first template = %+v", got[0])
	}
}

func TestTemplateReview(t *testing.T) {
	s := newServer(t)
	s.ReviewAfter(2)
	s.SetTemplateReview(func(tm graphtest.Template) (string, string) {
		if strings.Contains(tm.Body, "prize") {
			return graphtest.TemplateRejected, "PROMOTIONAL"
		}
		return graphtest.TemplateApproved, ""
	})
	msg := map[string]string{"message": "x"}
	if a := createTemplate(t, s, templateBody("home_alert", "en_US", homeAlert, msg)); a.Status != graphtest.TemplatePending {
		t.Fatalf("create answer = %+v, want PENDING", a)
	}
	if a := createTemplate(t, s, templateBody("win", "en_US", "You won a prize: {{message}}. Reply here to claim it.", msg)); a.Status != graphtest.TemplatePending {
		t.Fatalf("create answer = %+v, want PENDING", a)
	}
	q := url.Values{"name": {"home_alert"}, "fields": {"name,language,status,rejected_reason"}}
	for read, want := range []string{"PENDING", "PENDING", "APPROVED", "APPROVED"} {
		a := listTemplates(t, s, q)
		if len(a.Data) != 1 || a.Data[0]["status"] != want || a.Data[0]["rejected_reason"] != "NONE" || a.Data[0]["id"] == "" {
			t.Fatalf("read %d: data = %v, want one %s template with rejected_reason NONE", read+1, a.Data, want)
		}
	}
	q.Set("name", "win")
	for range 3 {
		listTemplates(t, s, q)
	}
	if a := listTemplates(t, s, q); len(a.Data) != 1 || a.Data[0]["status"] != "REJECTED" || a.Data[0]["rejected_reason"] != "PROMOTIONAL" {
		t.Errorf("data = %v, want REJECTED for PROMOTIONAL", a.Data)
	}

	// A review that never ends, and one that rejects at once.
	s.ReviewAfter(0)
	s.SetTemplateReview(func(graphtest.Template) (string, string) { return graphtest.TemplatePending, "" })
	if a := createTemplate(t, s, templateBody("slow", "en_US", homeAlert, msg)); a.Status != graphtest.TemplatePending {
		t.Errorf("create answer = %+v, want PENDING", a)
	}
	for range 5 {
		if a := listTemplates(t, s, url.Values{"name": {"slow"}}); len(a.Data) != 1 || a.Data[0]["status"] != "PENDING" {
			t.Fatalf("data = %v, want PENDING still", a.Data)
		}
	}
	s.SetTemplateReview(func(graphtest.Template) (string, string) { return graphtest.TemplateRejected, "INVALID_FORMAT" })
	if a := createTemplate(t, s, templateBody("bad", "en_US", homeAlert, msg)); a.Status != graphtest.TemplateRejected {
		t.Errorf("create answer = %+v, want REJECTED", a)
	}
	// A template given by AddTemplate keeps its status.
	s.AddTemplate(graphtest.Template{Name: "given", Language: "en_US", Status: graphtest.TemplatePending, Body: homeAlert})
	if a := listTemplates(t, s, url.Values{"name": {"given"}}); len(a.Data) != 1 || a.Data[0]["status"] != "PENDING" {
		t.Errorf("data = %v, want PENDING", a.Data)
	}
}

func TestListTemplates(t *testing.T) {
	s := newServer(t)
	for i := range 30 {
		s.AddTemplate(graphtest.Template{Name: fmt.Sprintf("alert_%02d", i), Language: "en_US", Status: graphtest.TemplateApproved, Body: homeAlert})
	}
	s.AddTemplate(graphtest.Template{Name: "alert_00", Language: "de_DE", Status: graphtest.TemplateRejected, RejectedReason: "INVALID_FORMAT", Body: homeAlert})

	first := listTemplates(t, s, url.Values{"name": {"alert"}})
	if len(first.Data) != 25 || first.Paging.Next == "" || first.Paging.Cursors.After == "" {
		t.Fatalf("first page holds %d, next %q: want 25 and a next page", len(first.Data), first.Paging.Next)
	}
	if d := first.Data[0]; d["name"] != "alert_00" || d["language"] != "en_US" || d["status"] != "APPROVED" || d["category"] != "UTILITY" || d["id"] == "" {
		t.Errorf("default fields = %v, want id, name, language, status, category", d)
	}
	second := listTemplates(t, s, url.Values{"name": {"alert"}, "after": {first.Paging.Cursors.After}})
	if len(second.Data) != 6 || second.Paging.Next != "" {
		t.Errorf("second page holds %d, next %q: want the last 6", len(second.Data), second.Paging.Next)
	}
	de := listTemplates(t, s, url.Values{"name": {"alert_00"}, "language": {"de_DE"}, "fields": {"status,rejected_reason"}})
	if len(de.Data) != 1 || de.Data[0]["rejected_reason"] != "INVALID_FORMAT" || de.Data[0]["name"] != "" {
		t.Errorf("data = %v, want the de_DE one, with only the fields asked for", de.Data)
	}
	if none := listTemplates(t, s, url.Values{"name": {"nothing"}}); none.status != http.StatusOK || none.Data == nil || len(none.Data) != 0 {
		t.Errorf("answer = HTTP %d %v, want 200 with an empty data", none.status, none.Data)
	}
}

// utilitySend is a UTILITY send of the template name in lang to psid, with
// the named body parameter message.
func utilitySend(to, name, lang, message string) string {
	b, _ := json.Marshal(map[string]any{
		"recipient": map[string]string{"id": to}, "messaging_type": "UTILITY",
		"message": map[string]any{"template": map[string]any{
			"name": name, "language": map[string]string{"code": lang},
			"components": []map[string]any{{"type": "body", "parameters": []map[string]string{
				{"type": "text", "parameter_name": "message", "text": message}}}},
		}},
	})
	return string(b)
}

func TestUtilitySend(t *testing.T) {
	s := newServer(t)
	s.AddTemplate(graphtest.Template{Name: "home_alert", Language: "en_US", Status: graphtest.TemplateApproved, Body: homeAlert})
	s.AddTemplate(graphtest.Template{Name: "waiting", Language: "en_US", Status: graphtest.TemplatePending, Body: homeAlert})
	s.AddTemplate(graphtest.Template{Name: "refused", Language: "en_US", Status: graphtest.TemplateRejected, RejectedReason: "INVALID_FORMAT", Body: homeAlert})
	tests := []struct {
		name, body    string
		code, subcode int
		message       string
	}{
		{"approved, outside the window", utilitySend(late, "home_alert", "en_US", "Front door opened"), 0, 0, ""},
		{"approved, inside the window", utilitySend(psid, "home_alert", "en_US", "Garage left open"), 0, 0, ""},
		{"pending", utilitySend(late, "waiting", "en_US", "x"), 100, 0, "(#100) Template cannot be found."},
		{"rejected", utilitySend(late, "refused", "en_US", "x"), 100, 0, "(#100) Template cannot be found."},
		{"unknown", utilitySend(late, "nothing", "en_US", "x"), 100, 0, "(#100) Template cannot be found."},
		{"other language", utilitySend(late, "home_alert", "fr_FR", "x"), 100, 0, "(#100) Template cannot be found."},
		{"hash in a parameter", utilitySend(late, "home_alert", "en_US", "Door #2 opened"), 100, 1893043, "Invalid parameter"},
		{"new line in a parameter", utilitySend(late, "home_alert", "en_US", "Door\nopened"), 100, 1893043, "Invalid parameter"},
		{"emoji in a parameter", utilitySend(late, "home_alert", "en_US", "Door 🚪 opened"), 100, 1893043, "Invalid parameter"},
		{"parameter missing", strings.Replace(utilitySend(late, "home_alert", "en_US", "x"), `"parameter_name":"message"`, `"parameter_name":"text"`, 1), 100, 0, "parameters"},
		{"text besides the template", strings.Replace(utilitySend(late, "home_alert", "en_US", "x"), `"message":{`, `"message":{"text":"hi",`, 1), 100, 0, "template only"},
		{"unknown person", utilitySend("404", "home_alert", "en_US", "x"), 100, 2018001, "No matching user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := sendJSON(t, s, "/v25.0/me/messages", tt.body)
			if a.Error.Code != tt.code || a.Error.Subcode != tt.subcode || !strings.Contains(a.Error.Message, tt.message) {
				t.Fatalf("error = %+v, want code %d/%d with %q", a.Error, tt.code, tt.subcode, tt.message)
			}
			if tt.code == 0 && (a.status != http.StatusOK || !strings.HasPrefix(a.MessageID, "m_")) {
				t.Errorf("answer = HTTP %d %+v, want 200 with a message_id", a.status, a)
			}
		})
	}
	reqs := s.Requests()
	if len(reqs) != 2 {
		t.Fatalf("Requests holds %d, want the 2 accepted", len(reqs))
	}
	got := reqs[0]
	want := graphtest.TemplateReq{Name: "home_alert", Language: "en_US", Params: map[string]string{"message": "Front door opened"},
		Text: "Home alert: Front door opened. Reply here for details."}
	if got.PSID != late || got.MessagingType != "UTILITY" || got.Template == nil || got.Template.Name != want.Name ||
		got.Template.Language != want.Language || got.Template.Params["message"] != "Front door opened" || len(got.Template.Params) != 1 ||
		got.Template.Text != want.Text {
		t.Errorf("request = %+v, template %+v; want %+v to %s", got, got.Template, want, late)
	}
}

func TestUtilityScope(t *testing.T) {
	s := newServer(t)
	s.AddTemplate(graphtest.Template{Name: "home_alert", Language: "en_US", Status: graphtest.TemplateApproved, Body: homeAlert})
	s.SetTokenInfo(token, graphtest.TokenInfo{Type: "PAGE", Scopes: []string{"pages_messaging", "pages_show_list"}})
	checks := []struct {
		name string
		a    templateAnswer
	}{
		{"create", createTemplate(t, s, templateBody("other", "en_US", homeAlert, map[string]string{"message": "x"}))},
		{"read", listTemplates(t, s, url.Values{"name": {"home_alert"}})},
	}
	for _, c := range checks {
		if c.a.status != http.StatusBadRequest || c.a.Error.Code != 10 || !strings.Contains(c.a.Error.Message, graphtest.UtilityScope) {
			t.Errorf("%s: HTTP %d %+v, want 400 code 10 naming %s", c.name, c.a.status, c.a.Error, graphtest.UtilityScope)
		}
	}
	if a := sendJSON(t, s, "/v25.0/me/messages", utilitySend(late, "home_alert", "en_US", "x")); a.Error.Code != 10 {
		t.Errorf("UTILITY send without the permission: error = %+v, want code 10", a.Error)
	}
	if n := len(s.Templates()); n != 1 {
		t.Errorf("Templates holds %d, want 1: a refused create makes none", n)
	}
}
