// Package config reads the bridge's settings from the environment variables
// listed in SPEC.md section 1 and checks them, so that a bad setting stops
// start-up with one line naming the variable and what to change.
package config

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/messenger-bridge/messenger-bridge/graph"
	"github.com/messenger-bridge/messenger-bridge/household"
)

// Config is the bridge's configuration. Each field is read from the variable
// named in its envconfig tag. A Config returned by Load has passed every
// check and is normalised as the field comments say.
//
// A secret may instead be given in a file named by its _FILE variable; the
// *File fields keep that path, and Load reads the file into the Secret.
type Config struct {
	PageToken     Secret `envconfig:"FB_PAGE_TOKEN" desc:"Page access token; required unless FB_PAGE_TOKEN_FILE is set"`
	PageTokenFile string `envconfig:"FB_PAGE_TOKEN_FILE" desc:"File holding the page access token (Docker secrets)"`
	AppSecret     Secret `envconfig:"FB_APP_SECRET" desc:"App secret; when set, Graph calls carry appsecret_proof and webhooks are verified"`
	AppSecretFile string `envconfig:"FB_APP_SECRET_FILE" desc:"File holding the app secret"`
	AppID         string `envconfig:"FB_APP_ID" desc:"Numeric app id, used by the token tools"`
	// GraphURL is an http or https URL without a trailing slash; default
	// graph.DefaultBaseURL (see graphDefaults).
	GraphURL string `envconfig:"FB_GRAPH_URL" desc:"Graph API root"`
	// GraphVersion is "v" MAJOR "." MINOR; default graph.DefaultVersion.
	GraphVersion string `envconfig:"FB_GRAPH_VERSION" desc:"Graph API version in every path"`
	// MessagingType is RESPONSE, UPDATE or MESSAGE_TAG, upper case; default
	// graph.DefaultMessagingType.
	MessagingType string `envconfig:"FB_MESSAGING_TYPE" desc:"RESPONSE or UPDATE (both need the person's 24-hour window open), or MESSAGE_TAG"`
	// MessageTag is upper case, set when MessagingType is MESSAGE_TAG and
	// empty otherwise, and never one of graph.RetiredTags.
	MessageTag string `envconfig:"FB_MESSAGE_TAG" desc:"Tag sent with MESSAGE_TAG; ACCOUNT_UPDATE, CONFIRMED_EVENT_UPDATE and POST_PURCHASE_UPDATE are refused by Meta since 2026-04-27"`
	// UtilityTemplate is empty or the name of a utility template: lowercase
	// letters, digits and underscores.
	UtilityTemplate string `envconfig:"FB_UTILITY_TEMPLATE" desc:"Approved utility template for people whose 24-hour window is closed (messenger-bridge template create)"`
	// UtilityTemplateLang is a language code such as en_US; default
	// graph.DefaultTemplateLang.
	UtilityTemplateLang string `envconfig:"FB_UTILITY_TEMPLATE_LANG" desc:"Language of FB_UTILITY_TEMPLATE"`

	// Recipients and Groups are RECIPIENTS and GROUPS as given; Household
	// is the household they make, checked as a whole.
	Recipients []household.Recipient `envconfig:"RECIPIENTS" desc:"Required. name:PSID pairs, comma separated, e.g. alice:26428272146817880"`
	Groups     []household.Group     `envconfig:"GROUPS" desc:"group:name+name pairs, comma separated, e.g. family:alice+bob"`
	Household  *household.Household  `ignored:"true"`

	// MQTTURL uses a scheme paho accepts: tcp, mqtt (the same as tcp), ssl,
	// tls, mqtts, ws or wss. A tcp, mqtt, ssl, tls or mqtts URL always has a
	// port: 1883 or 8883 is filled in when none was given.
	MQTTURL          string `envconfig:"MQTT_URL" default:"tcp://localhost:1883" desc:"Broker URL: tcp://, ssl://, tls://, mqtts://, ws:// or wss://"`
	MQTTUsername     string `envconfig:"MQTT_USERNAME" desc:"Broker user name"`
	MQTTPassword     Secret `envconfig:"MQTT_PASSWORD" desc:"Broker password"`
	MQTTPasswordFile string `envconfig:"MQTT_PASSWORD_FILE" desc:"File holding the broker password"`
	MQTTClientID     string `envconfig:"MQTT_CLIENT_ID" default:"messenger-bridge" desc:"Stable client id (the session is persistent)"`
	// BaseTopic is a topic without wildcards or a leading or trailing '/'.
	BaseTopic string `envconfig:"MQTT_BASE_TOPIC" default:"messenger" desc:"Root of every topic"`
	// CAFile, CertFile and KeyFile are readable files; they and Insecure are
	// set only with a TLS scheme, and CertFile and KeyFile only together.
	CAFile   string `envconfig:"MQTT_CA_FILE" desc:"PEM file of the CA that signed the broker's certificate"`
	CertFile string `envconfig:"MQTT_CERT_FILE" desc:"PEM client certificate (with MQTT_KEY_FILE)"`
	KeyFile  string `envconfig:"MQTT_KEY_FILE" desc:"PEM client key (with MQTT_CERT_FILE)"`
	Insecure bool   `envconfig:"MQTT_INSECURE" desc:"Skip verification of the broker's certificate (logged loudly)"`

	// Receive is poll, webhook or off, lower case.
	Receive string `envconfig:"RECEIVE" default:"poll" desc:"How messages from the household reach the bridge: poll (the Conversations API), webhook, or off"`
	// PollInterval is at least MinPollInterval.
	PollInterval time.Duration `envconfig:"POLL_INTERVAL" default:"15s" desc:"Time between two polls at rest (at least 5s)"`
	// WebhookAddr is host:port; WebhookPath starts with "/".
	WebhookAddr string `envconfig:"WEBHOOK_ADDR" default:":8443" desc:"Where the webhook listens (RECEIVE=webhook; TLS is the tunnel's or proxy's job)"`
	WebhookPath string `envconfig:"WEBHOOK_PATH" default:"/webhook" desc:"Path of the webhook"`
	// VerifyToken is required with RECEIVE=webhook, as is AppSecret.
	VerifyToken     Secret `envconfig:"FB_VERIFY_TOKEN" desc:"Token Meta's webhook verification must show (RECEIVE=webhook)"`
	VerifyTokenFile string `envconfig:"FB_VERIFY_TOKEN_FILE" desc:"File holding the verify token"`
	// WindowKeepalive is 0 (off) or positive and below reach.Window.
	WindowKeepalive     time.Duration `envconfig:"WINDOW_KEEPALIVE" default:"2h" desc:"How long before a person's 24-hour window closes they are asked, once, to tap a quick reply; 0 turns it off"`
	WindowKeepaliveText string        `envconfig:"WINDOW_KEEPALIVE_TEXT" default:"Tap below to keep getting home alerts here." desc:"The keep-alive question"`

	Discovery bool `envconfig:"HA_DISCOVERY" default:"true" desc:"Publish Home Assistant discovery"`
	// DiscoveryPrefix follows the same rules as BaseTopic.
	DiscoveryPrefix string `envconfig:"HA_DISCOVERY_PREFIX" default:"homeassistant" desc:"Discovery prefix; its status topic is the birth topic"`
	// HAURL is empty or an http or https URL without a trailing slash.
	HAURL string `envconfig:"HA_URL" desc:"Home Assistant base URL, for camera and image entities and relative media URLs"`
	// HA is HAURL parsed, nil when HAURL is empty: the one parse of HA_URL,
	// which package media takes as it is.
	HA          *url.URL `ignored:"true"`
	HAToken     Secret   `envconfig:"HA_TOKEN" desc:"Home Assistant long-lived access token"`
	HATokenFile string   `envconfig:"HA_TOKEN_FILE" desc:"File holding the Home Assistant token"`

	// MediaDirs are clean absolute paths; nil means no local file may be read.
	MediaDirs []string `envconfig:"MEDIA_DIRS" desc:"Comma-separated folders from which local files may be attached; empty: none"`
	DataDir   string   `envconfig:"DATA_DIR" default:"./data" desc:"Where the durable outbox lives"`
	// MessageTTL is positive.
	MessageTTL time.Duration `envconfig:"MESSAGE_TTL" default:"1h" desc:"A message not delivered by then is reported expired and dropped"`
	// OutboxMax is positive.
	OutboxMax int `envconfig:"OUTBOX_MAX" default:"10000" desc:"Messages waiting at most; beyond it new ones are refused"`
	// OutboxMaxBytes is positive.
	OutboxMaxBytes ByteSize `envconfig:"OUTBOX_MAX_BYTES" default:"256MB" desc:"Bytes waiting at most in DATA_DIR, each message counted once; beyond it new ones are refused"`
	// SendRate is finite and not negative; 0 means unlimited.
	SendRate float64 `envconfig:"SEND_RATE" default:"20" desc:"Graph calls per second at most, all recipients together; 0 lifts the limit"`
	// HTTPAddr is empty or host:port.
	HTTPAddr string `envconfig:"HTTP_ADDR" default:":8080" desc:"Health and metrics server address; empty disables it"`
	// LogLevel is trace, debug, info, warn or error, lower case.
	LogLevel string `envconfig:"LOG_LEVEL" default:"info" desc:"trace, debug, info, warn or error"`
	// LogFormat is json, console or auto, lower case.
	LogFormat string `envconfig:"LOG_FORMAT" default:"auto" desc:"json, console, or auto (console on a terminal, JSON otherwise)"`

	// Warnings are settings that work but deserve a word in the log at
	// start, one line each, naming the variable.
	Warnings []string `ignored:"true"`
}

// graphDefaults are the variables whose defaults package graph holds, the
// one place each is stated: Load fills them in, and Usage shows them.
var graphDefaults = map[string]string{
	"FB_GRAPH_URL":      graph.DefaultBaseURL,
	"FB_GRAPH_VERSION":  graph.DefaultVersion,
	"FB_MESSAGING_TYPE": graph.DefaultMessagingType,
	// The template command's --lang takes the same default.
	"FB_UTILITY_TEMPLATE_LANG": graph.DefaultTemplateLang,
}

// Default returns the value Load gives variable when it is unset: the
// default tag of its field, or package graph's default; "" when it has
// none. The commands that read one variable alone ask it, so that each
// default is stated once.
func Default(variable string) string {
	if d, ok := graphDefaults[variable]; ok {
		return d
	}
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		if f := t.Field(i); f.Tag.Get("envconfig") == variable {
			return f.Tag.Get("default")
		}
	}
	return ""
}

// withGraphDefaults returns a Config holding graphDefaults, for envconfig
// to fill in the rest of: it leaves a field without a variable or a
// default tag as it finds it.
func withGraphDefaults() Config {
	return Config{
		GraphURL:            graphDefaults["FB_GRAPH_URL"],
		GraphVersion:        graphDefaults["FB_GRAPH_VERSION"],
		MessagingType:       graphDefaults["FB_MESSAGING_TYPE"],
		UtilityTemplateLang: graphDefaults["FB_UTILITY_TEMPLATE_LANG"],
	}
}

// Error is a configuration problem. Its text is one line a person can act on,
// and never contains a secret.
type Error struct {
	Var     string // the environment variable at fault, e.g. "RECIPIENTS"
	Problem string // what is wrong with it, and how to put it right
	Err     error  // the cause, such as an *fs.PathError, or nil
}

func (e *Error) Error() string {
	if e.Err == nil {
		return e.Var + ": " + e.Problem
	}
	return e.Var + ": " + e.Problem + ": " + e.Err.Error()
}

// Unwrap returns Err, so errors.Is can test the cause (e.g. fs.ErrNotExist).
func (e *Error) Unwrap() error { return e.Err }

// Load reads the configuration from the process environment, applies the
// defaults, reads secrets from their _FILE variants and checks every value.
// A problem is reported as an *Error naming the variable.
func Load() (*Config, error) {
	c := withGraphDefaults()
	if err := envconfig.Process("", &c); err != nil {
		return nil, fromEnvconfig(err)
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return &c, nil
}

// usageFormat is envconfig's table without its REQUIRED column: whether
// FB_PAGE_TOKEN is required depends on FB_PAGE_TOKEN_FILE, so the
// descriptions say it. %s is where graphDefaults are looked up.
const usageFormat = `messenger-bridge reads these environment variables:

VARIABLE	TYPE	DEFAULT	MEANING
{{range .}}{{usage_key .}}	{{usage_type .}}	{{$k := usage_key .}}%s	{{usage_description .}}
{{end}}`

// usageTemplate is usageFormat with graphDefaults written in: envconfig's
// usage_default reads only default tags.
func usageTemplate() string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(graphDefaults)) {
		fmt.Fprintf(&b, `{{if eq $k %q}}%s{{else}}`, k, graphDefaults[k])
	}
	b.WriteString("{{usage_default .}}" + strings.Repeat("{{end}}", len(graphDefaults)))
	return fmt.Sprintf(usageFormat, b.String())
}

// Usage writes a table of every variable Load reads, with its type, default
// and meaning.
func Usage(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 1, 0, 3, ' ', 0)
	if err := envconfig.Usagef("", &Config{}, tw, usageTemplate()); err != nil {
		return err
	}
	return tw.Flush()
}

// wants says, per field type, what a value envconfig could not parse should
// look like. Secret is absent: its Set never fails, so a secret value never
// reaches an error.
var wants = map[string]string{
	"bool":          "true or false",
	"int":           "a whole number",
	"float64":       "a number",
	"time.Duration": "a duration such as 90s, 15m or 1h",
}

// fromEnvconfig turns an envconfig error into an *Error.
func fromEnvconfig(err error) error {
	var pe *envconfig.ParseError
	if !errors.As(err, &pe) {
		return fmt.Errorf("config: %w", err)
	}
	if want, ok := wants[pe.TypeName]; ok {
		return &Error{Var: pe.KeyName, Problem: fmt.Sprintf("want %s, got %q", want, pe.Value)}
	}
	// Recipient and Group errors already say what is wrong with which entry.
	return &Error{Var: pe.KeyName, Problem: pe.Err.Error()}
}
