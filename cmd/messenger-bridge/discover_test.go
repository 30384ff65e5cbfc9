package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/messenger-bridge/messenger-bridge/config"
	"github.com/messenger-bridge/messenger-bridge/graph"
	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
	"github.com/messenger-bridge/messenger-bridge/household"
)

// Credentials of the setup commands under test: long and unusual, so that a
// leak is found by a plain substring search.
const (
	setupPageToken = "EAAGsetupPAGEtoken0123456789SECRET"
	setupAppID     = "200000000000777"
	setupAppSecret = "setupAPPsecret9876543210SECRET"
	setupUserToken = "EAAGsetupUSERtoken5555SECRET"
	setupPageID    = "104857600000042"
)

// newFakeGraph returns a fake Graph API for the page "Front Door", whose
// token is setupPageToken, of the app setupAppID, whose manager has the
// user token setupUserToken.
func newFakeGraph(t *testing.T) *graphtest.Server {
	s := graphtest.NewServer(t, setupPageToken)
	s.SetPage(setupPageID, "Front Door")
	s.SetApp(setupAppID, setupAppSecret)
	s.AddUserToken(setupUserToken)
	return s
}

// commandVars are the variables the commands read.
var commandVars = []string{
	"FB_PAGE_TOKEN", "FB_PAGE_TOKEN_FILE", "FB_APP_ID", "FB_APP_SECRET", "FB_APP_SECRET_FILE", "FB_USER_TOKEN",
	"FB_GRAPH_URL", "FB_GRAPH_VERSION", "FB_MESSAGING_TYPE", "FB_MESSAGE_TAG", "FB_UTILITY_TEMPLATE", "FB_UTILITY_TEMPLATE_LANG",
	"RECIPIENTS", "GROUPS",
	"MQTT_URL", "MQTT_USERNAME", "MQTT_PASSWORD", "HA_URL", "HA_TOKEN", "MEDIA_DIRS", "DATA_DIR",
	"MESSAGE_TTL", "SEND_RATE", "LOG_LEVEL", "LOG_FORMAT",
}

// useEnv makes vars the only command variables set, until the test ends;
// one set to "" is left unset.
func useEnv(t *testing.T, vars map[string]string) {
	for _, k := range commandVars {
		t.Setenv(k, "") // restored when the test ends
		os.Unsetenv(k)
	}
	for k, v := range vars {
		if v != "" {
			t.Setenv(k, v)
		}
	}
}

// runCmd runs messenger-bridge with args in-process, as main does, and
// returns its exit status and output. It fails t if the output holds a
// secret other than those allowed.
func runCmd(t *testing.T, allowed []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(t.Context(), args, &out, &errOut)
	for _, secret := range []string{setupPageToken, setupAppSecret, setupUserToken} {
		if strings.Contains(errOut.String(), secret) || !slices.Contains(allowed, secret) && strings.Contains(out.String(), secret) {
			t.Errorf("%v printed a secret:\n%s\n%s", args, out.String(), errOut.String())
		}
	}
	return code, out.String(), errOut.String()
}

func TestDiscover(t *testing.T) {
	s := newFakeGraph(t)
	useEnv(t, map[string]string{"FB_PAGE_TOKEN": setupPageToken, "FB_GRAPH_URL": s.URL})
	at := time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC)
	names := []string{"Alice Smith", "Bob", "alice smith", "Zoë Müller-Lüdenscheidt", "李雷"}
	for i := len(names); i < 30; i++ { // Graph lists 25 a page: two pages
		names = append(names, fmt.Sprintf("Person %02d", i))
	}
	var want []string
	for i, name := range names {
		psid := fmt.Sprint(26428272146817000 + i)
		s.AddConversation(psid, name, at.Add(-time.Duration(i)*time.Minute))
		want = append(want, psid)
	}
	code, out, errOut := runCmd(t, nil, "discover")
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	line := strings.TrimPrefix(lastLine(out), "RECIPIENTS=")
	pairs := strings.Split(line, ",")
	if len(pairs) != len(names) {
		t.Fatalf("RECIPIENTS holds %d people, want %d:\n%s", len(pairs), len(names), out)
	}
	wantNames := []string{"alice_smith", "bob", "alice_smith_2", "zoe_muller-ludenscheidt", "person"}
	for i, pair := range pairs {
		name, psid, _ := strings.Cut(pair, ":")
		if psid != want[i] || i < len(wantNames) && name != wantNames[i] {
			t.Errorf("pair %d = %q, want %s:%s", i, pair, wantNames[min(i, len(wantNames)-1)], want[i])
		}
		if !strings.Contains(out, psid) {
			t.Errorf("the table lacks %s", psid)
		}
	}
	// The line is ready to use: the service accepts it.
	useEnv(t, map[string]string{"FB_PAGE_TOKEN": setupPageToken, "RECIPIENTS": line})
	if _, err := config.Load(); err != nil {
		t.Errorf("config.Load with RECIPIENTS=%s: %v", line, err)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func TestDiscoverJSON(t *testing.T) {
	s := newFakeGraph(t)
	at := time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC)
	s.AddConversation("26428272146817880", "Alice Smith", at)
	s.AddConversation("7391000000000001", "Bob", at.Add(-time.Hour))
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(setupPageToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	useEnv(t, map[string]string{"FB_PAGE_TOKEN_FILE": tokenFile, "FB_GRAPH_URL": s.URL})
	code, out, errOut := runCmd(t, nil, "discover", "--json")
	if code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	var got discovered
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if got.Page.ID != setupPageID || got.Page.Name != "Front Door" || len(got.People) != 2 ||
		got.People[0] != (discoveredPerson{Recipient: "alice_smith", Name: "Alice Smith", PSID: "26428272146817880", Updated: got.People[0].Updated}) ||
		got.People[0].Updated == nil || !got.People[0].Updated.Equal(at) ||
		got.Recipients != "alice_smith:26428272146817880,bob:7391000000000001" {
		t.Errorf("got %+v", got)
	}
}

func TestDiscoverFails(t *testing.T) {
	tests := []struct {
		name   string
		env    map[string]string // FB_GRAPH_URL is added
		args   []string
		code   int
		stderr string
	}{
		{"nobody wrote", map[string]string{"FB_PAGE_TOKEN": setupPageToken}, nil, exitFailure, "nobody has written to Front Door"},
		{"wrong token", map[string]string{"FB_PAGE_TOKEN": "EAAGwrong"}, nil, exitFailure, "token exchange"},
		{"no token", nil, nil, exitUsage, "FB_PAGE_TOKEN: required"},
		{"token twice", map[string]string{"FB_PAGE_TOKEN": setupPageToken, "FB_PAGE_TOKEN_FILE": "/x"}, nil, exitUsage, "keep only one"},
		{"bad version", map[string]string{"FB_PAGE_TOKEN": setupPageToken, "FB_GRAPH_VERSION": "25"}, nil, exitUsage, "version"},
		{"unknown flag", map[string]string{"FB_PAGE_TOKEN": setupPageToken}, []string{"--yaml"}, exitUsage, "Usage: messenger-bridge discover"},
		{"argument", map[string]string{"FB_PAGE_TOKEN": setupPageToken}, []string{"alice"}, exitUsage, `unexpected argument "alice"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newFakeGraph(t)
			env := map[string]string{"FB_GRAPH_URL": s.URL}
			for k, v := range tt.env {
				env[k] = v
			}
			useEnv(t, env)
			code, _, errOut := runCmd(t, nil, append([]string{"discover"}, tt.args...)...)
			if code != tt.code || !strings.Contains(errOut, tt.stderr) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d and %q", code, errOut, tt.code, tt.stderr)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"discover", "-h"}, {"send", "--help"}, {"token", "-h"}, {"token", "check", "-h"}, {"token", "exchange", "-h"}} {
		code, out, _ := runCmd(t, nil, args...)
		if code != exitOK || !strings.Contains(out, "Usage:") {
			t.Errorf("%v: exit %d, stdout:\n%s", args, code, out)
		}
	}
}

func TestSlug(t *testing.T) {
	long := strings.Repeat("Abcdefghij ", 10)
	tests := map[string]string{
		"Alice Smith":             "alice_smith",
		"  Bob  ":                 "bob",
		"Jean-Luc Picard":         "jean-luc_picard",
		"O'Brien, Miles":          "o_brien_miles",
		"Zoë":                     "zoe",
		"François Ærø Straße":     "francois_aero_strasse",
		"Łukasz Dvořák":           "lukasz_dvorak",
		"李雷":                      "person",
		"":                        "person",
		"__x__":                   "x",
		"R2-D2 & C-3PO":           "r2-d2_c-3po",
		long:                      strings.TrimRight(strings.Repeat("abcdefghij_", 6)[:64], "_"),
		"snake_case already_here": "snake_case_already_here",
	}
	for in, want := range tests {
		if got := household.Slug(in); got != want || !household.ValidName(got) {
			t.Errorf("Slug(%q) = %q, want %q (valid: %v)", in, got, want, household.ValidName(got))
		}
	}
}

func TestSlugsAreDistinctAndValid(t *testing.T) {
	long := strings.Repeat("x", 100)
	var people []graph.Person
	for _, n := range []string{long, long, long, "Ann", "ann", "ANN", "ann_2", "李雷", "王芳"} {
		people = append(people, graph.Person{Name: n})
	}
	names := slugs(people)
	want := []string{long[:64], long[:62] + "_2", long[:62] + "_3", "ann", "ann_2", "ann_3", "ann_2_2", "person", "person_2"}
	seen := make(map[string]bool)
	for i, name := range names {
		if name != want[i] || !household.ValidName(name) || seen[name] {
			t.Errorf("name %d = %q, want %q, valid and unique", i, name, want[i])
		}
		seen[name] = true
	}
}
