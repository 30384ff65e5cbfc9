package main

import (
	"io"
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

// The add-on, beside the repository root (developer docs, "Create an add-on
// repository": repository.yaml at the root, one folder per add-on).
const (
	addonDir       = "../../homeassistant-addon/"
	repositoryFile = "../../repository.yaml"
)

// addonConfig is config.yaml as the Supervisor reads it (developer docs,
// "Add-on configuration").
type addonConfig struct {
	Name        string   `yaml:"name"`
	Version     string   `yaml:"version"`
	Slug        string   `yaml:"slug"`
	Description string   `yaml:"description"`
	Arch        []string `yaml:"arch"`
	Startup     string   `yaml:"startup"`
	Boot        string   `yaml:"boot"`
	Services    []string `yaml:"services"`
	Map         []struct {
		Type string `yaml:"type"`
	} `yaml:"map"`
	Ports   map[string]any `yaml:"ports"`
	Image   string         `yaml:"image"`
	Options map[string]any `yaml:"options"`
	Schema  map[string]any `yaml:"schema"`
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func readAddon(t *testing.T) addonConfig {
	t.Helper()
	var c addonConfig
	readYAML(t, addonDir+"config.yaml", &c)
	return c
}

func TestAddonConfigRequiredKeys(t *testing.T) {
	c := readAddon(t)
	required := map[string]string{"name": c.Name, "version": c.Version, "slug": c.Slug, "description": c.Description}
	for key, v := range required {
		if strings.TrimSpace(v) == "" {
			t.Errorf("config.yaml: %s is required", key)
		}
	}
	if !regexp.MustCompile(`^[a-z0-9_]+$`).MatchString(c.Slug) {
		t.Errorf("slug %q: want lower-case letters, digits and _ (it is part of URLs and host names)", c.Slug)
	}
	// The add-on's Dockerfile installs the release tagged v<version>.
	if !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(c.Version) {
		t.Errorf("version %q: want a release such as 1.2.3", c.Version)
	}
	// The Supervisor's ARCH_ALL since it dropped armhf, armv7 and i386
	// (home-assistant/supervisor#6607, March 2026); the image's platforms
	// (README, "Images for other platforms").
	if !slices.Equal(c.Arch, []string{"aarch64", "amd64"}) {
		t.Errorf("arch %v, want [aarch64 amd64]: the architectures the Supervisor still runs", c.Arch)
	}
	if !slices.Contains([]string{"", "initialize", "system", "services", "application", "once"}, c.Startup) {
		t.Errorf("startup %q is not a Supervisor value", c.Startup)
	}
	if !slices.Contains([]string{"", "auto", "manual", "manual_only"}, c.Boot) {
		t.Errorf("boot %q is not a Supervisor value", c.Boot)
	}
	if !slices.Contains(c.Services, "mqtt:need") {
		t.Errorf("services %v: want mqtt:need, so the Supervisor hands over the Mosquitto add-on's broker", c.Services)
	}
	for _, m := range c.Map {
		if !slices.Contains([]string{"homeassistant_config", "addon_config", "ssl", "addons", "backup", "share", "media", "all_addon_configs", "data"}, m.Type) {
			t.Errorf("map type %q is not a Supervisor folder", m.Type)
		}
	}
	if _, ok := c.Ports["8080/tcp"]; !ok {
		t.Error("ports lacks 8080/tcp, the health and metrics server (HTTP_ADDR's default)")
	}
	if c.Image != "" {
		t.Errorf("image %q: the add-on's Dockerfile would be ignored", c.Image)
	}
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

func TestEveryOptionMapsToAVariable(t *testing.T) {
	c := readAddon(t)
	spec := specVariables()
	mapped := map[string]bool{}
	for _, o := range options {
		mapped[o.key] = true
		if _, ok := c.Schema[o.key]; !ok {
			t.Errorf("option %s is mapped but not in config.yaml's schema", o.key)
		}
		if !spec[o.variable] {
			t.Errorf("option %s sets %s, which is not a SPEC variable", o.key, o.variable)
		}
	}
	for key := range c.Schema {
		if !mapped[key] {
			t.Errorf("schema option %s sets no variable", key)
		}
	}
	for key := range c.Options {
		if _, ok := c.Schema[key]; !ok {
			t.Errorf("default option %s has no schema: the Supervisor drops it", key)
		}
	}
}

// schemaElement is the Supervisor's grammar of a schema value
// (supervisor/addons/options.py, RE_SCHEMA_ELEMENT).
var schemaElement = regexp.MustCompile(`^(?:|bool|email|url|port|device(?:\((?:subsystem=[a-z]+)\))?` +
	`|str(?:\((\d+)?,(\d+)?\))?|password(?:\((\d+)?,(\d+)?\))?|int(?:\((\d+)?,(\d+)?\))?` +
	`|float(?:\(([\d.]+)?,([\d.]+)?\))?|match\((.*)\)|list\((.+)\))\??$`)

func TestAddonSchema(t *testing.T) {
	c := readAddon(t)
	var required []string
	for key, typ := range c.Schema {
		checkSchema(t, key, typ, 1)
		// supervisor/addons/options.py, _check_missing_options: a missing
		// option is an error unless its type, or its list's item type, ends
		// in "?".
		if list, ok := typ.([]any); ok && len(list) > 0 {
			typ = list[0]
		}
		if s, ok := typ.(string); ok && strings.HasSuffix(s, "?") {
			continue
		}
		if _, hasDefault := c.Options[key]; !hasDefault {
			required = append(required, key)
		}
	}
	slices.Sort(required)
	// With only the page token filled in, the add-on's options are complete.
	if !slices.Equal(required, []string{"page_token"}) {
		t.Errorf("options the user must fill in: %v, want only page_token", required)
	}
	for key, value := range c.Options {
		if typ, ok := c.Schema[key].(string); ok {
			if err := checkDefault(typ, value); err != "" {
				t.Errorf("default %s = %v: %s", key, value, err)
			}
		}
	}
}

// checkSchema checks one schema value: a type, a list of one, or a dict,
// nested at most two deep (developer docs, "Options / Schema").
func checkSchema(t *testing.T, key string, typ any, depth int) {
	t.Helper()
	if depth > 2 {
		t.Errorf("schema %s nests deeper than two", key)
		return
	}
	switch typ := typ.(type) {
	case string:
		if !schemaElement.MatchString(typ) {
			t.Errorf("schema %s: %q is not a Supervisor type", key, typ)
		}
	case []any:
		if len(typ) != 1 {
			t.Errorf("schema %s: a list holds the type of its items, once", key)
			return
		}
		checkSchema(t, key, typ[0], depth)
	case map[string]any:
		for k, v := range typ {
			checkSchema(t, key+"."+k, v, depth+1)
		}
	default:
		t.Errorf("schema %s: %T is not a type", key, typ)
	}
}

// checkDefault says what is wrong with a default value of schema type typ,
// as the Supervisor would see it; "" when nothing is.
func checkDefault(typ string, v any) string {
	name, args, _ := strings.Cut(strings.TrimSuffix(typ, "?"), "(")
	args = strings.TrimSuffix(args, ")")
	switch name {
	case "bool":
		if _, ok := v.(bool); !ok {
			return "want true or false"
		}
	case "int":
		if _, ok := v.(int); !ok {
			return "want a whole number"
		}
	case "float":
		if _, err := strconv.ParseFloat(yamlText(v), 64); err != nil {
			return "want a number"
		}
	case "list":
		if !slices.Contains(strings.Split(args, "|"), yamlText(v)) {
			return "not one of " + args
		}
	case "match":
		if !regexp.MustCompile(args).MatchString(yamlText(v)) {
			return "does not match " + args
		}
	}
	return ""
}

func yamlText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case int:
		return strconv.Itoa(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return ""
	}
}

func TestAddonTranslationsAndDocs(t *testing.T) {
	c := readAddon(t)
	var tr struct {
		Configuration map[string]struct{ Name, Description string }
		Network       map[string]string
	}
	readYAML(t, addonDir+"translations/en.yaml", &tr)
	docs, err := os.ReadFile(addonDir + "DOCS.md")
	if err != nil {
		t.Fatal(err)
	}
	for key := range c.Schema {
		if e := tr.Configuration[key]; e.Name == "" || e.Description == "" {
			t.Errorf("translations/en.yaml: %s needs a name and a description", key)
		}
		if !strings.Contains(string(docs), "`"+key+"`") {
			t.Errorf("DOCS.md does not describe `%s`", key)
		}
	}
	for port := range c.Ports {
		if tr.Network[port] == "" {
			t.Errorf("translations/en.yaml: network lacks %s", port)
		}
	}
	var repo struct{ Name, URL, Maintainer string }
	readYAML(t, repositoryFile, &repo)
	if repo.Name == "" {
		t.Error("repository.yaml: name is required")
	}
}

// TestDefaultOptionsLoad checks that the environment the add-on makes from
// config.yaml's defaults (with a token and people filled in) is one the
// bridge accepts, sending UPDATE.
func TestDefaultOptionsLoad(t *testing.T) {
	sup := newSupervisor(t, 0, "")
	env, err := environment(t.Context(), optionsJSON(t, nil), sup.client(supervisorToken), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for k := range specVariables() {
		t.Setenv(k, "") // restored after the test
		if err := os.Unsetenv(k); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	cfg, err := config.Load()
	if err != nil {
		t.Fatalf("the add-on's defaults: %v", err)
	}
	if cfg.MessagingType != "UPDATE" {
		t.Errorf("messaging type %q, want UPDATE", cfg.MessagingType)
	}
}

// TestOutboxMaxBytesSchema checks that the add-on's form takes the sizes
// OUTBOX_MAX_BYTES takes, and refuses those the bridge would refuse.
func TestOutboxMaxBytesSchema(t *testing.T) {
	typ, _ := readAddon(t).Schema["outbox_max_bytes"].(string)
	for _, size := range []string{"256MB", "500kB", "1.5GB", "1048576", "2GiB", "64mb", "1 GB"} {
		var b config.ByteSize
		if err := b.Decode(size); err != nil {
			t.Fatalf("the bridge refuses %q: %v", size, err)
		}
		if err := checkDefault(typ, size); err != "" {
			t.Errorf("schema %q refuses %q, which OUTBOX_MAX_BYTES takes: %s", typ, size, err)
		}
	}
	for _, size := range []string{"", "MB", "lots", "-5MB", "1.2.3kB", "1e3", "12 parsecs"} {
		if checkDefault(typ, size) == "" {
			t.Errorf("schema %q takes %q, which OUTBOX_MAX_BYTES refuses", typ, size)
		}
	}
}
