package config

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestValidName(t *testing.T) {
	for name, want := range map[string]bool{
		"alice":                 true,
		"a":                     true,
		"bob_2-x":               true,
		"0":                     true,
		strings.Repeat("a", 64): true,
		"":                      false,
		strings.Repeat("a", 65): false,
		"Alice":                 false,
		"al ice":                false,
		"a.b":                   false,
		"a/b":                   false,
		"a+b":                   false,
		"a#":                    false,
		"zoë":                   false,
		"alice:1":               false,
	} {
		if got := ValidName(name); got != want {
			t.Errorf("ValidName(%q) = %v, want %v", name, got, want)
		}
	}
}

func people() *Config {
	return &Config{
		Recipients: []Recipient{{"alice", "1"}, {"bob", "2"}, {"carol", "3"}},
		Groups: []Group{
			{"family", []string{"carol", "alice"}},
			{"repeats", []string{"bob", "alice", "bob", "alice"}},
		},
	}
}

func TestResolve(t *testing.T) {
	alice, bob, carol := Recipient{"alice", "1"}, Recipient{"bob", "2"}, Recipient{"carol", "3"}
	tests := []struct {
		name   string
		want   []Recipient
		wantOK bool
	}{
		{"bob", []Recipient{bob}, true},
		{"family", []Recipient{carol, alice}, true},
		{"repeats", []Recipient{bob, alice}, true},
		{"dave", nil, false},
		{"", nil, false},
	}
	c := people()
	for _, tt := range tests {
		got, ok := c.Resolve(tt.name)
		if ok != tt.wantOK || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Resolve(%q) = %v, %v; want %v, %v", tt.name, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestNames(t *testing.T) {
	want := []string{"alice", "bob", "carol", "family", "repeats"}
	if got := people().Names(); !reflect.DeepEqual(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}
}

func BenchmarkResolve(b *testing.B) {
	c := &Config{}
	var everyone []string
	for i := range 50 {
		name := fmt.Sprintf("person%d", i)
		c.Recipients = append(c.Recipients, Recipient{name, fmt.Sprint(i + 1)})
		everyone = append(everyone, name)
	}
	c.Groups = []Group{{"everyone", everyone}}
	b.Run("recipient", func(b *testing.B) {
		for b.Loop() {
			c.Resolve("person49")
		}
	})
	b.Run("group", func(b *testing.B) {
		for b.Loop() {
			c.Resolve("everyone")
		}
	})
}

func TestDisplayName(t *testing.T) {
	for name, want := range map[string]string{
		"alice":       "Alice",
		"alice_smith": "Alice Smith",
		"bob-the-cat": "Bob The Cat",
		"x__y":        "X Y",
		"2nd_floor":   "2nd Floor",
		"_":           "_",
	} {
		if got := DisplayName(name); got != want {
			t.Errorf("DisplayName(%q) = %q, want %q", name, got, want)
		}
	}
}
