package deploy_test

import (
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/messenger-bridge/messenger-bridge/config"
)

const (
	composeFile   = root + "docker-compose.yml"
	mosquittoConf = root + "mosquitto/mosquitto.conf"
	exampleEnv    = root + "config.example.env"
)

// Service names in docker-compose.yml; the broker's is the host name in the
// bridge's MQTT_URL.
const (
	bridgeService = "messenger-bridge"
	brokerService = "mosquitto"
)

// compose is the part of the Compose file format the checks read. Fields
// that take several shapes (a string or a list, a list or a map) stay any.
type compose struct {
	Services map[string]service `yaml:"services"`
	Volumes  map[string]any     `yaml:"volumes"`
}

type service struct {
	Image       string   `yaml:"image"`
	Build       any      `yaml:"build"`
	Restart     string   `yaml:"restart"`
	EnvFile     any      `yaml:"env_file"`
	Environment any      `yaml:"environment"`
	Volumes     []string `yaml:"volumes"`
	Ports       []string `yaml:"ports"`
	DependsOn   any      `yaml:"depends_on"`
	Healthcheck *struct {
		Test    any  `yaml:"test"`
		Disable bool `yaml:"disable"`
	} `yaml:"healthcheck"`
}

func readCompose(t *testing.T) (compose, *yaml.Node) {
	t.Helper()
	raw, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatalf("%s: %v", composeFile, err)
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return c, &doc
}

// stringList returns v, a string or a list of strings, as a list.
func stringList(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, s := range v {
			if s, ok := s.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// environment returns a service's environment, a map or a list of K=V.
func environment(v any) map[string]string {
	env := map[string]string{}
	switch v := v.(type) {
	case map[string]any:
		for k, val := range v {
			env[k], _ = val.(string)
		}
	case []any:
		for _, kv := range stringList(v) {
			k, val, _ := strings.Cut(kv, "=")
			env[k] = val
		}
	}
	return env
}

// specVariables are the variables config.Load reads.
func specVariables() map[string]bool {
	vars := map[string]bool{}
	t := reflect.TypeFor[config.Config]()
	for i := range t.NumField() {
		if name := t.Field(i).Tag.Get("envconfig"); name != "" {
			vars[name] = true
		}
	}
	return vars
}

// mount splits a short-syntax volume, source:target[:mode].
func mount(v string) (source, target string) {
	parts := strings.Split(v, ":")
	if len(parts) < 2 {
		return "", parts[0]
	}
	return parts[0], parts[1]
}

// mountOf returns the source mounted at target in s.
func (s service) mountOf(target string) (string, bool) {
	for _, v := range s.Volumes {
		if src, tgt := mount(v); tgt == target {
			return src, true
		}
	}
	return "", false
}

func TestComposeBridge(t *testing.T) {
	c, _ := readCompose(t)
	b, ok := c.Services[bridgeService]
	if !ok {
		t.Fatalf("no %s service", bridgeService)
	}
	if b.Restart != "unless-stopped" {
		t.Errorf("restart %q, want unless-stopped", b.Restart)
	}
	if files := stringList(b.EnvFile); !slices.Equal(files, []string{".env"}) {
		t.Errorf("env_file %q, want .env (made from config.example.env)", files)
	}
	spec := specVariables()
	env := environment(b.Environment)
	for k := range env {
		if !spec[k] {
			t.Errorf("environment sets %s, which is not a SPEC variable", k)
		}
	}
	if u, err := url.Parse(env["MQTT_URL"]); err != nil || u.Hostname() != brokerService || u.Port() != brokerPort(t) {
		t.Errorf("MQTT_URL %q, want tcp://%s:%s, the broker service", env["MQTT_URL"], brokerService, brokerPort(t))
	}
	src, ok := b.mountOf("/data")
	if !ok || env["DATA_DIR"] != "/data" {
		t.Errorf("want a volume at /data and DATA_DIR=/data, the outbox's place")
	} else if _, named := c.Volumes[src]; !named {
		t.Errorf("/data is mounted from %q, want a named volume (it starts owned by the image's user)", src)
	}
	if build, ok := b.Build.(map[string]any); !ok || build["context"] != "." {
		t.Errorf("build %v, want context . and the Dockerfile there", b.Build)
	}
	deps, _ := b.DependsOn.(map[string]any)
	if dep, _ := deps[brokerService].(map[string]any); dep["condition"] != "service_healthy" {
		t.Errorf("depends_on %v, want %s with condition service_healthy", b.DependsOn, brokerService)
	}
	if b.Healthcheck != nil && (b.Healthcheck.Disable || !slices.Contains(stringList(b.Healthcheck.Test), "health")) {
		t.Errorf("the bridge's healthcheck %v replaces the image's `messenger-bridge health`", b.Healthcheck)
	}
}

func TestComposeBroker(t *testing.T) {
	c, _ := readCompose(t)
	m, ok := c.Services[brokerService]
	if !ok {
		t.Fatalf("no %s service", brokerService)
	}
	if !strings.HasPrefix(m.Image, "eclipse-mosquitto:2") || m.Restart == "" {
		t.Errorf("image %q restart %q: want eclipse-mosquitto:2 with a restart policy", m.Image, m.Restart)
	}
	src, ok := m.mountOf("/mosquitto/config/mosquitto.conf")
	if !ok || root+strings.TrimPrefix(src, "./") != mosquittoConf {
		t.Errorf("the broker's configuration is mounted from %q, want ./mosquitto/mosquitto.conf", src)
	}
	dataDir := strings.TrimSuffix(confValue(t, "persistence_location"), "/")
	if src, ok := m.mountOf(dataDir); !ok {
		t.Errorf("no volume at %s, where Mosquitto persists sessions", dataDir)
	} else if _, named := c.Volumes[src]; !named {
		t.Errorf("%s is mounted from %q, want a named volume", dataDir, src)
	}
	if m.Healthcheck == nil || len(stringList(m.Healthcheck.Test)) < 2 {
		t.Error("the broker has no healthcheck, so the bridge's depends_on cannot wait for it")
	}
	if !slices.ContainsFunc(m.Ports, func(p string) bool { return strings.HasSuffix(p, ":"+brokerPort(t)) }) {
		t.Errorf("ports %q do not publish the listener %s for Home Assistant and Node-RED", m.Ports, brokerPort(t))
	}
}

// TestComposeDollarsEscaped checks that no value holds a lone $: Compose
// would substitute it, and "$SYS/…" would become "/…".
func TestComposeDollarsEscaped(t *testing.T) {
	_, doc := readCompose(t)
	lone := regexp.MustCompile(`\$[^${]|\$$`)
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.ScalarNode && lone.MatchString(strings.ReplaceAll(n.Value, "$$", "")) {
			t.Errorf("line %d: %q has a $ Compose would substitute; write $$", n.Line, n.Value)
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(doc)
}

// confValue returns the value of key in mosquitto.conf.
func confValue(t *testing.T, key string) string {
	t.Helper()
	raw, err := os.ReadFile(mosquittoConf)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(raw)) {
		if k, v, _ := strings.Cut(strings.TrimSpace(line), " "); k == key {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("mosquitto.conf does not set %s", key)
	return ""
}

// brokerPort is the port of mosquitto.conf's listener, on every interface.
func brokerPort(t *testing.T) string {
	t.Helper()
	port, host, _ := strings.Cut(confValue(t, "listener"), " ")
	if host != "" && host != "0.0.0.0" && host != "::" {
		t.Fatalf("the listener is bound to %s: other containers could not reach it", host)
	}
	return port
}

func TestMosquittoPersists(t *testing.T) {
	// The bridge's session is persistent (SPEC section 2): without
	// persistence a broker restart would drop the messages waiting for it.
	if v := confValue(t, "persistence"); v != "true" {
		t.Errorf("persistence %s, want true", v)
	}
	if port, err := strconv.Atoi(brokerPort(t)); err != nil || port < 1 || port > 65535 {
		t.Errorf("listener port %q is not a port number", brokerPort(t))
	}
}

// exampleVariables reads config.example.env: every variable it mentions,
// and the values of those it sets.
func exampleVariables(t *testing.T) (mentioned []string, set map[string]string) {
	t.Helper()
	raw, err := os.ReadFile(exampleEnv)
	if err != nil {
		t.Fatal(err)
	}
	set = map[string]string{}
	assignment := regexp.MustCompile(`^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$`)
	for line := range strings.Lines(string(raw)) {
		m := assignment.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		mentioned = append(mentioned, m[2])
		if m[1] == "" {
			set[m[2]] = m[3]
		}
	}
	return mentioned, set
}

// toolVariables are read by a command of the binary, not by the service.
var toolVariables = map[string]bool{
	"FB_USER_TOKEN": true, // messenger-bridge token exchange
}

func TestExampleEnvIsSpec(t *testing.T) {
	spec := specVariables()
	mentioned, _ := exampleVariables(t)
	for _, v := range mentioned {
		if !spec[v] && !toolVariables[v] {
			t.Errorf("config.example.env mentions %s, which is not a SPEC variable", v)
		}
	}
	for v := range spec {
		if !slices.Contains(mentioned, v) {
			t.Errorf("config.example.env does not describe %s", v)
		}
	}
}

// TestComposeConfigurationLoads checks that .env made from
// config.example.env, with a token filled in, and the Compose environment
// over it make a configuration the bridge accepts.
func TestComposeConfigurationLoads(t *testing.T) {
	c, _ := readCompose(t)
	_, set := exampleVariables(t)
	for k := range specVariables() {
		t.Setenv(k, "") // restored after the test
		if err := os.Unsetenv(k); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range set {
		t.Setenv(k, v)
	}
	t.Setenv("FB_PAGE_TOKEN", "EAAGcomposeTEST")
	for k, v := range environment(c.Services[bridgeService].Environment) {
		t.Setenv(k, v)
	}
	cfg, err := config.Load()
	if err != nil {
		t.Fatalf("config.example.env with a token, under Compose: %v", err)
	}
	if cfg.DataDir != "/data" || cfg.HTTPAddr == "" {
		t.Errorf("DATA_DIR %q, HTTP_ADDR %q: want /data and a health server for the HEALTHCHECK", cfg.DataDir, cfg.HTTPAddr)
	}
}
