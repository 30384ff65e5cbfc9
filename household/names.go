// Package household is who the bridge talks to: the people of a household,
// each with a name used in topics and payloads and the page-scoped ID
// (PSID) Messenger knows them by, and the groups that stand for several of
// them. It holds the naming rules SPEC.md gives, so that every package that
// handles a name applies the same ones; package config fills a Household
// from RECIPIENTS and GROUPS.
package household

import (
	"errors"
	"fmt"
	"strings"
)

// MaxNameLen is the longest recipient or group name SPEC.md allows.
const MaxNameLen = 64

// maxPSIDLen bounds a page-scoped ID. PSIDs are decimal numbers, today 16 or
// 17 digits long; 32 leaves Meta room to grow them.
const maxPSIDLen = 32

// ErrEmptyEntry reports an empty item in a comma-separated list.
var ErrEmptyEntry = errors.New("empty entry; remove the extra comma")

// Recipient is a person the bridge can message: the name used in topics and
// payloads, and the page-scoped ID (PSID) Messenger knows them by.
type Recipient struct {
	Name string
	PSID string
}

// UnmarshalText reads one RECIPIENTS entry, "name:PSID". Spaces around the
// entry and around either part are ignored.
func (r *Recipient) UnmarshalText(text []byte) error {
	entry := strings.TrimSpace(string(text))
	if entry == "" {
		return ErrEmptyEntry
	}
	name, psid, ok := strings.Cut(entry, ":")
	name, psid = strings.TrimSpace(name), strings.TrimSpace(psid)
	switch {
	case !ok:
		return fmt.Errorf("%q: want name:PSID, e.g. alice:26428272146817880", entry)
	case !ValidName(name):
		return badName(name)
	case !validPSID(psid):
		return fmt.Errorf("%q: the PSID must be 1 to %d digits, got %q", name, maxPSIDLen, psid)
	}
	*r = Recipient{Name: name, PSID: psid}
	return nil
}

// Group is a name that stands for several recipients; a message to it goes
// to each member.
type Group struct {
	Name string
	// Members are recipient names, in the order given.
	Members []string
}

// UnmarshalText reads one GROUPS entry, "group:name+name". Spaces around the
// entry and around each name are ignored. Whether the members exist is
// checked by New, which knows the recipients.
func (g *Group) UnmarshalText(text []byte) error {
	entry := strings.TrimSpace(string(text))
	if entry == "" {
		return ErrEmptyEntry
	}
	name, list, ok := strings.Cut(entry, ":")
	name = strings.TrimSpace(name)
	switch {
	case !ok:
		return fmt.Errorf("%q: want group:name+name, e.g. family:alice+bob", entry)
	case !ValidName(name):
		return badName(name)
	case strings.TrimSpace(list) == "":
		return fmt.Errorf("group %q has no members", name)
	}
	var members []string
	for m := range strings.SplitSeq(list, "+") {
		m = strings.TrimSpace(m)
		if m == "" {
			return fmt.Errorf("group %q: empty member; check the + signs", name)
		}
		if !ValidName(m) {
			return fmt.Errorf("group %q: %w", name, badName(m))
		}
		members = append(members, m)
	}
	*g = Group{Name: name, Members: members}
	return nil
}

// ValidName reports whether name may name a recipient or group: 1 to 64
// lowercase ASCII letters, digits, '_' or '-' (SPEC.md), which keeps it safe
// as an MQTT topic level.
func ValidName(name string) bool {
	if len(name) == 0 || len(name) > MaxNameLen {
		return false
	}
	for _, c := range []byte(name) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// DisplayName returns how a person or group is shown to people:
// "alice_smith" and "alice-smith" become "Alice Smith".
func DisplayName(name string) string {
	ws := strings.FieldsFunc(name, func(r rune) bool { return r == '_' || r == '-' })
	if len(ws) == 0 {
		return name
	}
	for i, w := range ws {
		ws[i] = strings.ToUpper(w[:1]) + w[1:]
	}
	return strings.Join(ws, " ")
}

func badName(name string) error {
	return fmt.Errorf("%q is not a valid name: use 1 to %d lowercase letters, digits, _ or -", name, MaxNameLen)
}

// validPSID reports whether s is 1 to maxPSIDLen decimal digits.
func validPSID(s string) bool {
	return len(s) > 0 && len(s) <= maxPSIDLen && isDigits(s)
}

func isDigits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
