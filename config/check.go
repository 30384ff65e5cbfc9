package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/messenger-bridge/messenger-bridge/graph"
	"github.com/messenger-bridge/messenger-bridge/household"
)

// brokerSchemes lists the MQTT_URL schemes paho.mqtt.golang dials, whether
// each uses TLS, and the port to fill in when none is given: 1883 and 8883
// are IANA's "mqtt" and "secure-mqtt". Websockets default like http.
var brokerSchemes = map[string]struct {
	tls  bool
	port string
}{
	"tcp":   {false, "1883"},
	"mqtt":  {false, "1883"},
	"ssl":   {true, "8883"},
	"tls":   {true, "8883"},
	"mqtts": {true, "8883"},
	"ws":    {false, ""},
	"wss":   {true, ""},
}

// check verifies and normalises every field, reporting the first problem.
func (c *Config) check() error {
	for _, check := range []func() error{
		c.checkSecrets, c.checkGraph, c.checkPeople, c.checkMQTT, c.checkHomeAssistant, c.checkReceive, c.checkRuntime,
	} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

func (c *Config) checkSecrets() error {
	for _, s := range []struct {
		name     string
		secret   *Secret
		file     string
		required bool
	}{
		{"FB_PAGE_TOKEN", &c.PageToken, c.PageTokenFile, true},
		{"FB_APP_SECRET", &c.AppSecret, c.AppSecretFile, false},
		{"MQTT_PASSWORD", &c.MQTTPassword, c.MQTTPasswordFile, false},
		{"HA_TOKEN", &c.HAToken, c.HATokenFile, false},
		{"FB_VERIFY_TOKEN", &c.VerifyToken, c.VerifyTokenFile, false},
	} {
		if err := LoadSecret(s.name, s.secret, s.file, s.required); err != nil {
			return err
		}
	}
	return nil
}

func (c *Config) checkGraph() error {
	if c.AppID != "" && !isDigits(c.AppID) {
		return &Error{Var: "FB_APP_ID", Problem: fmt.Sprintf("want the numeric app id, got %q", c.AppID)}
	}
	var err error
	u, err := httpURL("FB_GRAPH_URL", c.GraphURL, graph.DefaultBaseURL)
	if err != nil {
		return err
	}
	c.GraphURL = u.String()
	if err := graph.CheckVersion(c.GraphVersion); err != nil {
		return &Error{Var: "FB_GRAPH_VERSION", Problem: err.Error()}
	}
	if c.MessagingType, err = oneOf("FB_MESSAGING_TYPE", c.MessagingType, strings.ToUpper,
		graph.MessagingResponse, graph.MessagingUpdate, graph.MessagingTag); err != nil {
		return err
	}
	if err := c.checkTag(); err != nil {
		return err
	}
	return c.checkTemplate()
}

// checkTag refuses the message tags Meta retired, and warns of HUMAN_AGENT.
func (c *Config) checkTag() error {
	c.MessageTag = strings.ToUpper(strings.TrimSpace(c.MessageTag))
	switch {
	case slices.Contains(graph.RetiredTags, c.MessageTag):
		// Refused whatever FB_MESSAGING_TYPE says (SPEC §1): whoever set it
		// meant messages to go with it, and none would.
		return &Error{Var: "FB_MESSAGE_TAG", Problem: fmt.Sprintf(
			"Meta refuses the tag %s since %s (error 100/1893061), even inside the 24-hour window: unset FB_MESSAGE_TAG and set FB_MESSAGING_TYPE=UPDATE, and set FB_UTILITY_TEMPLATE to reach people whose window is closed (messenger-bridge template create)",
			c.MessageTag, graph.TagsRetiredOn)}
	case c.MessagingType != graph.MessagingTag && c.MessageTag != "":
		c.Warnings = append(c.Warnings, fmt.Sprintf("FB_MESSAGE_TAG=%s is ignored: it is sent only with FB_MESSAGING_TYPE=MESSAGE_TAG", c.MessageTag))
		c.MessageTag = ""
	case c.MessagingType != graph.MessagingTag:
	case c.MessageTag == "":
		return &Error{Var: "FB_MESSAGE_TAG", Problem: "required when FB_MESSAGING_TYPE is MESSAGE_TAG; but alerts need no tag: set FB_MESSAGING_TYPE=UPDATE"}
	case c.MessageTag == graph.TagHumanAgent:
		c.Warnings = append(c.Warnings, "FB_MESSAGE_TAG=HUMAN_AGENT needs the Human Agent permission (App Review) and is meant for messages a person writes, up to 7 days after the person wrote; for alerts set FB_MESSAGING_TYPE=UPDATE and FB_UTILITY_TEMPLATE")
	}
	return nil
}

func (c *Config) checkTemplate() error {
	c.UtilityTemplate = strings.TrimSpace(c.UtilityTemplate)
	c.UtilityTemplateLang = strings.TrimSpace(c.UtilityTemplateLang)
	if c.UtilityTemplate != "" && !graph.ValidTemplateName(c.UtilityTemplate) {
		return &Error{Var: "FB_UTILITY_TEMPLATE", Problem: fmt.Sprintf("want a template name of lowercase letters, digits and _, such as home_alert, got %q", c.UtilityTemplate)}
	}
	if !graph.ValidTemplateLang(c.UtilityTemplateLang) {
		return &Error{Var: "FB_UTILITY_TEMPLATE_LANG", Problem: fmt.Sprintf("want a language code such as en_US, got %q", c.UtilityTemplateLang)}
	}
	return nil
}

func (c *Config) checkPeople() error {
	h, err := household.New(c.Recipients, c.Groups)
	if e, ok := errors.AsType[*household.Error](err); ok {
		if e.InGroups {
			return &Error{Var: "GROUPS", Problem: e.Problem}
		}
		return &Error{Var: "RECIPIENTS", Problem: e.Problem}
	}
	c.Household = h
	return err
}

func (c *Config) checkMQTT() error {
	u, err := brokerURL(c.MQTTURL)
	if err != nil {
		return err
	}
	c.MQTTURL = u.String()
	// MQTT 3.1.1 section 3.1.2.9: a password may only be sent with a user name.
	if c.MQTTPassword.IsSet() && c.MQTTUsername == "" {
		return &Error{Var: "MQTT_PASSWORD", Problem: "set without MQTT_USERNAME; MQTT sends a password only with a user name"}
	}
	if strings.TrimSpace(c.MQTTClientID) == "" {
		return &Error{Var: "MQTT_CLIENT_ID", Problem: "must not be empty; the persistent session is kept under it"}
	}
	if err := topicRoot("MQTT_BASE_TOPIC", c.BaseTopic); err != nil {
		return err
	}
	files := []struct{ name, path string }{
		{"MQTT_CA_FILE", c.CAFile}, {"MQTT_CERT_FILE", c.CertFile}, {"MQTT_KEY_FILE", c.KeyFile},
	}
	if !brokerSchemes[u.Scheme].tls {
		for _, f := range files {
			if f.path != "" {
				return noTLS(f.name, c.MQTTURL)
			}
		}
		if c.Insecure {
			return noTLS("MQTT_INSECURE", c.MQTTURL)
		}
	}
	switch {
	case c.CertFile != "" && c.KeyFile == "":
		return &Error{Var: "MQTT_KEY_FILE", Problem: "required when MQTT_CERT_FILE is set"}
	case c.KeyFile != "" && c.CertFile == "":
		return &Error{Var: "MQTT_CERT_FILE", Problem: "required when MQTT_KEY_FILE is set"}
	}
	for _, f := range files {
		if f.path == "" {
			continue
		}
		if _, err := os.ReadFile(f.path); err != nil {
			return &Error{Var: f.name, Problem: "cannot read it", Err: err}
		}
	}
	return nil
}

func noTLS(name, brokerURL string) error {
	return &Error{Var: name, Problem: fmt.Sprintf("has no effect with MQTT_URL %s; use ssl://, tls://, mqtts:// or wss:// for TLS", brokerURL)}
}

func (c *Config) checkHomeAssistant() error {
	if err := topicRoot("HA_DISCOVERY_PREFIX", c.DiscoveryPrefix); err != nil {
		return err
	}
	if c.HAURL != "" {
		var err error
		if c.HA, err = httpURL("HA_URL", c.HAURL, "http://homeassistant.local:8123"); err != nil {
			return err
		}
		c.HAURL = c.HA.String()
	}
	if c.HAToken.IsSet() && c.HAURL == "" {
		return &Error{Var: "HA_TOKEN", Problem: "set but HA_URL is empty; the token is only used with HA_URL"}
	}
	return nil
}

// MinPollInterval is the shortest POLL_INTERVAL: the Conversations API
// allows 2 calls a second per Page, and a Page's budget is shared with
// sending.
const MinPollInterval = 5 * time.Second

// maxKeepalive keeps WINDOW_KEEPALIVE inside the 24-hour window.
const maxKeepalive = 23 * time.Hour

func (c *Config) checkReceive() error {
	var err error
	if c.Receive, err = oneOf("RECEIVE", c.Receive, strings.ToLower, "poll", "webhook", "off"); err != nil {
		return err
	}
	if c.PollInterval < MinPollInterval {
		return &Error{Var: "POLL_INTERVAL", Problem: fmt.Sprintf("must be at least %s, got %s", MinPollInterval, c.PollInterval)}
	}
	if c.WindowKeepalive < 0 || c.WindowKeepalive > maxKeepalive {
		return &Error{Var: "WINDOW_KEEPALIVE", Problem: fmt.Sprintf("want 0 (off) or a duration up to %s, such as 2h, got %s", maxKeepalive, c.WindowKeepalive)}
	}
	if c.WindowKeepalive > 0 && strings.TrimSpace(c.WindowKeepaliveText) == "" {
		return &Error{Var: "WINDOW_KEEPALIVE_TEXT", Problem: "must not be empty while WINDOW_KEEPALIVE is on"}
	}
	if c.Receive != "webhook" {
		return nil
	}
	switch {
	case !c.AppSecret.IsSet():
		return &Error{Var: "FB_APP_SECRET", Problem: "required with RECEIVE=webhook: every event's X-Hub-Signature-256 is checked with it"}
	case !c.VerifyToken.IsSet():
		return &Error{Var: "FB_VERIFY_TOKEN", Problem: "required with RECEIVE=webhook: Meta's verification request must show it"}
	}
	if err := CheckWebhookPath(c.WebhookPath); err != nil {
		return err
	}
	if _, _, err := net.SplitHostPort(c.WebhookAddr); err != nil {
		return &Error{Var: "WEBHOOK_ADDR", Problem: fmt.Sprintf("want host:port such as :8443, got %q", c.WebhookAddr)}
	}
	return nil
}

// CheckWebhookPath checks path as WEBHOOK_PATH; the error is an *Error
// naming it.
func CheckWebhookPath(path string) error {
	if !strings.HasPrefix(path, "/") {
		return &Error{Var: "WEBHOOK_PATH", Problem: fmt.Sprintf("want a path starting with /, such as %s, got %q", Default("WEBHOOK_PATH"), path)}
	}
	return nil
}

func (c *Config) checkRuntime() error {
	var dirs []string
	for _, d := range c.MediaDirs {
		d = strings.TrimSpace(d)
		switch {
		case d == "":
			return &Error{Var: "MEDIA_DIRS", Problem: household.ErrEmptyEntry.Error()}
		case !filepath.IsAbs(d):
			return &Error{Var: "MEDIA_DIRS", Problem: fmt.Sprintf("%q is not an absolute path", d)}
		}
		dirs = append(dirs, filepath.Clean(d))
	}
	c.MediaDirs = dirs
	if strings.TrimSpace(c.DataDir) == "" {
		return &Error{Var: "DATA_DIR", Problem: "must not be empty"}
	}
	if c.MessageTTL <= 0 {
		return &Error{Var: "MESSAGE_TTL", Problem: fmt.Sprintf("must be positive, got %s", c.MessageTTL)}
	}
	if c.OutboxMax <= 0 {
		return &Error{Var: "OUTBOX_MAX", Problem: fmt.Sprintf("must be positive, got %d", c.OutboxMax)}
	}
	if c.OutboxMaxBytes <= 0 {
		return &Error{Var: "OUTBOX_MAX_BYTES", Problem: fmt.Sprintf("must be positive, got %s", c.OutboxMaxBytes)}
	}
	if !(c.SendRate >= 0) || math.IsInf(c.SendRate, 0) {
		return &Error{Var: "SEND_RATE", Problem: fmt.Sprintf("want calls per second, 0 or more (0 lifts the limit), got %v", c.SendRate)}
	}
	if c.HTTPAddr != "" {
		if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
			return &Error{Var: "HTTP_ADDR", Problem: fmt.Sprintf("want host:port such as :8080 (empty disables the server), got %q", c.HTTPAddr)}
		}
	}
	var err error
	if c.LogLevel, err = oneOf("LOG_LEVEL", c.LogLevel, strings.ToLower, "trace", "debug", "info", "warn", "error"); err != nil {
		return err
	}
	c.LogFormat, err = oneOf("LOG_FORMAT", c.LogFormat, strings.ToLower, "json", "console", "auto")
	return err
}

// oneOf returns value, trimmed and normalised by norm, if it is one of allowed.
func oneOf(name, value string, norm func(string) string, allowed ...string) (string, error) {
	v := norm(strings.TrimSpace(value))
	if slices.Contains(allowed, v) {
		return v, nil
	}
	list := strings.Join(allowed[:len(allowed)-1], ", ") + " or " + allowed[len(allowed)-1]
	return "", &Error{Var: name, Problem: fmt.Sprintf("want %s, got %q", list, value)}
}

// credentialVars says where the credentials that a URL variable must not
// carry belong instead.
var credentialVars = map[string]string{
	"MQTT_URL":     "MQTT_USERNAME and MQTT_PASSWORD",
	"HA_URL":       "HA_TOKEN",
	"FB_GRAPH_URL": "FB_PAGE_TOKEN",
}

// parseURL parses raw for variable name. URLs may carry credentials, so the
// errors quote neither raw nor a user name or password in it.
func parseURL(name, raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		// The *url.Error quotes raw; its cause names only the faulty part.
		return nil, &Error{Var: name, Problem: "not a valid URL", Err: errors.Unwrap(err)}
	}
	if u.User != nil {
		return nil, &Error{Var: name, Problem: "must not contain a user name or password; set " + credentialVars[name] + " instead"}
	}
	return u, nil
}

// httpURL parses raw, an http or https URL, without trailing slashes.
func httpURL(name, raw, example string) (*url.URL, error) {
	u, err := parseURL(name, strings.TrimRight(strings.TrimSpace(raw), "/"))
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, &Error{Var: name, Problem: fmt.Sprintf("want an http:// or https:// URL such as %s, got %q", example, raw)}
	}
	return u, nil
}

// brokerURL parses raw as MQTT_URL, filling in the default port.
func brokerURL(raw string) (*url.URL, error) {
	u, err := parseURL("MQTT_URL", raw)
	if err != nil {
		return nil, err
	}
	scheme, ok := brokerSchemes[u.Scheme]
	if !ok || u.Hostname() == "" {
		return nil, &Error{Var: "MQTT_URL", Problem: fmt.Sprintf("want a broker URL such as tcp://localhost:1883 (tcp, mqtt, ssl, tls, mqtts, ws or wss), got %q", raw)}
	}
	if u.Port() == "" && scheme.port != "" {
		u.Host = net.JoinHostPort(u.Hostname(), scheme.port)
	}
	return u, nil
}

// topicRoot checks value, of variable name, as a prefix under which the
// bridge builds topic names.
func topicRoot(name, value string) error {
	if value == "" {
		return &Error{Var: name, Problem: "must not be empty"}
	}
	var problem string
	switch {
	case strings.ContainsAny(value, "+#"):
		problem = "must not contain the MQTT wildcards + or #"
	case strings.HasPrefix(value, "/") || strings.HasSuffix(value, "/"):
		problem = "must not start or end with /"
	case strings.HasPrefix(value, "$"):
		// MQTT 3.1.1 section 4.7.2: topics starting with $ belong to the broker.
		problem = "must not start with $, which brokers reserve for their own topics"
	default:
		return nil
	}
	return &Error{Var: name, Problem: fmt.Sprintf("%s, got %q", problem, value)}
}

func isDigits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}
