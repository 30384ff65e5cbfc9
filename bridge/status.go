package bridge

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/messenger-bridge/messenger-bridge/reach"
	"github.com/messenger-bridge/messenger-bridge/topics"
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

// What status publishes, as the keys of its dirty set. A person's key is
// personKey followed by the name.
const (
	keyState      = "state"
	keyInfo       = "info"
	keyDiscovery  = "discovery"
	keyToken      = "token"
	keyRestricted = "restricted"
	keyOutbox     = "outbox"
	personKey     = "person/"
)

// publishOrder is the order in which one round publishes what changed:
// online first, then what describes the bridge, then its entities' states.
var publishOrder = []string{keyState, keyInfo, keyDiscovery, keyToken, keyRestricted, keyOutbox}

// status owns every retained topic the bridge publishes: bridge/state,
// bridge/info, the page token's diagnostic topics, bridge/restricted, each
// person's <base>/person/<name>, and Home Assistant discovery. Its inputs
// (a connection, Home Assistant's birth, the token watcher, and the
// reach.Tracker that delivery writes to) only mark what is out of date; one
// goroutine, run, publishes the current state of each. So a retained topic
// is never overwritten by an older state, and no input waits for the
// broker: delivery goes on while it is away.
type status struct {
	b         *Bridge
	reach     *reach.Tracker
	templated bool            // a utility template is configured for people whose window is closed
	known     map[string]bool // the recipients' names

	mu      sync.Mutex
	token   TokenState
	closing map[string]*time.Timer // by person: fires when their window closes
	dirty   map[string]bool
	wake    chan struct{} // holds a token while dirty is not empty

	// republishing is set while a republish for Home Assistant's birth
	// message waits for its delay: it answers every birth until it starts.
	republishing atomic.Bool
}

func newStatus(b *Bridge, token TokenState, t *reach.Tracker) *status {
	if token.State == "" {
		token.State = TokenUnknown
	}
	s := &status{b: b, reach: t, token: token, templated: b.cfg.UtilityTemplate != "",
		known: make(map[string]bool), closing: make(map[string]*time.Timer), dirty: make(map[string]bool), wake: make(chan struct{}, 1)}
	for _, r := range b.cfg.Recipients {
		s.known[r.Name] = true
	}
	t.Observe(s.reachChanged)
	return s
}

// mark records keys as out of date and wakes run. It never blocks.
func (s *status) mark(keys ...string) {
	s.mu.Lock()
	for _, k := range keys {
		s.dirty[k] = true
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// run publishes what is out of date until ctx ends.
func (s *status) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		}
		s.mu.Lock()
		dirty := s.dirty
		s.dirty = make(map[string]bool)
		s.mu.Unlock()
		for _, k := range publishOrder {
			if dirty[k] {
				s.publish(k)
			}
		}
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range dirty {
				if strings.HasPrefix(k, personKey) && !yield(k) {
					return
				}
			}
		}) {
			s.publishPerson(strings.TrimPrefix(k, personKey))
		}
	}
}

func (s *status) publish(key string) {
	b := s.b
	switch key {
	case keyState:
		b.publish(b.topics.State(), true, []byte(topics.Online))
	case keyInfo:
		s.publishInfo()
	case keyDiscovery:
		if b.cfg.Discovery {
			b.publishDiscovery()
		}
	case keyToken:
		if b.cfg.Discovery {
			s.publishToken()
		}
	case keyRestricted:
		b.publish(b.topics.Restricted(), true, []byte(topics.Flag(s.reach.Page().Restricted)))
	case keyOutbox:
		// The "Outbox damaged" problem sensor: on from a start that found
		// the outbox damaged until the next start.
		b.publish(b.topics.OutboxDamaged(), true, []byte(topics.Flag(b.deps.Outbox.Damage() != nil)))
	}
}

// connected announces everything after every (re)connection: the broker may
// have published the will in between, and a retained state published while
// the broker was away may be lost with a broker that does not persist.
func (s *status) connected() {
	keys := slices.Clone(publishOrder)
	for name := range s.known {
		keys = append(keys, personKey+name)
	}
	s.mark(keys...)
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
	s.b.session.Go(func() {
		select {
		case <-due:
		case <-s.b.session.Stopping():
			return
		}
		// A birth from now on may come after Home Assistant missed this
		// publication: it gets a republish of its own.
		s.republishing.Store(false)
		s.mark(keyInfo, keyDiscovery, keyToken)
	})
}

// SetToken replaces what the bridge knows about the page token, as a
// periodic token check learns it, and republishes it when it changed. It
// does not block.
func (b *Bridge) SetToken(t TokenState) {
	b.state.setToken(func(cur *TokenState) { *cur = t })
}

// reachChanged is the reach.Tracker's observer: a person's window, or the
// page (name ""), which may be restricted or have its token refused.
func (s *status) reachChanged(name string) {
	if name != "" {
		if s.known[name] {
			s.mark(personKey + name)
		}
		return
	}
	s.mark(keyRestricted)
	if problem := s.reach.Page().TokenProblem; problem != "" {
		s.setToken(func(t *TokenState) { t.State, t.Problem = TokenInvalid, problem })
	} else {
		s.setToken(func(t *TokenState) {
			if t.State == TokenInvalid {
				t.State, t.Problem = TokenValid, ""
			}
		})
	}
}

// setToken applies change and marks the token out of date if it changed.
func (s *status) setToken(change func(*TokenState)) {
	s.mu.Lock()
	before := s.token
	change(&s.token)
	after := s.token
	s.mu.Unlock()
	if before.State != after.State || before.Problem != after.Problem || !equalTime(before.ExpiresAt, after.ExpiresAt) {
		s.b.log.Info().Str("state", after.State).Msg("page token state changed")
		s.mark(keyInfo, keyToken)
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
