// Command addon-run starts messenger-bridge as a Home Assistant add-on, in an
// image with no shell. It reads the options set in the add-on's
// Configuration tab, takes the MQTT broker from the Supervisor's MQTT service
// when no mqtt_url is set, and replaces itself with /messenger-bridge,
// configured by the environment variables of SPEC section 1.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/messenger-bridge/messenger-bridge/graph"
)

// Paths and addresses inside an add-on's container (developer docs, "Add-on
// configuration" and "Add-on communication").
const (
	// optionsPath holds the user's configuration, checked against
	// config.yaml's schema by the Supervisor.
	optionsPath = "/data/options.json"
	// dataDir is the add-on's persistent storage, kept in backups.
	dataDir = "/data"
	// supervisorURL is the Supervisor API.
	supervisorURL = "http://supervisor"
	// homeAssistantURL is Home Assistant on the add-ons' internal network.
	homeAssistantURL = "http://homeassistant:8123"
	// bridgePath is the bridge's binary in the add-on image.
	bridgePath = "/messenger-bridge"
)

// lookupTimeout bounds the question to the Supervisor.
const lookupTimeout = 30 * time.Second

// exitConfig is the bridge's status for a configuration error.
const exitConfig = 2

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	sup := supervisor{url: supervisorURL, token: os.Getenv("SUPERVISOR_TOKEN"), client: &http.Client{Timeout: lookupTimeout}}
	err := run(ctx, optionsPath, sup, syscall.Exec)
	stop()
	fmt.Fprintln(os.Stderr, "messenger-bridge add-on:", err)
	os.Exit(exitConfig)
}

// run reads the options at path and execs the bridge with the environment
// they make. It returns only when it cannot.
func run(ctx context.Context, path string, sup supervisor, exec func(argv0 string, argv, envv []string) error) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading the add-on's options: %w", err)
	}
	env, err := environment(ctx, raw, sup, os.Stderr)
	if err != nil {
		return err
	}
	if err := exec(bridgePath, []string{bridgePath, "run"}, merge(os.Environ(), env)); err != nil {
		return fmt.Errorf("starting %s: %w", bridgePath, err)
	}
	return nil
}

// environment returns the bridge's variables for the options in raw,
// options.json as the Supervisor wrote it, and says on warn what it changed.
func environment(ctx context.Context, raw []byte, sup supervisor, warn io.Writer) (map[string]string, error) {
	var given map[string]json.RawMessage
	if err := json.Unmarshal(raw, &given); err != nil {
		return nil, fmt.Errorf("the add-on's options are not a JSON object: %w", err)
	}
	env := map[string]string{
		"DATA_DIR":   dataDir,
		"LOG_FORMAT": "console", // the add-on's Log tab is read by people
	}
	for _, o := range options {
		value, ok := given[o.key]
		if !ok {
			continue
		}
		text, err := o.format(value)
		if err != nil {
			return nil, fmt.Errorf("option %s: %w", o.key, err)
		}
		if text != "" {
			env[o.variable] = text
		}
	}
	// Said here in the add-on's words; the bridge would name its variables.
	switch {
	case env["FB_PAGE_TOKEN"] == "":
		return nil, errors.New("option page_token: set the Facebook page access token in the add-on's configuration")
	case env["RECIPIENTS"] == "":
		return nil, errors.New("option recipients: add at least one person, with a name and a PSID, in the add-on's configuration")
	}

	dropRetiredTag(env, warn)

	if env["MQTT_URL"] == "" {
		b, err := sup.mqtt(ctx)
		if err != nil {
			return nil, fmt.Errorf("option mqtt_url is not set, and the Supervisor's MQTT service cannot be had (%w): install and start the Mosquitto broker add-on, or set mqtt_url", err)
		}
		env["MQTT_URL"] = b.URL()
		if env["MQTT_USERNAME"] == "" {
			env["MQTT_USERNAME"], env["MQTT_PASSWORD"] = b.Username, b.Password
		}
	}
	if env["HA_TOKEN"] != "" && env["HA_URL"] == "" {
		env["HA_URL"] = homeAssistantURL
	}
	for k, v := range env {
		if v == "" {
			delete(env, k)
		}
	}
	return env, nil
}

// dropRetiredTag sends UPDATE instead of a message tag Meta retired. The
// Supervisor keeps the options an add-on was first installed with, and
// versions before 2026 defaulted to MESSAGE_TAG with ACCOUNT_UPDATE, which
// would now stop the bridge at start: for an add-on user that default was
// never a choice. Anyone else who sets a retired tag is stopped by the
// bridge itself.
func dropRetiredTag(env map[string]string, warn io.Writer) {
	tag := strings.ToUpper(strings.TrimSpace(env["FB_MESSAGE_TAG"]))
	if !strings.EqualFold(strings.TrimSpace(env["FB_MESSAGING_TYPE"]), graph.MessagingTag) || !slices.Contains(graph.RetiredTags, tag) {
		return
	}
	fmt.Fprintf(warn, "messenger-bridge add-on: options messaging_type MESSAGE_TAG and message_tag %s are ignored: Meta refuses that tag since %s, even inside the 24-hour window; sending UPDATE instead. Set messaging_type to UPDATE and clear message_tag in the Configuration tab, and set utility_template to reach people whose window is closed.\n", tag, graph.TagsRetiredOn)
	env["FB_MESSAGING_TYPE"] = graph.MessagingUpdate
	delete(env, "FB_MESSAGE_TAG")
}

// merge returns the process environment with env set over it, sorted. The
// Supervisor's token is left out: the bridge has no use for it.
func merge(environ []string, env map[string]string) []string {
	var out []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if _, set := env[k]; !set && k != "SUPERVISOR_TOKEN" {
			out = append(out, kv)
		}
	}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}
