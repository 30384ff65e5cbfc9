package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/messenger-bridge/messenger-bridge/bridge"
	"github.com/messenger-bridge/messenger-bridge/config"
	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
	"github.com/messenger-bridge/messenger-bridge/logtest"
	"github.com/messenger-bridge/messenger-bridge/mqtttest"
)

func TestTokenCheck(t *testing.T) {
	day := 24 * time.Hour
	asApp := map[string]string{"FB_APP_ID": setupAppID, "FB_APP_SECRET": setupAppSecret}
	tests := []struct {
		name  string
		info  *graphtest.TokenInfo // of the page token; nil: never expires
		env   map[string]string    // besides FB_GRAPH_URL
		code  int
		wants []string // in stdout
	}{
		{
			name: "valid, never expires",
			env:  map[string]string{"FB_PAGE_TOKEN": setupPageToken},
			code: exitOK,
			wants: []string{"The page token is valid.", "type:", "PAGE", "Front Door (" + setupPageID + ")",
				"expires:", "never", "pages_messaging, pages_show_list"},
		},
		{
			name:  "valid, asked as the app",
			env:   map[string]string{"FB_PAGE_TOKEN": setupPageToken, "FB_APP_ID": setupAppID, "FB_APP_SECRET": setupAppSecret},
			code:  exitOK,
			wants: []string{"The page token is valid.", "Test App (" + setupAppID + ")", "never"},
		},
		{
			name:  "expires in 3 days",
			info:  &graphtest.TokenInfo{Type: "PAGE", ExpiresAt: time.Now().Add(3 * day), Scopes: graphtest.MessagingScopes},
			env:   map[string]string{"FB_PAGE_TOKEN": setupPageToken},
			code:  exitOK,
			wants: []string{"The page token is valid.", "(in 3 days)", "Warning: the token expires", "token exchange"},
		},
		{
			name:  "expires in 30 days",
			info:  &graphtest.TokenInfo{Type: "PAGE", ExpiresAt: time.Now().Add(30 * day), DataAccessExpiresAt: time.Now().Add(90 * day), Scopes: graphtest.MessagingScopes},
			env:   map[string]string{"FB_PAGE_TOKEN": setupPageToken},
			code:  exitOK,
			wants: []string{"(in 30 days)", "data access until:", "(in 90 days)", "Note: a page token made from a long-lived user token does not expire"},
		},
		{
			name:  "invalid, asked with itself",
			env:   map[string]string{"FB_PAGE_TOKEN": "EAAGnotTheToken"},
			code:  exitFailure,
			wants: []string{"The page token is NOT valid.", "Graph says: Invalid OAuth access token", "What to do:", "token exchange"},
		},
		{
			name:  "invalid, asked as the app",
			env:   merge(asApp, map[string]string{"FB_PAGE_TOKEN": "EAAGnotTheToken"}),
			code:  exitFailure,
			wants: []string{"The page token is NOT valid.", "Graph says: Invalid OAuth access token", "token exchange"},
		},
		{
			name:  "expired, asked as the app",
			info:  &graphtest.TokenInfo{Type: "PAGE", ExpiresAt: time.Now().Add(-2 * day), Scopes: graphtest.MessagingScopes},
			env:   merge(asApp, map[string]string{"FB_PAGE_TOKEN": setupPageToken}),
			code:  exitFailure,
			wants: []string{"The page token is NOT valid.", "(2 days ago)", "Session has expired", "the page token has expired", "token exchange"},
		},
		{
			name:  "no pages_messaging",
			info:  &graphtest.TokenInfo{Type: "PAGE", Scopes: []string{"pages_show_list"}},
			env:   map[string]string{"FB_PAGE_TOKEN": setupPageToken},
			code:  exitFailure,
			wants: []string{"The page token is NOT valid.", "lacks the pages_messaging permission"},
		},
		{
			name:  "a user token",
			info:  &graphtest.TokenInfo{Type: "USER", Scopes: graphtest.MessagingScopes},
			env:   map[string]string{"FB_PAGE_TOKEN": setupPageToken},
			code:  exitFailure,
			wants: []string{"The page token is NOT valid.", "this is a USER token, not a page token"},
		},
		{
			name:  "no permission to list conversations",
			info:  &graphtest.TokenInfo{Type: "PAGE", Scopes: []string{"pages_messaging"}},
			env:   map[string]string{"FB_PAGE_TOKEN": setupPageToken},
			code:  exitOK,
			wants: []string{"discover also needs pages_manage_metadata and pages_read_engagement"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newFakeGraph(t)
			if tt.info != nil {
				s.SetTokenInfo(setupPageToken, *tt.info)
			}
			useEnv(t, merge(tt.env, map[string]string{"FB_GRAPH_URL": s.URL}))
			code, out, errOut := runCmd(t, nil, "token", "check")
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tt.code, errOut)
			}
			for _, want := range tt.wants {
				if !strings.Contains(out, want) {
					t.Errorf("stdout lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

func merge(maps ...map[string]string) map[string]string {
	all := make(map[string]string)
	for _, m := range maps {
		for k, v := range m {
			all[k] = v
		}
	}
	return all
}

func TestTokenCheckWithoutGraph(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	useEnv(t, map[string]string{"FB_PAGE_TOKEN": setupPageToken, "FB_GRAPH_URL": closed.URL})
	code, _, errOut := runCmd(t, nil, "token", "check")
	if code != exitFailure || !strings.Contains(errOut, "cannot ask Graph about the token") {
		t.Errorf("exit %d, stderr:\n%s", code, errOut)
	}
}

func TestTokenExchange(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"flags", nil, []string{"--app-id", setupAppID, "--app-secret", setupAppSecret, "--user-token", setupUserToken}},
		{"variables", map[string]string{"FB_APP_ID": setupAppID, "FB_APP_SECRET": setupAppSecret, "FB_USER_TOKEN": setupUserToken}, nil},
		{"flags override variables", map[string]string{"FB_APP_ID": "1", "FB_APP_SECRET": "wrong", "FB_USER_TOKEN": "EAAGwrong"},
			[]string{"--user-token", setupUserToken, "--app-secret", setupAppSecret, "--app-id", setupAppID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newFakeGraph(t)
			for i := range 30 { // with Front Door, two pages of results
				s.AddManagedPage(fmt.Sprint(200000000000100+i), fmt.Sprintf("Page %02d", i), fmt.Sprintf("EAAGpage%02dToken", i))
			}
			useEnv(t, merge(tt.env, map[string]string{"FB_GRAPH_URL": s.URL, "FB_PAGE_TOKEN": setupPageToken}))
			code, out, errOut := runCmd(t, []string{setupPageToken}, append([]string{"token", "exchange"}, tt.args...)...)
			if code != exitOK {
				t.Fatalf("exit %d, stderr:\n%s", code, errOut)
			}
			for _, want := range []string{
				"(in 60 days)",
				"Front Door (" + setupPageID + ")  <- the page of the current FB_PAGE_TOKEN\n  FB_PAGE_TOKEN=" + setupPageToken + "\n",
				"Page 00 (200000000000100)\n  FB_PAGE_TOKEN=EAAGpage00Token\n",
				"Page 29 (200000000000129)\n  FB_PAGE_TOKEN=EAAGpage29Token\n",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("stdout lacks %q:\n%s", want, out)
				}
			}
			if n := strings.Count(out, "FB_PAGE_TOKEN=EAAG"); n != 31 {
				t.Errorf("%d page tokens printed, want 31", n)
			}
			if n := strings.Count(out, "<- the page"); n != 1 {
				t.Errorf("%d pages marked, want 1", n)
			}
		})
	}
}

func TestTokenExchangeFails(t *testing.T) {
	app := []string{"--app-id", setupAppID, "--app-secret", setupAppSecret}
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no app id", []string{"--app-secret", setupAppSecret, "--user-token", setupUserToken}, exitUsage, "no app id"},
		{"no app secret", []string{"--app-id", setupAppID, "--user-token", setupUserToken}, exitUsage, "no app secret"},
		{"no user token", app, exitUsage, "no user token"},
		{"stale user token", append(app, "--user-token", "EAAGstale"), exitFailure, "make a new one in the Graph API Explorer"},
		{"wrong secret", []string{"--app-id", setupAppID, "--app-secret", "wrong", "--user-token", setupUserToken}, exitFailure, "App settings → Basic"},
		{"wrong app", []string{"--app-id", "1", "--app-secret", setupAppSecret, "--user-token", setupUserToken}, exitFailure, "App settings → Basic"},
		{"argument", append(app, "now"), exitUsage, `unexpected argument "now"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newFakeGraph(t)
			useEnv(t, map[string]string{"FB_GRAPH_URL": s.URL})
			code, _, errOut := runCmd(t, nil, append([]string{"token", "exchange"}, tt.args...)...)
			if code != tt.code || !strings.Contains(errOut, tt.stderr) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d and %q", code, errOut, tt.code, tt.stderr)
			}
		})
	}
}

func TestTokenUsage(t *testing.T) {
	for _, args := range [][]string{{"token"}, {"token", "refresh"}} {
		if code, _, errOut := runCmd(t, nil, args...); code != exitUsage || !strings.Contains(errOut, "Usage:") {
			t.Errorf("%v: exit %d, stderr:\n%s", args, code, errOut)
		}
	}
}

// TestServiceWatchesToken runs the service as main does and watches the
// token state it publishes on bridge/info.
func TestServiceWatchesToken(t *testing.T) {
	soon := time.Now().Add(3 * 24 * time.Hour).Truncate(time.Second)
	tests := []struct {
		name    string
		info    graphtest.TokenInfo
		env     map[string]string
		state   string
		expires *time.Time
		log     string
	}{
		{"expires in 3 days", graphtest.TokenInfo{Type: "PAGE", ExpiresAt: soon, Scopes: graphtest.MessagingScopes},
			nil, bridge.TokenValid, &soon, "the page token expires soon"},
		{"expired, checked as the app", graphtest.TokenInfo{Type: "PAGE", ExpiresAt: time.Now().Add(-time.Hour), Scopes: graphtest.MessagingScopes},
			map[string]string{"FB_APP_ID": setupAppID, "FB_APP_SECRET": setupAppSecret}, bridge.TokenInvalid, nil, "the page token is not valid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newFakeGraph(t)
			s.SetTokenInfo(setupPageToken, tt.info)
			broker := mqtttest.Start(t)
			useEnv(t, merge(tt.env, map[string]string{
				"FB_PAGE_TOKEN": setupPageToken, "FB_GRAPH_URL": s.URL, "RECIPIENTS": "alice:" + alicePSID,
				"MQTT_URL": broker.URL, "MQTT_CLIENT_ID": "token-watch-test", "DATA_DIR": t.TempDir(),
			}))
			t.Setenv("HTTP_ADDR", "") // no health server
			cfg, err := config.Load()
			if err != nil {
				t.Fatal(err)
			}
			info := broker.Connect(t).Subscribe("messenger/bridge/info")
			var logs logtest.Buffer
			ctx, cancel := context.WithCancel(t.Context())
			stopped := make(chan error, 1)
			go func() { stopped <- serveWith(ctx, cfg, zerolog.New(&logs)) }()

			var published struct {
				Token bridge.TokenState `json:"token"`
			}
			mqtttest.Until(t, info, func(m mqtttest.Message) bool {
				return json.Unmarshal(m.Payload, &published) == nil && published.Token.State == tt.state &&
					(published.Token.ExpiresAt != nil) == (tt.expires != nil)
			})
			if tt.expires != nil && !published.Token.ExpiresAt.Equal(*tt.expires) {
				t.Errorf("expires_at %v, want %v", published.Token.ExpiresAt, *tt.expires)
			}
			if tt.state == bridge.TokenInvalid && !strings.Contains(published.Token.Problem, "token exchange") {
				t.Errorf("problem %q does not say what to do", published.Token.Problem)
			}
			cancel()
			if err := <-stopped; err != nil {
				t.Errorf("service: %v", err)
			}
			if !strings.Contains(logs.String(), tt.log) {
				t.Errorf("logs lack %q:\n%s", tt.log, logs.String())
			}
			if strings.Contains(logs.String(), setupPageToken) || strings.Contains(logs.String(), setupAppSecret) {
				t.Errorf("logs hold a secret:\n%s", logs.String())
			}
		})
	}
}
