package bridge

import (
	"encoding/json"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/messenger-bridge/messenger-bridge/discovery"
)

// Token states shown in bridge/info and the diagnostic entities.
const (
	TokenUnknown = "unknown"
	TokenValid   = "valid"
	TokenInvalid = "invalid"
)

// TokenState is what the bridge knows about the page token.
type TokenState struct {
	State     string     `json:"state"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"` // nil: never, or not known
	Problem   string     `json:"problem,omitempty"`
}

// status owns what the bridge publishes about itself: the retained state and
// info topics, the token's diagnostic topics and Home Assistant discovery.
type status struct {
	b *Bridge

	mu    sync.Mutex
	token TokenState

	publishing sync.Mutex // one discovery publication at a time

	// republishing is set while a republish for Home Assistant's birth
	// message waits for its delay: it answers every birth until it starts.
	republishing atomic.Bool
}

func newStatus(b *Bridge, token TokenState) *status {
	if token.State == "" {
		token.State = TokenUnknown
	}
	return &status{b: b, token: token}
}

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

// connected announces the bridge after every (re)connection: the broker may
// have published the will in between.
func (s *status) connected() {
	b := s.b
	b.publish(b.topics.State(), true, []byte(stateOnline))
	s.publishAll()
	b.people.all()
	// The "Outbox damaged" problem sensor: ON from a start that found the
	// outbox damaged until the next start.
	damaged := discovery.TokenProblemPayload(b.deps.Outbox.Damage() != nil)
	b.publish(discovery.OutboxDamagedTopic(b.cfg.BaseTopic), true, []byte(damaged))
}

// homeAssistantOnline republishes discovery after Home Assistant restarted,
// after a random delay as Home Assistant's MQTT documentation recommends so
// that many integrations do not answer at once. A burst of birth messages
// gets one republish, as Zigbee2MQTT answers them (lib/extension/
// homeassistant.ts): a birth that comes while a republish waits adds
// nothing. It is called on paho's goroutine and does not block.
func (s *status) homeAssistantOnline() {
	if !s.republishing.CompareAndSwap(false, true) {
		s.b.log.Trace().Msg("Home Assistant is online; the republish already scheduled answers it")
		return
	}
	delay := time.Duration(rand.Int64N(int64(s.b.discoveryDelay()) + 1))
	after := time.After
	if s.b.deps.DiscoveryAfter != nil {
		after = s.b.deps.DiscoveryAfter
	}
	due := after(delay)
	s.b.log.Debug().Dur("delay", delay).Msg("Home Assistant is online; republishing discovery")
	s.b.background(func() {
		select {
		case <-due:
		case <-s.b.gate.stopped:
			return
		}
		// A birth from now on may come after Home Assistant missed this
		// publication: it gets a republish of its own.
		s.republishing.Store(false)
		s.publishAll()
	})
}

func (s *status) publishAll() {
	s.publishing.Lock()
	defer s.publishing.Unlock()
	s.publishInfo()
	if s.b.cfg.Discovery {
		s.b.publishDiscovery()
		s.publishToken()
	}
}

// SetToken replaces what the bridge knows about the page token, as a
// periodic token check learns it, and republishes it when it changed.
func (b *Bridge) SetToken(t TokenState) {
	b.state.setToken(func(cur *TokenState) { *cur = t })
}

func (s *status) tokenInvalid(problem string) {
	s.setToken(func(t *TokenState) { t.State, t.Problem = TokenInvalid, problem })
}

func (s *status) tokenWorks() {
	s.setToken(func(t *TokenState) { t.State, t.Problem = TokenValid, "" })
}

// setToken applies change and republishes only if the state changed.
func (s *status) setToken(change func(*TokenState)) {
	s.mu.Lock()
	before := s.token
	change(&s.token)
	changed := before.State != s.token.State || before.Problem != s.token.Problem ||
		!equalTime(before.ExpiresAt, s.token.ExpiresAt)
	s.mu.Unlock()
	if changed {
		s.b.log.Info().Str("state", s.snapshot().State).Msg("page token state changed")
		s.publishInfo()
		if s.b.cfg.Discovery {
			s.publishToken()
		}
	}
}

func equalTime(a, b *time.Time) bool {
	return a == b || a != nil && b != nil && a.Equal(*b)
}

func (s *status) snapshot() TokenState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.token
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
