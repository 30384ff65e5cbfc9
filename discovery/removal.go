package discovery

import (
	"encoding/json"
	"fmt"
	"slices"
)

// Components returns, sorted, the ids of the components a discovery payload
// configures. Components in removal form (only a platform) are left out.
// The abbreviation "cmps" is read like "components".
func Components(payload []byte) ([]string, error) {
	var p struct {
		Components map[string]map[string]json.RawMessage `json:"components"`
		Cmps       map[string]map[string]json.RawMessage `json:"cmps"`
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		return nil, fmt.Errorf("discovery: reading discovery payload: %w", err)
	}
	cmps := p.Components
	if cmps == nil {
		cmps = p.Cmps
	}
	var ids []string
	for id, c := range cmps {
		if len(c) > 1 {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// Removed returns, sorted, the ids of the components previous configures
// that Config(d, entities, nil) does not: those of recipients and groups
// no longer configured. Previous is the retained payload found at
// [Device.Topic]; Removed returns nil when it is empty or not a discovery
// payload, or when Config would fail for d and entities.
func Removed(previous []byte, d Device, entities []Entity) []string {
	if len(previous) == 0 {
		return nil
	}
	old, err := Components(previous)
	if err != nil {
		return nil
	}
	current, err := build(d, entities)
	if err != nil {
		return nil
	}
	var gone []string
	for _, id := range old {
		_, kept := current[id]
		// An id this version cannot place on a platform cannot be put in
		// removal form; Config would refuse it.
		if _, known := platformOf(id); !kept && known {
			gone = append(gone, id)
		}
	}
	return gone
}
