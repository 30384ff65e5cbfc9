package config

import (
	"bytes"
	"encoding/json"
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
