package household

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

func people() *Household {
	h, err := New([]Recipient{{"alice", "1"}, {"bob", "2"}, {"carol", "3"}}, []Group{
		{"family", []string{"carol", "alice"}},
		{"repeats", []string{"bob", "alice", "bob", "alice"}},
	})
	if err != nil {
		panic(err)
	}
	return h
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
	var rs []Recipient
	var everyone []string
	for i := range 50 {
		name := fmt.Sprintf("person%d", i)
		rs = append(rs, Recipient{name, fmt.Sprint(i + 1)})
		everyone = append(everyone, name)
	}
	c, err := New(rs, []Group{{"everyone", everyone}})
	if err != nil {
		b.Fatal(err)
	}
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

func TestNewChecksTheWhole(t *testing.T) {
	alice := Recipient{"alice", "1"}
	tests := []struct {
		name     string
		rs       []Recipient
		gs       []Group
		inGroups bool
		problem  string
	}{
		{"nobody", nil, nil, false, "required"},
		{"twice", []Recipient{alice, alice}, nil, false, `"alice" is listed twice`},
		{"group named like a person", []Recipient{alice}, []Group{{"alice", []string{"alice"}}}, true, "has the name of a recipient"},
		{"group twice", []Recipient{alice}, []Group{{"g", []string{"alice"}}, {"g", []string{"alice"}}}, true, `group "g" is listed twice`},
		{"unknown member", []Recipient{alice}, []Group{{"g", []string{"bob"}}}, true, `"bob" is not in RECIPIENTS`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.rs, tt.gs)
			e, ok := err.(*Error)
			if !ok || e.InGroups != tt.inGroups || !strings.Contains(e.Problem, tt.problem) {
				t.Fatalf("New = %v, want an *Error (groups %v) saying %q", err, tt.inGroups, tt.problem)
			}
		})
	}
}

func TestByPSID(t *testing.T) {
	h := people()
	if r, ok := h.ByPSID("2"); !ok || r.Name != "bob" {
		t.Errorf("ByPSID(2) = %v, %v; want bob", r, ok)
	}
	if _, ok := h.ByPSID("9"); ok {
		t.Error("ByPSID found a PSID nobody has")
	}
}
