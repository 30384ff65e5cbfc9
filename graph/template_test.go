package graph_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/messenger-bridge/messenger-bridge/graph"
	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
)

func TestCreateTemplate(t *testing.T) {
	s := newSetupServer(t)
	s.RequireAppSecret(appSecret)
	c := newClient(t, s.URL, func(cfg *graph.Config) { cfg.AppSecret = appSecret })

	st, err := c.CreateTemplate(t.Context(), graph.TemplateSpec{})
	if err != nil {
		t.Fatalf("CreateTemplate: %v", err)
	}
	if st.ID == "" || st.Name != "home_alert" || st.Language != "en_US" || st.Category != "UTILITY" || !st.Approved() || st.RejectedReason != "" {
		t.Errorf("status = %+v, want home_alert en_US UTILITY APPROVED with an id", st)
	}
	made := s.Templates()
	if len(made) != 1 || made[0].Body != "Home alert: {{message}}. Reply here for details." {
		t.Fatalf("the page's templates = %+v, want the default body", made)
	}

	_, err = c.CreateTemplate(t.Context(), graph.TemplateSpec{})
	if ge, ok := errors.AsType[*graph.Error](err); !ok || ge.Code != graph.CodeParam || ge.Subcode != graph.SubcodeTemplateExists {
		t.Errorf("creating it again: err = %v, want code 100 subcode %d", err, graph.SubcodeTemplateExists)
	}

	s.ReviewAfter(1)
	s.SetTemplateReview(func(graphtest.Template) (string, string) { return graphtest.TemplateRejected, "INVALID_FORMAT" })
	fr, err := c.CreateTemplate(t.Context(), graph.TemplateSpec{Name: "alerte", Language: "fr_FR",
		Body: "Alerte maison : {{message}}. Répondez ici pour en savoir plus.", Example: "Porte ouverte"})
	if err != nil || fr.Status != graph.TemplatePending || fr.Name != "alerte" || fr.Language != "fr_FR" {
		t.Fatalf("CreateTemplate fr_FR = %+v, %v; want PENDING", fr, err)
	}
	for _, want := range []string{graph.TemplatePending, graph.TemplateRejected} {
		got, found, err := c.Template(t.Context(), "alerte", "fr_FR")
		if err != nil || !found || got.Status != want || got.ID != fr.ID {
			t.Fatalf("Template = %+v, %v, %v; want %s", got, found, err, want)
		}
		if want == graph.TemplateRejected && got.RejectedReason != "INVALID_FORMAT" {
			t.Errorf("rejected reason = %q, want INVALID_FORMAT", got.RejectedReason)
		}
	}
}

func TestCreateTemplateRefusesWithoutCalling(t *testing.T) {
	s := newSetupServer(t)
	c := newClient(t, s.URL, nil)
	for _, spec := range []graph.TemplateSpec{
		{Name: "Home Alert"},
		{Name: strings.Repeat("a", 513)},
		{Body: "Home alert: {{text}}. Reply here for details."},
	} {
		if _, err := c.CreateTemplate(t.Context(), spec); err == nil || errors.As(err, new(*graph.Error)) {
			t.Errorf("CreateTemplate(%+v) = %v, want an error of the client's own", spec, err)
		}
	}
	if n := len(s.Templates()); n != 0 {
		t.Errorf("the page has %d templates, want none", n)
	}
	if !graph.ValidTemplateName("home_alert_2") || graph.ValidTemplateName("home-alert") || graph.ValidTemplateName("") {
		t.Error("ValidTemplateName accepts or refuses the wrong names")
	}
}

func TestTemplatesReadsEveryPageAndExactName(t *testing.T) {
	s := newSetupServer(t)
	const n = 30 // Graph lists 25 a page: two pages
	for i := range n {
		s.AddTemplate(graphtest.Template{Name: graph.DefaultTemplateName, Language: fmt.Sprintf("x%c_%c%c", 'a'+i%26, 'A'+i/26, 'A'+i%26),
			Status: graphtest.TemplateApproved, Body: graph.DefaultTemplateBody})
	}
	s.AddTemplate(graphtest.Template{Name: "home_alert_old", Language: "en_US", Status: graphtest.TemplateApproved, Body: graph.DefaultTemplateBody})
	s.AddTemplate(graphtest.Template{Name: "home_alert", Language: "en_US", Status: graphtest.TemplateRejected, RejectedReason: "PROMOTIONAL", Body: graph.DefaultTemplateBody})
	c := newClient(t, s.URL, nil)

	got, err := c.Templates(t.Context(), "home_alert")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n+1 {
		t.Fatalf("got %d templates, want %d: every page, and not home_alert_old", len(got), n+1)
	}
	for _, st := range got {
		if st.Name != "home_alert" || st.ID == "" || st.Category != "UTILITY" {
			t.Errorf("template %+v", st)
		}
		if st.Status == graph.TemplateApproved && st.RejectedReason != "" {
			t.Errorf("%s: rejected reason %q, want none for Graph's NONE", st.Language, st.RejectedReason)
		}
	}
	en, found, err := c.Template(t.Context(), "home_alert", "en_US")
	if err != nil || !found || en.Status != graph.TemplateRejected || en.RejectedReason != "PROMOTIONAL" || en.Approved() {
		t.Errorf("Template en_US = %+v, %v, %v; want REJECTED for PROMOTIONAL", en, found, err)
	}
	if _, found, err := c.Template(t.Context(), "home_alert", "de_DE"); found || err != nil {
		t.Errorf("Template de_DE: found %v, %v; want not found", found, err)
	}
	all, err := c.Templates(t.Context(), "")
	if err != nil || len(all) != n+2 {
		t.Errorf("Templates(\"\") = %d, %v; want all %d", len(all), err, n+2)
	}
}

func TestTemplatesWithoutPermission(t *testing.T) {
	s := newSetupServer(t)
	s.SetTokenInfo(token, graphtest.TokenInfo{Type: "PAGE", Scopes: []string{"pages_messaging"}})
	c := newClient(t, s.URL, nil)
	_, createErr := c.CreateTemplate(t.Context(), graph.TemplateSpec{})
	_, readErr := c.Templates(t.Context(), "home_alert")
	for _, err := range []error{createErr, readErr} {
		ge, ok := errors.AsType[*graph.Error](err)
		if !ok || ge.Code != graph.CodePermissionDenied || !graph.MissingUtilityPermission(err) || graph.ShouldRetry(t.Context(), err) {
			t.Errorf("err = %v, want a permanent code 10 naming %s", err, graph.UtilityPermission)
		}
		if strings.Contains(err.Error(), token) {
			t.Errorf("error %q holds the token", err)
		}
	}
	for _, other := range []error{
		&graph.Error{Code: 10, Subcode: 2018278, Message: "(#10) This message is sent outside of allowed window."},
		&graph.Error{Code: 100, Message: "(#100) Template cannot be found."},
		errors.New("utility_messaging"),
	} {
		if graph.MissingUtilityPermission(other) {
			t.Errorf("MissingUtilityPermission(%v) = true", other)
		}
	}
}

// TestTemplateUnusable tells the refusals that speak of the template or of
// the person from those that speak of one message or of the token.
func TestTemplateUnusable(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{&graph.Error{Code: 100, Message: "(#100) Template cannot be found."}, true},
		{&graph.Error{Code: 10, Message: "(#10) Requires pages_utility_messaging permission to manage the object"}, true},
		{&graph.Error{Code: 551, Subcode: 1545041, Message: "(#551) This person isn't available right now."}, true},
		{&graph.Error{Code: 200, Subcode: 2018028, Message: "(#200) Cannot message users who are not admins, developers or testers of the app"}, true},
		{&graph.Error{Code: 100, Subcode: 1893043, Message: "(#100) Invalid parameter"}, false},
		{&graph.Error{Code: 190, Subcode: 463, Message: "Error validating access token: Session has expired"}, false},
		{&graph.Error{Status: 503, Code: 2, Message: "Service temporarily unavailable", Transient: true}, false},
		{errors.New("Template cannot be found"), false},
	} {
		if got := graph.TemplateUnusable(tt.err); got != tt.want {
			t.Errorf("TemplateUnusable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
