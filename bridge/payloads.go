package bridge

import (
	"encoding/json"
	"time"
)

// info is the retained JSON on <base>/bridge/info.
type info struct {
	Version      string     `json:"version"`
	Recipients   []string   `json:"recipients"`
	Groups       []string   `json:"groups"`
	GraphVersion string     `json:"graph_version"`
	Page         pageInfo   `json:"page"`
	Token        TokenState `json:"token"`
	Discovery    bool       `json:"discovery"`
}

type pageInfo struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

func (s *status) publishInfo() {
	b := s.b
	in := info{
		Version:      b.deps.Version,
		Recipients:   make([]string, 0, len(b.cfg.Recipients)),
		Groups:       make([]string, 0, len(b.cfg.Groups)),
		GraphVersion: b.cfg.GraphVersion,
		Page:         pageInfo{ID: b.deps.Page.ID, Name: b.deps.Page.Name},
		Token:        s.snapshot(),
		Discovery:    b.cfg.Discovery,
	}
	for _, r := range b.cfg.Recipients {
		in.Recipients = append(in.Recipients, r.Name)
	}
	for _, g := range b.cfg.Groups {
		in.Groups = append(in.Groups, g.Name)
	}
	payload, _ := json.Marshal(in) // plain strings and times always marshal
	b.publish(b.topics.Info(), true, payload)
}

// personState is the retained JSON on <base>/person/<name> (SPEC §2). Its
// keys avoid those Home Assistant drops from JSON attributes
// (discovery.BlockedAttribute).
type personState struct {
	WindowUntil  *time.Time `json:"window_until"`
	LastReceived *time.Time `json:"last_received"`
	Reachable    bool       `json:"reachable"`
}

func (s *status) publishPerson(name string) {
	who := s.reach.Person(name)
	st := personState{
		WindowUntil:  utcOrNil(who.WindowUntil()),
		LastReceived: utcOrNil(who.LastReceived),
		Reachable:    who.Reachable(s.reach.Now(), s.templated),
	}
	payload, _ := json.Marshal(st) // times and a bool always marshal
	s.b.publish(s.b.topics.Person(name), true, payload)
	s.republishAt(name, who.WindowUntil())
}

// republishAt marks name's state out of date when its window closes, so
// that "reachable" follows the clock as well as Graph's answers. A later
// window replaces the earlier timer.
func (s *status) republishAt(name string, until time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.closing[name]; t != nil {
		t.Stop()
		delete(s.closing, name)
	}
	if wait := until.Sub(s.reach.Now()); !until.IsZero() && wait > 0 {
		s.closing[name] = time.AfterFunc(wait, func() { s.mark(personKey + name) })
	}
}

func utcOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}
