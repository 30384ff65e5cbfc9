package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

func TestSecretReveal(t *testing.T) {
	var s Secret
	if s.IsSet() || s.Reveal() != "" {
		t.Errorf("zero Secret: IsSet %v, Reveal %q; want false, \"\"", s.IsSet(), s.Reveal())
	}
	if err := s.Set(token); err != nil {
		t.Fatal(err)
	}
	if !s.IsSet() || s.Reveal() != token {
		t.Errorf("after Set: IsSet %v, Reveal %q; want true, %q", s.IsSet(), s.Reveal(), token)
	}
	if NewSecret(token) != s {
		t.Errorf("NewSecret(%q) differs from Set", token)
	}
}

// printings renders v every way a log line or error might.
func printings(t *testing.T, v any) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3s"} {
		out[verb] = fmt.Sprintf(verb, v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	out["json"] = string(b)

	var zl bytes.Buffer
	logger := zerolog.New(&zl)
	logger.Info().Interface("interface", v).Any("any", v).Fields(map[string]any{"field": v}).Msg("m")
	if s, ok := v.(fmt.Stringer); ok {
		logger.Info().Stringer("stringer", s).Msg("m")
	}
	out["zerolog"] = zl.String()

	var sl bytes.Buffer
	slog.New(slog.NewJSONHandler(&sl, nil)).Info("m", "v", v)
	slog.New(slog.NewTextHandler(&sl, nil)).Info("m", "v", v)
	out["slog"] = sl.String()
	return out
}

func TestSecretRedacted(t *testing.T) {
	s := NewSecret(token)
	c := defaults()
	c.MQTTPassword = NewSecret(password)
	for _, tt := range []struct {
		name string
		v    any
	}{
		{"Secret", s},
		{"*Secret", &s},
		{"Config", c},
		{"*Config", &c},
	} {
		for how, got := range printings(t, tt.v) {
			if strings.Contains(got, token) || strings.Contains(got, password) {
				t.Errorf("%s printed with %s reveals the secret: %s", tt.name, how, got)
			}
			if !strings.Contains(got, redacted) {
				t.Errorf("%s printed with %s lacks %q: %s", tt.name, how, redacted, got)
			}
		}
	}
}

func TestSecretEmptyPrintsNothing(t *testing.T) {
	var s Secret
	got := map[string]string{"String": s.String(), "GoString": s.GoString()}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x"} {
		got[verb] = fmt.Sprintf(verb, s)
	}
	for how, out := range got {
		if out != "" {
			t.Errorf("empty Secret with %s = %q, want \"\"", how, out)
		}
	}
	if b, err := json.Marshal(s); err != nil || string(b) != `""` {
		t.Errorf("json.Marshal(empty Secret) = %s, %v; want \"\"", b, err)
	}
}

// TestLoadSecretTrims checks that stray white space around a secret, such
// as the line break ending a file or an env file's value, is dropped: sent
// as it was, it made every Authorization header invalid.
func TestLoadSecretTrims(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name, direct, file string
	}{
		{"direct, trailing newline", token + "\n", ""},
		{"direct, CRLF and spaces", "  " + token + " \r\n", ""},
		{"file, trailing newline", "", token + "\n"},
		{"file, byte order mark and CRLF", "", "\uFEFF" + token + "\r\n"},
		{"file, leading blank line", "", "\n" + token},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSecret(tt.direct)
			path := ""
			if tt.file != "" {
				path = writeFile(t, dir, "token", tt.file)
			}
			if err := LoadSecret("FB_PAGE_TOKEN", &s, path, true); err != nil {
				t.Fatalf("LoadSecret: %v", err)
			}
			if s.Reveal() != token {
				t.Errorf("secret = %q, want %q", s.Reveal(), token)
			}
		})
	}
}

// TestLoadSecretRefusesInnerWhiteSpace checks that a secret no service
// would accept stops start-up with an error naming the variable, never
// the secret.
func TestLoadSecretRefusesInnerWhiteSpace(t *testing.T) {
	for _, tt := range []struct {
		name, variable, value, want string
	}{
		{"line break inside", "FB_PAGE_TOKEN", token[:10] + "\n" + token[10:], "control character"},
		{"tab inside", "HA_TOKEN", token[:10] + "\t" + token[10:], "control character"},
		{"escape inside", "FB_APP_SECRET", token[:10] + "\x1b" + token[10:], "control character"},
		{"space inside a token", "FB_PAGE_TOKEN", token[:10] + " " + token[10:], "a space inside the secret"},
		{"line break inside a password", "MQTT_PASSWORD", password[:3] + "\n" + password[3:], "control character"},
		{"only white space", "HA_TOKEN", " \n", "only white space"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSecret(tt.value)
			err := LoadSecret(tt.variable, &s, "", false)
			var ce *Error
			if !errors.As(err, &ce) || ce.Var != tt.variable || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("LoadSecret = %v, want a *config.Error for %s containing %q", err, tt.variable, tt.want)
			}
			if strings.Contains(err.Error(), token[:10]) || strings.Contains(err.Error(), password[:3]) {
				t.Errorf("error %q shows the secret", err)
			}
		})
	}
	// People choose passwords, and may put spaces in them.
	s := NewSecret("correct horse battery")
	if err := LoadSecret("MQTT_PASSWORD", &s, "", false); err != nil || s.Reveal() != "correct horse battery" {
		t.Errorf("password with spaces: %q, %v; want it kept", s.Reveal(), err)
	}
	// The variable named is the one that held it.
	path := writeFile(t, t.TempDir(), "token", "a b\n")
	var fromFile Secret
	if err := LoadSecret("HA_TOKEN", &fromFile, path, false); err == nil || !strings.HasPrefix(err.Error(), "HA_TOKEN_FILE: ") {
		t.Errorf("LoadSecret from a file = %v, want an error naming HA_TOKEN_FILE", err)
	}
}
