package config

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/messenger-bridge/messenger-bridge/household"
	"time"
)

// specVars are the variables SPEC.md section 1 lists, with the _FILE
// variants of the secrets.
var specVars = []string{
	"FB_PAGE_TOKEN", "FB_PAGE_TOKEN_FILE", "FB_APP_SECRET", "FB_APP_SECRET_FILE", "FB_APP_ID",
	"FB_GRAPH_URL", "FB_GRAPH_VERSION", "FB_MESSAGING_TYPE", "FB_MESSAGE_TAG",
	"FB_UTILITY_TEMPLATE", "FB_UTILITY_TEMPLATE_LANG",
	"RECIPIENTS", "GROUPS",
	"RECEIVE", "POLL_INTERVAL", "WEBHOOK_ADDR", "WEBHOOK_PATH", "FB_VERIFY_TOKEN", "FB_VERIFY_TOKEN_FILE",
	"WINDOW_KEEPALIVE", "WINDOW_KEEPALIVE_TEXT",
	"MQTT_URL", "MQTT_USERNAME", "MQTT_PASSWORD", "MQTT_PASSWORD_FILE", "MQTT_CLIENT_ID", "MQTT_BASE_TOPIC",
	"MQTT_CA_FILE", "MQTT_CERT_FILE", "MQTT_KEY_FILE", "MQTT_INSECURE",
	"HA_DISCOVERY", "HA_DISCOVERY_PREFIX", "HA_URL", "HA_TOKEN", "HA_TOKEN_FILE",
	"MEDIA_DIRS", "DATA_DIR", "MESSAGE_TTL", "OUTBOX_MAX", "OUTBOX_MAX_BYTES", "SEND_RATE", "HTTP_ADDR", "LOG_LEVEL", "LOG_FORMAT",
}

// Secret values used by the tests; no error may contain them.
const (
	token    = "EAAGtestPageTokenZZ9"
	password = "mqttPassw0rdZZ9"
)

// setenv makes env the only configuration variables set for the test.
func setenv(t *testing.T, env map[string]string) {
	t.Helper()
	for _, name := range specVars {
		t.Setenv(name, "") // registers the restore of the old value
		if err := os.Unsetenv(name); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
}

// base is the smallest valid environment with kv ("NAME", "value", ...)
// added or replaced.
func base(kv ...string) map[string]string {
	env := map[string]string{"FB_PAGE_TOKEN": token, "RECIPIENTS": "alice:26428272146817880"}
	for i := 0; i < len(kv); i += 2 {
		env[kv[i]] = kv[i+1]
	}
	return env
}

// defaults is what Load returns for base().
func defaults() Config {
	return Config{
		PageToken:           NewSecret(token),
		GraphURL:            "https://graph.facebook.com",
		GraphVersion:        "v25.0",
		MessagingType:       "UPDATE",
		UtilityTemplateLang: "en_US",
		Receive:             "poll",
		PollInterval:        15 * time.Second,
		WebhookAddr:         ":8443",
		WebhookPath:         "/webhook",
		WindowKeepalive:     2 * time.Hour,
		WindowKeepaliveText: "Tap below to keep getting home alerts here.",
		Recipients:          []household.Recipient{{Name: "alice", PSID: "26428272146817880"}},
		MQTTURL:             "tcp://localhost:1883",
		MQTTClientID:        "messenger-bridge",
		BaseTopic:           "messenger",
		Discovery:           true,
		DiscoveryPrefix:     "homeassistant",
		DataDir:             "./data",
		MessageTTL:          time.Hour,
		OutboxMax:           10000,
		OutboxMaxBytes:      256 << 20,
		SendRate:            20,
		HTTPAddr:            ":8080",
		LogLevel:            "info",
		LogFormat:           "auto",
	}
}

// writeFile creates a file holding content in dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadValid(t *testing.T) {
	dir := t.TempDir()
	ca := writeFile(t, dir, "ca.pem", "ca")
	cert := writeFile(t, dir, "cert.pem", "cert")
	key := writeFile(t, dir, "key.pem", "key")

	tests := []struct {
		name string
		env  map[string]string
		want func(*Config) // applied to defaults()
	}{
		{"defaults", base(), func(*Config) {}},
		{"every variable", map[string]string{
			"FB_PAGE_TOKEN": token, "FB_APP_SECRET": "appsecret", "FB_APP_ID": "1234567890",
			"FB_GRAPH_URL": "http://127.0.0.1:8080/graph", "FB_GRAPH_VERSION": "v26.1",
			"FB_MESSAGING_TYPE": "RESPONSE", "FB_MESSAGE_TAG": "",
			"FB_UTILITY_TEMPLATE": "home_alert", "FB_UTILITY_TEMPLATE_LANG": "de_DE",
			"RECIPIENTS": "alice:1,bob:2,carol:3", "GROUPS": "family:alice+bob,all:carol+bob+alice",
			"MQTT_URL": "mqtts://broker.lan:8884", "MQTT_USERNAME": "bridge", "MQTT_PASSWORD": password,
			"MQTT_CLIENT_ID": "mb-1", "MQTT_BASE_TOPIC": "home/messenger",
			"MQTT_CA_FILE": ca, "MQTT_CERT_FILE": cert, "MQTT_KEY_FILE": key, "MQTT_INSECURE": "true",
			"HA_DISCOVERY": "false", "HA_DISCOVERY_PREFIX": "ha", "HA_URL": "http://homeassistant.local:8123", "HA_TOKEN": "hatoken",
			"MEDIA_DIRS": "/media,/config/www", "DATA_DIR": "/data", "MESSAGE_TTL": "90s", "OUTBOX_MAX": "5", "OUTBOX_MAX_BYTES": "1.5GB",
			"SEND_RATE": "2.5", "HTTP_ADDR": "127.0.0.1:9000", "LOG_LEVEL": "trace", "LOG_FORMAT": "json",
		}, func(c *Config) {
			c.AppSecret, c.AppID = NewSecret("appsecret"), "1234567890"
			c.GraphURL, c.GraphVersion = "http://127.0.0.1:8080/graph", "v26.1"
			c.MessagingType, c.MessageTag = "RESPONSE", ""
			c.UtilityTemplate, c.UtilityTemplateLang = "home_alert", "de_DE"
			c.Recipients = []household.Recipient{{Name: "alice", PSID: "1"}, {Name: "bob", PSID: "2"}, {Name: "carol", PSID: "3"}}
			c.Groups = []household.Group{{Name: "family", Members: []string{"alice", "bob"}}, {Name: "all", Members: []string{"carol", "bob", "alice"}}}
			c.MQTTURL, c.MQTTUsername, c.MQTTPassword = "mqtts://broker.lan:8884", "bridge", NewSecret(password)
			c.MQTTClientID, c.BaseTopic = "mb-1", "home/messenger"
			c.CAFile, c.CertFile, c.KeyFile, c.Insecure = ca, cert, key, true
			c.Discovery, c.DiscoveryPrefix = false, "ha"
			c.HAURL, c.HAToken = "http://homeassistant.local:8123", NewSecret("hatoken")
			c.MediaDirs, c.DataDir = []string{"/media", "/config/www"}, "/data"
			c.MessageTTL, c.OutboxMax, c.OutboxMaxBytes, c.SendRate = 90*time.Second, 5, 3<<29, 2.5
			c.HTTPAddr, c.LogLevel, c.LogFormat = "127.0.0.1:9000", "trace", "json"
		}},
		{"spaces around entries", base(
			"RECIPIENTS", " alice : 1 ,  bob:22 ", "GROUPS", " family : bob + alice , duo:alice+alice+bob",
		), func(c *Config) {
			c.Recipients = []household.Recipient{{Name: "alice", PSID: "1"}, {Name: "bob", PSID: "22"}}
			c.Groups = []household.Group{{Name: "family", Members: []string{"bob", "alice"}}, {Name: "duo", Members: []string{"alice", "alice", "bob"}}}
		}},
		{"names at the limits", base("RECIPIENTS", "a:1,"+strings.Repeat("z", 64)+":"+strings.Repeat("9", 32)), func(c *Config) {
			c.Recipients = []household.Recipient{{Name: "a", PSID: "1"}, {Name: strings.Repeat("z", 64), PSID: strings.Repeat("9", 32)}}
		}},
		{"case normalised", base(
			"FB_MESSAGING_TYPE", " message_tag", "FB_MESSAGE_TAG", "human_agent", "LOG_LEVEL", "DEBUG", "LOG_FORMAT", " Console ",
		), func(c *Config) {
			c.MessagingType, c.MessageTag, c.LogLevel, c.LogFormat = "MESSAGE_TAG", "HUMAN_AGENT", "debug", "console"
			c.Warnings = []string{"FB_MESSAGE_TAG=HUMAN_AGENT needs the Human Agent permission (App Review) and is meant for messages a person writes, up to 7 days after the person wrote; for alerts set FB_MESSAGING_TYPE=UPDATE and FB_UTILITY_TEMPLATE"}
		}},
		{"tag without MESSAGE_TAG ignored", base("FB_MESSAGE_TAG", "HUMAN_AGENT"), func(c *Config) {
			c.Warnings = []string{"FB_MESSAGE_TAG=HUMAN_AGENT is ignored: it is sent only with FB_MESSAGING_TYPE=MESSAGE_TAG"}
		}},
		{"template language without region", base("FB_UTILITY_TEMPLATE", "door_2", "FB_UTILITY_TEMPLATE_LANG", " fr "), func(c *Config) {
			c.UtilityTemplate, c.UtilityTemplateLang = "door_2", "fr"
		}},
		{"tcp port filled in", base("MQTT_URL", "tcp://broker"), func(c *Config) { c.MQTTURL = "tcp://broker:1883" }},
		{"mqtt is tcp", base("MQTT_URL", "mqtt://broker"), func(c *Config) { c.MQTTURL = "mqtt://broker:1883" }},
		{"ssl port filled in", base("MQTT_URL", "SSL://broker"), func(c *Config) { c.MQTTURL = "ssl://broker:8883" }},
		{"ipv6 port filled in", base("MQTT_URL", "tls://[fd00::1]"), func(c *Config) { c.MQTTURL = "tls://[fd00::1]:8883" }},
		{"websocket unchanged", base("MQTT_URL", "wss://broker/mqtt"), func(c *Config) { c.MQTTURL = "wss://broker/mqtt" }},
		{"trailing slashes trimmed", base("FB_GRAPH_URL", "http://127.0.0.1:1234/", "HA_URL", "https://ha.example.com/ha//"), func(c *Config) {
			c.GraphURL, c.HAURL = "http://127.0.0.1:1234", "https://ha.example.com/ha"
		}},
		{"urls lose surrounding white space", base(
			"FB_GRAPH_URL", " http://127.0.0.1:1234\n", "HA_URL", "http://ha.local:8123/\r\n", "MQTT_URL", "\ttcp://broker\n",
		), func(c *Config) {
			c.GraphURL, c.HAURL, c.MQTTURL = "http://127.0.0.1:1234", "http://ha.local:8123", "tcp://broker:1883"
		}},
		{"media dirs cleaned", base("MEDIA_DIRS", " /media/snapshots/ , /srv//www/../img"), func(c *Config) {
			c.MediaDirs = []string{"/media/snapshots", "/srv/img"}
		}},
		{"http server disabled", base("HTTP_ADDR", ""), func(c *Config) { c.HTTPAddr = "" }},
		{"send rate unlimited", base("SEND_RATE", "0"), func(c *Config) { c.SendRate = 0 }},
		{"webhook", base("RECEIVE", " Webhook", "FB_APP_SECRET", "appsecret", "FB_VERIFY_TOKEN", "verify-me", "WEBHOOK_ADDR", "127.0.0.1:9443",
			"WINDOW_KEEPALIVE", "0", "POLL_INTERVAL", "5s"), func(c *Config) {
			c.Receive, c.AppSecret, c.VerifyToken, c.WebhookAddr = "webhook", NewSecret("appsecret"), NewSecret("verify-me"), "127.0.0.1:9443"
			c.WindowKeepalive, c.PollInterval = 0, 5*time.Second
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setenv(t, tt.env)
			got, err := Load()
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			want := defaults()
			tt.want(&want)
			if got.Household == nil || len(got.Household.Names()) != len(want.Recipients)+len(want.Groups) {
				t.Errorf("Household = %v, want one of the %d recipients and %d groups", got.Household, len(want.Recipients), len(want.Groups))
			}
			got.Household = nil
			if (got.HA == nil) != (got.HAURL == "") || got.HA != nil && got.HA.String() != got.HAURL {
				t.Errorf("HA = %v, want HA_URL %q parsed", got.HA, got.HAURL)
			}
			got.HA = nil
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("Load\n got %#v\nwant %#v", *got, want)
			}
		})
	}
}

func TestLoadInvalid(t *testing.T) {
	dir := t.TempDir()
	ca := writeFile(t, dir, "ca.pem", "ca")
	empty := writeFile(t, dir, "empty", " \n")
	huge := writeFile(t, dir, "huge", token+strings.Repeat("x", maxSecretFile))
	missing := filepath.Join(dir, "missing")

	tests := []struct {
		name    string
		env     map[string]string
		wantVar string
		want    string // a fragment of the message
	}{
		{"no token", base("FB_PAGE_TOKEN", ""), "FB_PAGE_TOKEN", "required (set it or FB_PAGE_TOKEN_FILE)"},
		{"nothing set", map[string]string{}, "FB_PAGE_TOKEN", "required"},
		{"token twice", base("FB_PAGE_TOKEN_FILE", ca), "FB_PAGE_TOKEN", "set together with FB_PAGE_TOKEN_FILE"},
		{"token file missing", base("FB_PAGE_TOKEN", "", "FB_PAGE_TOKEN_FILE", missing), "FB_PAGE_TOKEN_FILE", "no such file or directory"},
		{"token file is a directory", base("FB_PAGE_TOKEN", "", "FB_PAGE_TOKEN_FILE", dir), "FB_PAGE_TOKEN_FILE", "is a directory"},
		{"token file empty", base("FB_PAGE_TOKEN", "", "FB_PAGE_TOKEN_FILE", empty), "FB_PAGE_TOKEN_FILE", "is empty"},
		{"token file huge", base("FB_PAGE_TOKEN", "", "FB_PAGE_TOKEN_FILE", huge), "FB_PAGE_TOKEN_FILE", "larger than 64 KiB"},
		{"app secret twice", base("FB_APP_SECRET", "s", "FB_APP_SECRET_FILE", ca), "FB_APP_SECRET", "FB_APP_SECRET_FILE"},
		{"app id not numeric", base("FB_APP_ID", "12ab"), "FB_APP_ID", `numeric app id, got "12ab"`},
		{"graph url scheme", base("FB_GRAPH_URL", "ftp://graph.facebook.com"), "FB_GRAPH_URL", `got "ftp://graph.facebook.com"`},
		{"graph url no scheme", base("FB_GRAPH_URL", "graph.facebook.com"), "FB_GRAPH_URL", "http:// or https://"},
		{"graph url malformed", base("FB_GRAPH_URL", "http://[::1"), "FB_GRAPH_URL", "not a valid URL"},
		{"graph url credentials", base("FB_GRAPH_URL", "https://page:"+token+"@graph.facebook.com"), "FB_GRAPH_URL", "must not contain a user name or password"},
		{"graph version", base("FB_GRAPH_VERSION", "25.0"), "FB_GRAPH_VERSION", `v25.0, got "25.0"`},
		{"graph version minor", base("FB_GRAPH_VERSION", "v25"), "FB_GRAPH_VERSION", "vMAJOR.MINOR"},
		{"messaging type", base("FB_MESSAGING_TYPE", "PROMO"), "FB_MESSAGING_TYPE", `RESPONSE, UPDATE or MESSAGE_TAG, got "PROMO"`},
		{"tag missing", base("FB_MESSAGING_TYPE", "MESSAGE_TAG", "FB_MESSAGE_TAG", " "), "FB_MESSAGE_TAG", "required when FB_MESSAGING_TYPE is MESSAGE_TAG"},
		{"retired tag", base("FB_MESSAGING_TYPE", "MESSAGE_TAG", "FB_MESSAGE_TAG", "ACCOUNT_UPDATE"), "FB_MESSAGE_TAG",
			"Meta refuses the tag ACCOUNT_UPDATE since 2026-04-27 (error 100/1893061), even inside the 24-hour window: unset FB_MESSAGE_TAG and set FB_MESSAGING_TYPE=UPDATE"},
		{"retired tag, lower case", base("FB_MESSAGING_TYPE", "message_tag", "FB_MESSAGE_TAG", "confirmed_event_update"), "FB_MESSAGE_TAG", "refuses the tag CONFIRMED_EVENT_UPDATE since 2026-04-27"},
		{"retired tag, post purchase", base("FB_MESSAGING_TYPE", "MESSAGE_TAG", "FB_MESSAGE_TAG", "POST_PURCHASE_UPDATE"), "FB_MESSAGE_TAG", "refuses the tag POST_PURCHASE_UPDATE"},
		{"retired tag with the default messaging type", base("FB_MESSAGE_TAG", "ACCOUNT_UPDATE"), "FB_MESSAGE_TAG", "refuses the tag ACCOUNT_UPDATE since 2026-04-27"},
		{"receive mode", base("RECEIVE", "push"), "RECEIVE", `want poll, webhook or off, got "push"`},
		{"poll too often", base("POLL_INTERVAL", "2s"), "POLL_INTERVAL", "at least 5s"},
		{"keep-alive too late", base("WINDOW_KEEPALIVE", "25h"), "WINDOW_KEEPALIVE", "up to 23h0m0s"},
		{"webhook without app secret", base("RECEIVE", "webhook", "FB_VERIFY_TOKEN", "v"), "FB_APP_SECRET", "required with RECEIVE=webhook"},
		{"webhook without verify token", base("RECEIVE", "webhook", "FB_APP_SECRET", "s"), "FB_VERIFY_TOKEN", "required with RECEIVE=webhook"},
		{"webhook path", base("RECEIVE", "webhook", "FB_APP_SECRET", "s", "FB_VERIFY_TOKEN", "v", "WEBHOOK_PATH", "hook"), "WEBHOOK_PATH", "starting with /"},
		{"template name", base("FB_UTILITY_TEMPLATE", "Home Alert"), "FB_UTILITY_TEMPLATE", `lowercase letters, digits and _, such as home_alert, got "Home Alert"`},
		{"template language", base("FB_UTILITY_TEMPLATE", "home_alert", "FB_UTILITY_TEMPLATE_LANG", "english"), "FB_UTILITY_TEMPLATE_LANG", `such as en_US, got "english"`},
		{"no recipients", base("RECIPIENTS", " "), "RECIPIENTS", "required"},
		{"recipient without psid", base("RECIPIENTS", "alice"), "RECIPIENTS", `"alice": want name:PSID`},
		{"recipient upper case", base("RECIPIENTS", "Alice:1"), "RECIPIENTS", `"Alice" is not a valid name`},
		{"recipient empty name", base("RECIPIENTS", ":1"), "RECIPIENTS", `"" is not a valid name`},
		{"recipient name too long", base("RECIPIENTS", strings.Repeat("a", 65)+":1"), "RECIPIENTS", "not a valid name"},
		{"psid not digits", base("RECIPIENTS", "alice:12ab"), "RECIPIENTS", `"alice": the PSID must be 1 to 32 digits, got "12ab"`},
		{"psid empty", base("RECIPIENTS", "alice:"), "RECIPIENTS", "PSID must be"},
		{"psid too long", base("RECIPIENTS", "alice:"+strings.Repeat("1", 33)), "RECIPIENTS", "PSID must be"},
		{"recipient twice", base("RECIPIENTS", "alice:1,bob:2,alice:3"), "RECIPIENTS", `"alice" is listed twice`},
		{"recipient stray comma", base("RECIPIENTS", "alice:1,"), "RECIPIENTS", "empty entry"},
		{"group without members", base("GROUPS", "family"), "GROUPS", `"family": want group:name+name`},
		{"group empty", base("GROUPS", "family: "), "GROUPS", `group "family" has no members`},
		{"group empty member", base("GROUPS", "family:alice++alice"), "GROUPS", "empty member"},
		{"group bad name", base("GROUPS", "Family:alice"), "GROUPS", `"Family" is not a valid name`},
		{"group bad member", base("GROUPS", "family:al ice"), "GROUPS", `group "family": "al ice" is not a valid name`},
		{"group unknown member", base("GROUPS", "family:alice+carol"), "GROUPS", `group "family": "carol" is not in RECIPIENTS`},
		{"group named like recipient", base("GROUPS", "alice:alice"), "GROUPS", `group "alice" has the name of a recipient`},
		{"group twice", base("GROUPS", "fam:alice,fam:alice"), "GROUPS", `group "fam" is listed twice`},
		{"group stray comma", base("GROUPS", ",fam:alice"), "GROUPS", "empty entry"},
		{"mqtt url without scheme", base("MQTT_URL", "localhost:1883"), "MQTT_URL", `tcp://localhost:1883 (tcp, mqtt, ssl, tls, mqtts, ws or wss), got "localhost:1883"`},
		{"mqtt url http", base("MQTT_URL", "http://broker"), "MQTT_URL", "want a broker URL"},
		{"mqtt url no host", base("MQTT_URL", "tcp://:1883"), "MQTT_URL", "want a broker URL"},
		{"mqtt url credentials", base("MQTT_URL", "tcp://bridge:"+token+"@broker"), "MQTT_URL", "set MQTT_USERNAME and MQTT_PASSWORD instead"},
		{"mqtt url credentials malformed", base("MQTT_URL", "tcp://bridge:"+token+"@broker:x"), "MQTT_URL", "not a valid URL"},
		{"mqtt password alone", base("MQTT_PASSWORD", password), "MQTT_PASSWORD", "without MQTT_USERNAME"},
		{"mqtt password twice", base("MQTT_USERNAME", "u", "MQTT_PASSWORD", password, "MQTT_PASSWORD_FILE", ca), "MQTT_PASSWORD", "MQTT_PASSWORD_FILE"},
		{"client id empty", base("MQTT_CLIENT_ID", ""), "MQTT_CLIENT_ID", "must not be empty"},
		{"base topic empty", base("MQTT_BASE_TOPIC", ""), "MQTT_BASE_TOPIC", "must not be empty"},
		{"base topic wildcard", base("MQTT_BASE_TOPIC", "home/+"), "MQTT_BASE_TOPIC", `wildcards + or #, got "home/+"`},
		{"base topic hash", base("MQTT_BASE_TOPIC", "home#"), "MQTT_BASE_TOPIC", "wildcards"},
		{"base topic leading slash", base("MQTT_BASE_TOPIC", "/messenger"), "MQTT_BASE_TOPIC", "start or end with /"},
		{"base topic trailing slash", base("MQTT_BASE_TOPIC", "messenger/"), "MQTT_BASE_TOPIC", "start or end with /"},
		{"base topic system", base("MQTT_BASE_TOPIC", "$SYS/x"), "MQTT_BASE_TOPIC", "must not start with $"},
		{"ca without tls", base("MQTT_CA_FILE", ca), "MQTT_CA_FILE", "has no effect with MQTT_URL tcp://localhost:1883"},
		{"insecure without tls", base("MQTT_INSECURE", "true"), "MQTT_INSECURE", "has no effect"},
		{"insecure not bool", base("MQTT_INSECURE", "maybe"), "MQTT_INSECURE", `want true or false, got "maybe"`},
		{"cert without key", base("MQTT_URL", "ssl://b", "MQTT_CERT_FILE", ca), "MQTT_KEY_FILE", "required when MQTT_CERT_FILE is set"},
		{"key without cert", base("MQTT_URL", "ssl://b", "MQTT_KEY_FILE", ca), "MQTT_CERT_FILE", "required when MQTT_KEY_FILE is set"},
		{"ca missing", base("MQTT_URL", "wss://b", "MQTT_CA_FILE", missing), "MQTT_CA_FILE", "no such file or directory"},
		{"discovery not bool", base("HA_DISCOVERY", "yes"), "HA_DISCOVERY", `want true or false, got "yes"`},
		{"discovery prefix wildcard", base("HA_DISCOVERY_PREFIX", "home/#"), "HA_DISCOVERY_PREFIX", "wildcards"},
		{"ha url no scheme", base("HA_URL", "homeassistant.local:8123"), "HA_URL", "http:// or https://"},
		{"ha url line break inside", base("HA_URL", "http://ha.local\n:8123"), "HA_URL", "not a valid URL"},
		{"ha url credentials", base("HA_URL", "http://user:"+token+"@ha"), "HA_URL", "set HA_TOKEN instead"},
		{"ha token without url", base("HA_TOKEN", "abc"), "HA_TOKEN", "HA_URL is empty"},
		{"ha token twice", base("HA_URL", "http://ha", "HA_TOKEN", "abc", "HA_TOKEN_FILE", ca), "HA_TOKEN", "HA_TOKEN_FILE"},
		{"media dir relative", base("MEDIA_DIRS", "/media,snapshots"), "MEDIA_DIRS", `"snapshots" is not an absolute path`},
		{"media dir empty entry", base("MEDIA_DIRS", "/media,,/www"), "MEDIA_DIRS", "empty entry"},
		{"data dir empty", base("DATA_DIR", ""), "DATA_DIR", "must not be empty"},
		{"ttl zero", base("MESSAGE_TTL", "0s"), "MESSAGE_TTL", "must be positive, got 0s"},
		{"ttl negative", base("MESSAGE_TTL", "-1m"), "MESSAGE_TTL", "must be positive"},
		{"ttl words", base("MESSAGE_TTL", "1 hour"), "MESSAGE_TTL", `duration such as 90s, 15m or 1h, got "1 hour"`},
		{"outbox zero", base("OUTBOX_MAX", "0"), "OUTBOX_MAX", "must be positive, got 0"},
		{"outbox words", base("OUTBOX_MAX", "many"), "OUTBOX_MAX", `want a whole number, got "many"`},
		{"outbox bytes zero", base("OUTBOX_MAX_BYTES", "0MB"), "OUTBOX_MAX_BYTES", "must be positive, got 0B"},
		{"outbox bytes unit", base("OUTBOX_MAX_BYTES", "256 megs"), "OUTBOX_MAX_BYTES", `want a size such as 256MB, 1GB, 500kB or a number of bytes, got "256 megs"`},
		{"send rate negative", base("SEND_RATE", "-1"), "SEND_RATE", "0 or more (0 lifts the limit), got -1"},
		{"send rate nan", base("SEND_RATE", "NaN"), "SEND_RATE", "got NaN"},
		{"send rate infinite", base("SEND_RATE", "Inf"), "SEND_RATE", "got +Inf"},
		{"send rate words", base("SEND_RATE", "fast"), "SEND_RATE", `want a number, got "fast"`},
		{"http addr without colon", base("HTTP_ADDR", "8080"), "HTTP_ADDR", `host:port such as :8080 (empty disables the server), got "8080"`},
		{"log level", base("LOG_LEVEL", "verbose"), "LOG_LEVEL", `want trace, debug, info, warn or error, got "verbose"`},
		{"log format", base("LOG_FORMAT", "text"), "LOG_FORMAT", `want json, console or auto, got "text"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setenv(t, tt.env)
			c, err := Load()
			if err == nil {
				t.Fatalf("Load = %+v, want an error", c)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Load error %v (%T) is not an *Error", err, err)
			}
			msg := err.Error()
			if e.Var != tt.wantVar || !strings.HasPrefix(msg, tt.wantVar+": ") || !strings.Contains(msg, tt.want) {
				t.Errorf("Load error = %q (Var %q), want Var %q and %q", msg, e.Var, tt.wantVar, tt.want)
			}
			if strings.ContainsAny(msg, "\r\n") {
				t.Errorf("Load error %q spans lines", msg)
			}
			for _, secret := range []string{token, password} {
				if strings.Contains(msg, secret) {
					t.Errorf("Load error %q reveals a secret", msg)
				}
			}
		})
	}
}

func TestLoadUnwrapsFileErrors(t *testing.T) {
	setenv(t, base("FB_PAGE_TOKEN", "", "FB_PAGE_TOKEN_FILE", filepath.Join(t.TempDir(), "missing")))
	if _, err := Load(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load error = %v, want one wrapping fs.ErrNotExist", err)
	}
}

func TestLoadSecretFiles(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string // besides NAME_FILE
		field func(*Config) Secret
	}{
		{"FB_PAGE_TOKEN", map[string]string{"FB_PAGE_TOKEN": ""}, func(c *Config) Secret { return c.PageToken }},
		{"FB_APP_SECRET", nil, func(c *Config) Secret { return c.AppSecret }},
		{"MQTT_PASSWORD", map[string]string{"MQTT_USERNAME": "bridge"}, func(c *Config) Secret { return c.MQTTPassword }},
		{"HA_TOKEN", map[string]string{"HA_URL": "http://ha.local:8123"}, func(c *Config) Secret { return c.HAToken }},
	}
	for _, tt := range tests {
		for _, content := range []string{"from-file", "from-file\n", "from-file \t\r\n\n"} {
			t.Run(tt.name, func(t *testing.T) {
				env := base(tt.name+"_FILE", writeFile(t, t.TempDir(), "secret", content))
				for k, v := range tt.env {
					env[k] = v
				}
				setenv(t, env)
				c, err := Load()
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if got := tt.field(c).Reveal(); got != "from-file" {
					t.Errorf("%s from file %q = %q, want %q", tt.name, content, got, "from-file")
				}
			})
		}
	}
}

// specDefaults are the defaults SPEC.md section 1 gives.
var specDefaults = map[string]string{
	"FB_GRAPH_URL": "https://graph.facebook.com", "FB_GRAPH_VERSION": "v25.0",
	"FB_MESSAGING_TYPE": "UPDATE", "FB_UTILITY_TEMPLATE_LANG": "en_US",
	"MQTT_URL": "tcp://localhost:1883", "MQTT_CLIENT_ID": "messenger-bridge", "MQTT_BASE_TOPIC": "messenger",
	"HA_DISCOVERY": "true", "HA_DISCOVERY_PREFIX": "homeassistant", "DATA_DIR": "./data",
	"MESSAGE_TTL": "1h", "OUTBOX_MAX": "10000", "OUTBOX_MAX_BYTES": "256MB", "SEND_RATE": "20", "HTTP_ADDR": ":8080",
	"LOG_LEVEL": "info", "LOG_FORMAT": "auto",
	"RECEIVE": "poll", "POLL_INTERVAL": "15s", "WEBHOOK_ADDR": ":8443", "WEBHOOK_PATH": "/webhook", "WINDOW_KEEPALIVE": "2h",
	"WINDOW_KEEPALIVE_TEXT": "Tap below to keep getting home alerts here.",
}

func TestDefault(t *testing.T) {
	for _, name := range specVars {
		if got, want := Default(name), specDefaults[name]; got != want {
			t.Errorf("Default(%s) = %q, want %q", name, got, want)
		}
	}
	if got := Default("NO_SUCH_VARIABLE"); got != "" {
		t.Errorf("Default of an unknown variable = %q, want empty", got)
	}
}

func TestUsage(t *testing.T) {
	var buf bytes.Buffer
	if err := Usage(&buf); err != nil {
		t.Fatalf("Usage: %v", err)
	}
	rows := map[string][]string{} // variable -> the words of its row
	header := false
	for line := range strings.Lines(buf.String()) {
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case f[0] == "VARIABLE":
			header = true
		case header:
			rows[f[0]] = f
		}
	}
	if !header {
		t.Fatalf("Usage has no table header:\n%s", buf.String())
	}
	for _, name := range specVars {
		row, ok := rows[name]
		if !ok {
			t.Errorf("Usage does not list %s:\n%s", name, buf.String())
			continue
		}
		if len(row) < 3 {
			t.Errorf("Usage row for %s has no description: %q", name, row)
		}
		if def, ok := specDefaults[name]; ok && !strings.Contains(strings.Join(row, " "), " "+def+" ") {
			t.Errorf("Usage row for %s lacks default %q: %q", name, def, row)
		}
		delete(rows, name)
	}
	for name := range rows {
		t.Errorf("Usage lists %s, which SPEC.md does not", name)
	}
}
