package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

// Secrets the add-on handles, long and unusual so that a leak is found by a
// plain substring search.
const (
	supervisorToken = "SUPERVISORtoken0123456789SECRET"
	servicePassword = "MOSQUITTOaddonPASSWORD42SECRET"
	pageToken       = "EAAGaddonPAGEtoken0123456789SECRET"
)

// fakeSupervisor answers GET /services/mqtt as the Supervisor does, and
// counts the calls that carried its token.
type fakeSupervisor struct {
	*httptest.Server
	calls  atomic.Int32
	status int    // answer's status; 0 means 200
	body   string // answer's body; "" means the Mosquitto add-on's service
}

func newSupervisor(t *testing.T, status int, body string) *fakeSupervisor {
	t.Helper()
	s := &fakeSupervisor{status: status, body: body}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/services/mqtt" {
			http.Error(w, `{"result": "error", "message": "not found"}`, http.StatusNotFound)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+supervisorToken {
			http.Error(w, `{"result": "error", "message": "Unauthorized"}`, http.StatusUnauthorized)
			return
		}
		s.calls.Add(1)
		body := s.body
		if body == "" {
			body = `{"result": "ok", "data": {"host": "core-mosquitto", "port": 1883, "ssl": false,
				"protocol": "3.1.1", "username": "addons", "password": "` + servicePassword + `", "addon": "core_mosquitto"}}`
		}
		w.Header().Set("Content-Type", "application/json")
		if s.status != 0 {
			w.WriteHeader(s.status)
		}
		w.Write([]byte(body))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *fakeSupervisor) client(token string) supervisor {
	return supervisor{url: s.URL, token: token, client: s.Client()}
}

// optionsJSON is options.json as the Supervisor writes it for the defaults
// of config.yaml plus a page token, two people and a group, overlaid with
// extra.
func optionsJSON(t *testing.T, extra map[string]any) []byte {
	t.Helper()
	o := readAddon(t).Options
	o["page_token"] = pageToken
	o["recipients"] = []map[string]string{{"name": "alice", "psid": "26428272146817880"}, {"name": "bob", "psid": "7391000000000001"}}
	o["groups"] = []map[string]string{{"name": "family", "members": "alice, bob"}}
	for k, v := range extra {
		if v == nil {
			delete(o, k)
		} else {
			o[k] = v
		}
	}
	raw, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestRetiredTagIsSaidInTheLog(t *testing.T) {
	sup := newSupervisor(t, 0, "")
	var log strings.Builder
	options := optionsJSON(t, map[string]any{"messaging_type": "message_tag", "message_tag": "post_purchase_update"})
	env, err := environment(context.Background(), options, sup.client(supervisorToken), &log)
	if err != nil {
		t.Fatal(err)
	}
	if env["FB_MESSAGING_TYPE"] != "UPDATE" {
		t.Errorf("FB_MESSAGING_TYPE = %q, want UPDATE", env["FB_MESSAGING_TYPE"])
	}
	for _, want := range []string{"POST_PURCHASE_UPDATE", "2026-04-27", "Configuration tab", "utility_template"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log %q does not say %q", log.String(), want)
		}
	}
}

func TestEnvironmentFromDefaults(t *testing.T) {
	sup := newSupervisor(t, 0, "")
	env, err := environment(context.Background(), optionsJSON(t, nil), sup.client(supervisorToken), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"FB_PAGE_TOKEN": pageToken,
		"RECIPIENTS":    "alice:26428272146817880,bob:7391000000000001",
		"GROUPS":        "family:alice+bob",
		// A proactive alert within the 24-hour window, with no tag: Meta
		// refuses ACCOUNT_UPDATE and the other retired tags since 2026-04-27.
		"FB_MESSAGING_TYPE":        "UPDATE",
		"FB_UTILITY_TEMPLATE_LANG": "en_US",
		"RECEIVE":                  "poll",
		"POLL_INTERVAL":            "15s",
		"WINDOW_KEEPALIVE":         "2h",
		"MQTT_URL":                 "tcp://core-mosquitto:1883",
		"MQTT_USERNAME":            "addons",
		"MQTT_PASSWORD":            servicePassword,
		"MQTT_BASE_TOPIC":          "messenger",
		"HA_DISCOVERY":             "true",
		"HA_DISCOVERY_PREFIX":      "homeassistant",
		"MESSAGE_TTL":              "1h",
		"OUTBOX_MAX":               "10000",
		"OUTBOX_MAX_BYTES":         "256MB",
		"SEND_RATE":                "20",
		"LOG_LEVEL":                "info",
		"LOG_FORMAT":               "console",
		"DATA_DIR":                 "/data",
	}
	if !equalEnv(env, want) {
		t.Fatalf("environment:\n got %v\nwant %v", env, want)
	}
	if n := sup.calls.Load(); n != 1 {
		t.Fatalf("asked the Supervisor %d times, want once", n)
	}
}

func equalEnv(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestEnvironmentChoices(t *testing.T) {
	tests := []struct {
		name      string
		options   map[string]any
		asks      bool              // whether the Supervisor is asked
		want      map[string]string // variables checked; "" means unset
		wantError string
	}{
		{
			name:    "own broker: the Supervisor is not asked",
			options: map[string]any{"mqtt_url": "mqtts://broker.lan:8883", "mqtt_username": "me", "mqtt_password": "pw"},
			want:    map[string]string{"MQTT_URL": "mqtts://broker.lan:8883", "MQTT_USERNAME": "me", "MQTT_PASSWORD": "pw"},
		},
		{
			name:    "own user on the add-on's broker",
			options: map[string]any{"mqtt_username": "bridge", "mqtt_password": "pw"},
			asks:    true,
			want:    map[string]string{"MQTT_URL": "tcp://core-mosquitto:1883", "MQTT_USERNAME": "bridge", "MQTT_PASSWORD": "pw"},
		},
		{
			name:    "a Home Assistant token without a URL reaches Home Assistant inside",
			options: map[string]any{"ha_token": "llat"},
			asks:    true,
			want:    map[string]string{"HA_URL": "http://homeassistant:8123", "HA_TOKEN": "llat"},
		},
		{
			name:    "a Home Assistant URL is kept",
			options: map[string]any{"ha_token": "llat", "ha_url": "https://ha.example.org"},
			asks:    true,
			want:    map[string]string{"HA_URL": "https://ha.example.org"},
		},
		{
			name:    "media folders, groups typed with plus signs, a fractional rate",
			options: map[string]any{"media_dirs": []string{"/media", " ", "/share/snapshots"}, "groups": []map[string]string{{"name": "kids", "members": "carol+dave  erin"}}, "send_rate": 0.5},
			asks:    true,
			want:    map[string]string{"MEDIA_DIRS": "/media,/share/snapshots", "GROUPS": "kids:carol+dave+erin", "SEND_RATE": "0.5"},
		},
		{
			name:    "an outbox bounded by bytes as typed",
			options: map[string]any{"outbox_max_bytes": " 1.5GB ", "outbox_max": 500},
			asks:    true,
			want:    map[string]string{"OUTBOX_MAX_BYTES": "1.5GB", "OUTBOX_MAX": "500"},
		},
		{
			name:    "optional options left out stay unset",
			options: map[string]any{"groups": []map[string]string{}, "app_secret": nil},
			asks:    true,
			want:    map[string]string{"GROUPS": "", "FB_APP_SECRET": "", "HA_URL": "", "MEDIA_DIRS": ""},
		},
		{
			name:    "a utility template for people whose window is closed",
			options: map[string]any{"utility_template": " home_alert ", "utility_template_lang": "pt_BR"},
			asks:    true,
			want:    map[string]string{"FB_UTILITY_TEMPLATE": "home_alert", "FB_UTILITY_TEMPLATE_LANG": "pt_BR", "FB_MESSAGE_TAG": ""},
		},
		{
			name:    "a tag, which only MESSAGE_TAG sends",
			options: map[string]any{"messaging_type": "MESSAGE_TAG", "message_tag": "HUMAN_AGENT"},
			asks:    true,
			want:    map[string]string{"FB_MESSAGING_TYPE": "MESSAGE_TAG", "FB_MESSAGE_TAG": "HUMAN_AGENT", "FB_UTILITY_TEMPLATE": ""},
		},
		{
			name:    "a retired tag kept from an old install becomes UPDATE",
			options: map[string]any{"messaging_type": "MESSAGE_TAG", "message_tag": "ACCOUNT_UPDATE"},
			asks:    true,
			want:    map[string]string{"FB_MESSAGING_TYPE": "UPDATE", "FB_MESSAGE_TAG": ""},
		},
		{
			name:    "a tag cleared in the Configuration tab stays unset",
			options: map[string]any{"message_tag": ""},
			asks:    true,
			want:    map[string]string{"FB_MESSAGING_TYPE": "UPDATE", "FB_MESSAGE_TAG": ""},
		},
		{
			name:      "no page token",
			options:   map[string]any{"page_token": ""},
			wantError: "option page_token",
		},
		{
			name:      "no recipients",
			options:   map[string]any{"recipients": []map[string]string{}},
			wantError: "option recipients",
		},
		{
			name:      "a wrong type names the option",
			options:   map[string]any{"recipients": "alice:1"},
			wantError: "option recipients: want a list",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sup := newSupervisor(t, 0, "")
			env, err := environment(context.Background(), optionsJSON(t, tt.options), sup.client(supervisorToken), io.Discard)
			if tt.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantError) {
					t.Fatalf("error %v, want one saying %q", err, tt.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.want {
				if got, set := env[k]; got != v || (v == "") == set {
					t.Errorf("%s = %q (set %v), want %q", k, got, set, v)
				}
			}
			if asked := sup.calls.Load() > 0; asked != tt.asks {
				t.Errorf("asked the Supervisor: %v, want %v", asked, tt.asks)
			}
		})
	}
}

func TestSupervisorFailures(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		token  string
		says   string
	}{
		{"no MQTT service", http.StatusBadRequest, `{"result": "error", "message": "No available MQTT service"}`, supervisorToken, "No available MQTT service"},
		{"no token", 0, "", "", "no SUPERVISOR_TOKEN"},
		{"token refused", 0, "", "wrong", "401 Unauthorized"},
		{"not JSON", http.StatusBadGateway, "<html>bad gateway</html>", supervisorToken, "502 Bad Gateway"},
		{"no host", 0, `{"result": "ok", "data": {"port": 1883}}`, supervisorToken, "names no host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sup := newSupervisor(t, tt.status, tt.body)
			_, err := environment(context.Background(), optionsJSON(t, nil), sup.client(tt.token), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("error %v, want one saying %q", err, tt.says)
			}
			if !strings.Contains(err.Error(), "mqtt_url") {
				t.Errorf("error %q does not say how to give the add-on a broker", err)
			}
			for _, secret := range []string{supervisorToken, servicePassword, pageToken} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q shows a secret", err)
				}
			}
		})
	}
}

func TestRunExecsTheBridge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "options.json")
	if err := os.WriteFile(path, optionsJSON(t, nil), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SUPERVISOR_TOKEN", supervisorToken)
	t.Setenv("TZ", "Europe/Berlin")
	t.Setenv("MQTT_URL", "tcp://stale:1883") // the options win over the container's own
	sup := newSupervisor(t, 0, "")

	var argv0 string
	var argv, envv []string
	err := run(context.Background(), path, sup.client(supervisorToken), func(a0 string, a, e []string) error {
		argv0, argv, envv = a0, a, e
		return errors.New("exec stopped by the test")
	})
	if err == nil || !strings.Contains(err.Error(), "exec stopped by the test") {
		t.Fatalf("run: %v, want the exec error", err)
	}
	if argv0 != "/messenger-bridge" || !slices.Equal(argv, []string{"/messenger-bridge", "run"}) {
		t.Fatalf("exec %s %v, want /messenger-bridge run", argv0, argv)
	}
	for _, want := range []string{"TZ=Europe/Berlin", "MQTT_URL=tcp://core-mosquitto:1883", "FB_PAGE_TOKEN=" + pageToken, "DATA_DIR=/data"} {
		if !slices.Contains(envv, want) {
			t.Errorf("the bridge's environment lacks %s", want)
		}
	}
	for _, kv := range envv {
		if strings.HasPrefix(kv, "SUPERVISOR_TOKEN=") || kv == "MQTT_URL=tcp://stale:1883" {
			t.Errorf("the bridge's environment holds %s", kv)
		}
	}
}

func TestRunWithoutOptions(t *testing.T) {
	err := run(context.Background(), filepath.Join(t.TempDir(), "missing.json"), supervisor{}, func(string, []string, []string) error {
		t.Fatal("exec without options")
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "options") {
		t.Fatalf("run without options.json: %v", err)
	}
}

func TestBroker(t *testing.T) {
	tests := []struct {
		b       broker
		url, is string
	}{
		{broker{Host: "core-mosquitto", Port: 1883, Username: "addons", Password: servicePassword}, "tcp://core-mosquitto:1883", "tcp://core-mosquitto:1883 as addons"},
		{broker{Host: "core-mosquitto", Port: 8883, SSL: true}, "ssl://core-mosquitto:8883", "ssl://core-mosquitto:8883"},
		{broker{Host: "fd00::5", Port: 1883}, "tcp://[fd00::5]:1883", "tcp://[fd00::5]:1883"},
	}
	for _, tt := range tests {
		if got := tt.b.URL(); got != tt.url {
			t.Errorf("URL() = %q, want %q", got, tt.url)
		}
		for _, printed := range []string{tt.b.String(), fmt.Sprint(tt.b), fmt.Sprintf("%v", tt.b)} {
			if printed != tt.is {
				t.Errorf("printed %q, want %q without the password", printed, tt.is)
			}
		}
	}
}
