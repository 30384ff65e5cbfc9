package household

import (
	"fmt"
	"slices"
)

// Household is the people and groups the bridge may address. A Household
// returned by New is valid and is not changed afterwards: it is safe for
// concurrent use.
type Household struct {
	recipients []Recipient
	groups     []Group
}

// Error is a problem with the household as configured. InGroups tells
// whether it is about the groups rather than the people.
type Error struct {
	InGroups bool
	Problem  string
}

func (e *Error) Error() string { return e.Problem }

// New returns the household of recipients and groups, each checked by its
// UnmarshalText already, after checking them together: at least one
// recipient, no name twice, no group named like a recipient, and only
// recipients as members. A problem is an *Error.
func New(recipients []Recipient, groups []Group) (*Household, error) {
	if len(recipients) == 0 {
		return nil, &Error{Problem: "required: name:PSID pairs such as alice:26428272146817880"}
	}
	people := make(map[string]bool, len(recipients))
	for _, r := range recipients {
		if people[r.Name] {
			return nil, &Error{Problem: fmt.Sprintf("%q is listed twice", r.Name)}
		}
		people[r.Name] = true
	}
	seen := make(map[string]bool, len(groups))
	for _, g := range groups {
		switch {
		case people[g.Name]:
			return nil, &Error{InGroups: true, Problem: fmt.Sprintf("group %q has the name of a recipient; rename one of them", g.Name)}
		case seen[g.Name]:
			return nil, &Error{InGroups: true, Problem: fmt.Sprintf("group %q is listed twice", g.Name)}
		}
		seen[g.Name] = true
		for _, m := range g.Members {
			if !people[m] {
				return nil, &Error{InGroups: true, Problem: fmt.Sprintf("group %q: %q is not in RECIPIENTS", g.Name, m)}
			}
		}
	}
	return &Household{recipients: slices.Clone(recipients), groups: slices.Clone(groups)}, nil
}

// Recipients returns the people, in configuration order.
func (h *Household) Recipients() []Recipient { return slices.Clone(h.recipients) }

// Groups returns the groups, in configuration order.
func (h *Household) Groups() []Group { return slices.Clone(h.groups) }

// Names returns every name a message may be addressed to: the recipients,
// then the groups, each in configuration order.
func (h *Household) Names() []string {
	names := make([]string, 0, len(h.recipients)+len(h.groups))
	for _, r := range h.recipients {
		names = append(names, r.Name)
	}
	for _, g := range h.groups {
		names = append(names, g.Name)
	}
	return names
}

// Resolve returns the recipients name stands for: a recipient itself, or a
// group's members in the group's order, each once. It reports false when
// name is neither a recipient nor a group.
func (h *Household) Resolve(name string) ([]Recipient, bool) {
	if r, ok := h.Recipient(name); ok {
		return []Recipient{r}, true
	}
	i := slices.IndexFunc(h.groups, func(g Group) bool { return g.Name == name })
	if i < 0 {
		return nil, false
	}
	members := make([]Recipient, 0, len(h.groups[i].Members))
	for _, m := range h.groups[i].Members {
		if r, ok := h.Recipient(m); ok && !slices.Contains(members, r) {
			members = append(members, r)
		}
	}
	return members, true
}

// Recipient returns the person called name.
func (h *Household) Recipient(name string) (Recipient, bool) {
	i := slices.IndexFunc(h.recipients, func(r Recipient) bool { return r.Name == name })
	if i < 0 {
		return Recipient{}, false
	}
	return h.recipients[i], true
}

// ByPSID returns the person whose page-scoped id is psid.
func (h *Household) ByPSID(psid string) (Recipient, bool) {
	i := slices.IndexFunc(h.recipients, func(r Recipient) bool { return r.PSID == psid })
	if i < 0 {
		return Recipient{}, false
	}
	return h.recipients[i], true
}
