package bridge

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/messenger-bridge/messenger-bridge/reach"
	"github.com/messenger-bridge/messenger-bridge/topics"
)

// people publishes, retained, what the reach.Tracker knows: each person's
// window on <base>/person/<name> (SPEC §2) and whether Meta restricts the
// page on the "Page restricted" problem sensor's topic. One goroutine
// publishes the current state of whatever changed, so a retained state is
// never overwritten by an older one, and delivery, which makes the changes,
// never waits for the broker.
type people struct {
	b         *Bridge
	reach     *reach.Tracker
	templated bool            // a utility template reaches people whose window is closed
	known     map[string]bool // the recipients' names

	mu    sync.Mutex
	dirty map[string]bool // by person; "" is the page
	wake  chan struct{}   // holds a token while dirty is not empty
}

func newPeople(b *Bridge, t *reach.Tracker) *people {
	p := &people{b: b, reach: t, templated: b.cfg.UtilityTemplate != "", known: make(map[string]bool),
		dirty: make(map[string]bool), wake: make(chan struct{}, 1)}
	for _, r := range b.cfg.Recipients {
		p.known[r.Name] = true
	}
	t.Observe(p.changed)
	return p
}

// changed marks name ("" for the page) for publication. It never blocks.
func (p *people) changed(name string) {
	p.mu.Lock()
	p.dirty[name] = true
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// all marks every person and the page, as after a (re)connection.
func (p *people) all() {
	for name := range p.known {
		p.changed(name)
	}
	p.changed("")
}

// run publishes changes until ctx ends.
func (p *people) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
		}
		p.mu.Lock()
		names := p.dirty
		p.dirty = make(map[string]bool)
		p.mu.Unlock()
		for name := range names {
			p.publish(name)
		}
	}
}

// personState is the retained JSON on <base>/person/<name>. Its keys avoid
// those Home Assistant drops from JSON attributes (MQTT_ATTRIBUTES_BLOCKED).
type personState struct {
	WindowUntil  *time.Time `json:"window_until"`
	LastReceived *time.Time `json:"last_received"`
	Reachable    bool       `json:"reachable"`
}

func (p *people) publish(name string) {
	if name == "" {
		p.b.publish(p.b.topics.Restricted(), true, []byte(topics.Flag(p.reach.Restricted())))
		return
	}
	if !p.known[name] {
		return
	}
	who := p.reach.Person(name)
	st := personState{
		WindowUntil:  utcOrNil(who.WindowUntil()),
		LastReceived: utcOrNil(who.LastReceived),
		Reachable:    p.templated || !who.Closed(p.reach.Now()),
	}
	payload, _ := json.Marshal(st) // times and a bool always marshal
	p.b.publish(p.b.topics.Person(name), true, payload)
}

func utcOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}
