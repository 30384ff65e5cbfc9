package main

import (
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/messenger-bridge/messenger-bridge/graph"
	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
)

// stepClock is a waitClock whose After fires at once, moving the time on
// by the wait, and records each wait.
type stepClock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stepClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.waits = append(c.waits, d)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

func (c *stepClock) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.waits)
}

// templateSetup returns the fake Graph of the setup commands, with
// FB_PAGE_TOKEN and FB_GRAPH_URL set, more env, and a stepClock for
// template create to wait by, until the test ends.
func templateSetup(t *testing.T, env map[string]string) (*graphtest.Server, *stepClock) {
	s := newFakeGraph(t)
	vars := map[string]string{"FB_PAGE_TOKEN": setupPageToken, "FB_GRAPH_URL": s.URL}
	for k, v := range env {
		vars[k] = v
	}
	useEnv(t, vars)
	for _, k := range []string{"FB_UTILITY_TEMPLATE", "FB_UTILITY_TEMPLATE_LANG"} {
		if _, set := env[k]; !set {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	clock := &stepClock{now: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	reviewClock = clock
	t.Cleanup(func() { reviewClock = realClock{} })
	return s, clock
}

// wantAll fails t unless out holds each of wants.
func wantAll(t *testing.T, what, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, out)
		}
	}
}

func TestTemplateCreateApproved(t *testing.T) {
	s, clock := templateSetup(t, nil)
	code, out, errOut := runCmd(t, nil, "template", "create")
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	wantAll(t, "stdout", out, "home_alert (en_US) is APPROVED", ".env")
	wantAll(t, "stderr", errOut, "Created the utility template home_alert (en_US)")
	if last := lastLine(out); last != "FB_UTILITY_TEMPLATE=home_alert" || strings.Contains(out, "FB_UTILITY_TEMPLATE_LANG") {
		t.Errorf("stdout ends with %q, want FB_UTILITY_TEMPLATE=home_alert and no language line:\n%s", last, out)
	}
	made := s.Templates()
	if len(made) != 1 || made[0].Name != "home_alert" || made[0].Language != "en_US" || made[0].Body != graph.DefaultTemplateBody {
		t.Errorf("the page's templates = %+v, want home_alert en_US with the default body", made)
	}
	if w := clock.Waits(); len(w) != 0 {
		t.Errorf("waited %v for a template approved at once", w)
	}
}

func TestTemplateCreatePendingThenApproved(t *testing.T) {
	s, clock := templateSetup(t, map[string]string{"FB_UTILITY_TEMPLATE": "alerte_maison", "FB_UTILITY_TEMPLATE_LANG": "fr_FR"})
	s.ReviewAfter(3)
	code, out, errOut := runCmd(t, nil, "template", "create")
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	wantAll(t, "stdout", out, "alerte_maison (fr_FR) is APPROVED", "FB_UTILITY_TEMPLATE=alerte_maison\nFB_UTILITY_TEMPLATE_LANG=fr_FR\n")
	wantAll(t, "stderr", errOut, "Created the utility template alerte_maison (fr_FR)", "PENDING",
		"Meta is reviewing alerte_maison (fr_FR), 0s so far; asking again in 2s.",
		"Meta is reviewing alerte_maison (fr_FR), 14s so far; asking again in 15s.")
	want := []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 15 * time.Second}
	if got := clock.Waits(); !slices.Equal(got, want) {
		t.Errorf("waits = %v, want %v: three PENDING reads, then the approval", got, want)
	}
}

func TestTemplateCreateStillPending(t *testing.T) {
	s, clock := templateSetup(t, nil)
	s.SetTemplateReview(func(graphtest.Template) (string, string) { return graphtest.TemplatePending, "" })
	code, out, errOut := runCmd(t, nil, "template", "create", "--wait", "30s")
	if code != exitFailure {
		t.Fatalf("exit %d, want 1; stderr:\n%s", code, errOut)
	}
	wantAll(t, "stdout", out, "home_alert (en_US) is still PENDING after 30s")
	wantAll(t, "stderr", errOut, "messenger-bridge template check --name home_alert --lang en_US")
	if strings.Contains(out, "FB_UTILITY_TEMPLATE=") {
		t.Errorf("stdout offers the template before it is approved:\n%s", out)
	}
	want := []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 15 * time.Second, time.Second}
	if got := clock.Waits(); !slices.Equal(got, want) {
		t.Errorf("waits = %v, want %v: bounded by --wait", got, want)
	}
}

func TestTemplateCreateRejected(t *testing.T) {
	s, _ := templateSetup(t, nil)
	s.ReviewAfter(1)
	s.SetTemplateReview(func(graphtest.Template) (string, string) { return graphtest.TemplateRejected, "INVALID_FORMAT" })
	code, out, errOut := runCmd(t, nil, "template", "create")
	if code != exitFailure {
		t.Fatalf("exit %d, want 1; stderr:\n%s", code, errOut)
	}
	wantAll(t, "stdout", out, "Meta REJECTED the utility template home_alert (en_US): INVALID_FORMAT.")
	wantAll(t, "stderr", errOut, "What to do:", "malformed", "--name home_alert_2 --lang en_US", "FB_UTILITY_TEMPLATE")
	if strings.Contains(out, "FB_UTILITY_TEMPLATE=") {
		t.Errorf("stdout offers a rejected template:\n%s", out)
	}
}

func TestTemplateCreateWithoutPermission(t *testing.T) {
	s, _ := templateSetup(t, nil)
	s.SetTokenInfo(setupPageToken, graphtest.TokenInfo{Type: "PAGE", Scopes: []string{"pages_messaging", "pages_show_list"}})
	for _, args := range [][]string{{"template", "create"}, {"template", "check"}} {
		code, out, errOut := runCmd(t, nil, args...)
		if code != exitFailure || out != "" {
			t.Errorf("%v: exit %d, stdout %q; want 1 and nothing", args, code, out)
		}
		wantAll(t, "stderr", errOut, "(#10) This endpoint requires the 'pages_utility_messaging' permission", "code 10",
			"Graph API Explorer", "add pages_utility_messaging", "messenger-bridge token exchange", "FB_PAGE_TOKEN", "App Review")
	}
	if n := len(s.Templates()); n != 0 {
		t.Errorf("the page has %d templates, want none", n)
	}
}

func TestTemplateCreateExisting(t *testing.T) {
	tests := []struct {
		name   string
		status string
		code   int
		stdout string
	}{
		{"approved", graphtest.TemplateApproved, exitOK, "FB_UTILITY_TEMPLATE=home_alert"},
		{"rejected", graphtest.TemplateRejected, exitFailure, "Meta REJECTED the utility template home_alert (en_US): PROMOTIONAL."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := templateSetup(t, nil)
			reason := ""
			if tt.status == graphtest.TemplateRejected {
				reason = "PROMOTIONAL"
			}
			s.AddTemplate(graphtest.Template{ID: "555", Name: "home_alert", Language: "en_US", Status: tt.status, RejectedReason: reason, Body: graph.DefaultTemplateBody})
			code, out, errOut := runCmd(t, nil, "template", "create", "--name", "home_alert")
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tt.code, errOut)
			}
			wantAll(t, "stdout", out, tt.stdout)
			wantAll(t, "stderr", errOut, "The page has the utility template home_alert (en_US) already, id 555: not creating it again.")
			if made := s.Templates(); len(made) != 1 || made[0].ID != "555" {
				t.Errorf("the page's templates = %+v, want only the one there before", made)
			}
		})
	}
}

func TestTemplateCheck(t *testing.T) {
	tests := []struct {
		name      string
		templates []graphtest.Template
		args      []string
		code      int
		stdout    []string
	}{
		{"approved", []graphtest.Template{{Name: "home_alert", Language: "en_US", Status: graphtest.TemplateApproved}},
			nil, exitOK, []string{"is APPROVED", "FB_UTILITY_TEMPLATE=home_alert"}},
		{"approved in German", []graphtest.Template{{Name: "hausalarm", Language: "de_DE", Status: graphtest.TemplateApproved}},
			[]string{"--name", "hausalarm", "--lang", "de_DE"}, exitOK, []string{"FB_UTILITY_TEMPLATE=hausalarm\nFB_UTILITY_TEMPLATE_LANG=de_DE"}},
		{"pending", []graphtest.Template{{Name: "home_alert", Language: "en_US", Status: graphtest.TemplatePending}},
			nil, exitFailure, []string{"home_alert (en_US) is PENDING"}},
		{"paused", []graphtest.Template{{Name: "home_alert", Language: "en_US", Status: "PAUSED"}},
			nil, exitFailure, []string{"is PAUSED: a send cannot use it"}},
		{"none", nil, nil, exitFailure, []string{"no utility template home_alert in en_US", "template create --name home_alert --lang en_US"}},
		{"other language", []graphtest.Template{{Name: "home_alert", Language: "fr_FR", Status: graphtest.TemplateApproved},
			{Name: "home_alert_old", Language: "en_US", Status: graphtest.TemplateApproved}},
			nil, exitFailure, []string{"no utility template home_alert in en_US", "It has home_alert in fr_FR"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := templateSetup(t, nil)
			for _, tm := range tt.templates {
				tm.Body = graph.DefaultTemplateBody
				s.AddTemplate(tm)
			}
			code, out, errOut := runCmd(t, nil, append([]string{"template", "check"}, tt.args...)...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stdout:\n%s\nstderr:\n%s", code, tt.code, out, errOut)
			}
			wantAll(t, "stdout", out, tt.stdout...)
			if tt.code != exitOK && strings.Contains(out, "FB_UTILITY_TEMPLATE=") {
				t.Errorf("stdout offers a template that is not approved:\n%s", out)
			}
		})
	}
}

func TestTemplateCommandLine(t *testing.T) {
	tests := []struct {
		name   string
		env    map[string]string
		args   []string
		code   int
		output string // in stdout for exit 0, else in stderr
	}{
		{"help", nil, []string{"template", "-h"}, exitOK, "template create"},
		{"create help", nil, []string{"template", "create", "-h"}, exitOK, "Usage: messenger-bridge template create"},
		{"check help shows the variable's name", map[string]string{"FB_UTILITY_TEMPLATE": "porch"}, []string{"template", "check", "--help"}, exitOK, `(default "porch")`},
		{"no command", nil, []string{"template"}, exitUsage, "Usage:"},
		{"unknown command", nil, []string{"template", "delete"}, exitUsage, `unknown command "delete"`},
		{"bad name", nil, []string{"template", "create", "--name", "Home-Alert"}, exitUsage, "lowercase letters"},
		{"bad name from the variable", map[string]string{"FB_UTILITY_TEMPLATE": "home alert"}, []string{"template", "check"}, exitUsage, `--name "home alert"`},
		{"argument", nil, []string{"template", "create", "home_alert"}, exitUsage, `unexpected argument "home_alert"`},
		{"no token", map[string]string{"FB_PAGE_TOKEN": ""}, []string{"template", "create"}, exitUsage, "FB_PAGE_TOKEN: required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := templateSetup(t, tt.env)
			code, out, errOut := runCmd(t, nil, tt.args...)
			got := errOut
			if tt.code == exitOK {
				got = out
			}
			if code != tt.code || !strings.Contains(got, tt.output) {
				t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s\nwant exit %d and %q", code, out, errOut, tt.code, tt.output)
			}
			if n := len(s.Templates()); n != 0 {
				t.Errorf("the page has %d templates, want none", n)
			}
		})
	}
}
