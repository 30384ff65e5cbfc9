package config

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"unicode"
)

// redacted is what a set Secret prints instead of its value.
const redacted = "[redacted]"

// maxSecretFile bounds what a _FILE variable may point at. Tokens and
// passwords are a few hundred bytes; a larger file is the wrong file, and the
// bound keeps a mistake such as /dev/zero from hanging start-up.
const maxSecretFile = 64 << 10

// Secret is a credential such as a token or password. Every way of printing
// it — fmt with any verb, String, GoString, JSON, slog — yields "[redacted]",
// or "" when it is empty; only Reveal returns the value. Its zero value is
// empty.
type Secret struct {
	value string
}

// NewSecret returns a Secret holding value.
func NewSecret(value string) Secret { return Secret{value: value} }

// Reveal returns the credential itself. Call it only where the value is sent
// to the service that needs it.
func (s Secret) Reveal() string { return s.value }

// IsSet reports whether the secret is non-empty.
func (s Secret) IsSet() bool { return s.value != "" }

// Set stores value; envconfig calls it (as a [flag.Value] would be) when the
// variable is present.
func (s *Secret) Set(value string) error {
	s.value = value
	return nil
}

// String returns "[redacted]", or "" when the secret is empty.
func (s Secret) String() string {
	if !s.IsSet() {
		return ""
	}
	return redacted
}

// GoString is String, so %#v hides the value too.
func (s Secret) GoString() string { return s.String() }

// Format prints String for every verb, so that verbs fmt would otherwise
// apply to the underlying struct (%d, %x on fields) cannot show the value.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.String()) }

// MarshalJSON encodes String, so logging a Config as JSON (zerolog's
// Interface and Any, encoding/json) hides the value.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// LogValue makes log/slog print String.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// spacedSecrets are the secrets that may hold spaces inside: passwords,
// which people choose. Tokens and app secrets never do, so a space inside
// one is a copying mistake.
var spacedSecrets = map[string]bool{"MQTT_PASSWORD": true}

// LoadSecret settles a secret given either directly in variable name or as
// the path in name_FILE. Either way the value loses its surrounding white
// space, such as the line break that ends a file or that a shell or .env
// file leaves, and a file loses a leading byte order mark. A value holding
// a control character (a line break inside, a tab), or a space inside a
// token, which no service would accept, is an error, as is one of white
// space only. Its errors name the variable and never hold the secret.
func LoadSecret(name string, s *Secret, path string, required bool) error {
	fileVar := name + "_FILE"
	switch {
	case s.IsSet() && path != "":
		return &Error{Var: name, Problem: "set together with " + fileVar + "; keep only one"}
	case path != "":
		v, err := readSecretFile(path)
		if err != nil {
			return &Error{Var: fileVar, Problem: "cannot read the secret", Err: err}
		}
		if strings.TrimSpace(v) == "" {
			return &Error{Var: fileVar, Problem: "file " + path + " is empty"}
		}
		return settleSecret(name, fileVar, s, v)
	case s.IsSet():
		return settleSecret(name, name, s, s.value)
	case required:
		return &Error{Var: name, Problem: "required (set it or " + fileVar + ")"}
	}
	return nil
}

// settleSecret stores v, trimmed, in s, or reports as variable from why the
// secret called name cannot be right.
func settleSecret(name, from string, s *Secret, v string) error {
	v = strings.TrimSpace(v)
	if v == "" {
		return &Error{Var: from, Problem: "holds only white space"}
	}
	for _, r := range v {
		switch {
		case unicode.IsControl(r):
			return &Error{Var: from, Problem: "holds a line break, tab or other control character inside the secret; copy it again without it"}
		case unicode.IsSpace(r) && !spacedSecrets[name]:
			return &Error{Var: from, Problem: "holds a space inside the secret, which a token never does; copy it again without it"}
		}
	}
	*s = NewSecret(v)
	return nil
}

// readSecretFile returns the content of the file at path, without a
// leading byte order mark. Its errors never contain the content.
func readSecretFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return "", err
	}
	if len(b) > maxSecretFile {
		return "", fmt.Errorf("%s is larger than %d KiB; is it the right file?", path, maxSecretFile>>10)
	}
	return strings.TrimPrefix(string(b), "\uFEFF"), nil
}
