// Package reach knows whom the page can message right now: each person's
// 24-hour window, as Graph's answers (and, with receiving on, the household's
// own messages) reveal it, and whether the page can send at all: Meta may
// restrict it, and Graph may refuse its token. Delivery writes to a Tracker; the MQTT side observes it to
// publish <base>/person/<name> and the "Page restricted" problem sensor.
package reach

import (
	"sync"
	"time"
)

// Window is how long after a person's last message, tap, reaction or
// postback the page may message them with RESPONSE or UPDATE ("Messenger
// Platform Policy", 24-hour standard messaging window).
const Window = 24 * time.Hour

// Recheck is how long a window that Graph reported closed is trusted
// without asking Graph again. Until then, messages to that person skip the
// doomed in-window send; after it, the next message tries once more, so a
// person who wrote to the page meanwhile is reached even while the bridge
// does not read what the household writes.
const Recheck = 15 * time.Minute

// Person is what is known of one person's window. The zero value is a
// person about whom nothing is known yet, whom the page tries to reach.
type Person struct {
	// LastReceived is when the person last wrote, tapped or reacted;
	// zero when not known.
	LastReceived time.Time
	// Refused is when Graph last refused a message to the person as sent
	// outside the window; zero when it has not since the window was last
	// seen open.
	Refused time.Time
	// TemplateRefused is when Graph last refused the utility template to
	// the person for a reason no retry cures (not approved, a permission
	// missing, the person unavailable); zero when the template has reached
	// them since.
	TemplateRefused time.Time
}

// WindowUntil returns when the window closes, or zero when that is not
// known.
func (p Person) WindowUntil() time.Time {
	if p.LastReceived.IsZero() {
		return time.Time{}
	}
	return p.LastReceived.Add(Window)
}

// Closed reports whether the window is known to be closed at now: Graph
// refused a message as outside it, or the person's last message is more
// than Window old.
func (p Person) Closed(now time.Time) bool {
	if until := p.WindowUntil(); !until.IsZero() && !now.Before(until) {
		return true
	}
	return !p.Refused.IsZero()
}

// Reachable reports whether the page can message the person at now: the
// window is not known to be closed, or templated (a utility template is
// configured) and Graph has not refused the template to them.
func (p Person) Reachable(now time.Time, templated bool) bool {
	return !p.Closed(now) || templated && p.TemplateRefused.IsZero()
}

// Tracker records what delivery learns of every person's window and of the
// page. It is safe for concurrent use. Observers are called after each
// change, outside the Tracker's lock, on the goroutine that made the change:
// they must not block.
type Tracker struct {
	now func() time.Time

	mu        sync.Mutex
	people    map[string]Person
	page      Page
	observers []func(name string)
}

// Page is what the last send's answer said of the page as a whole.
type Page struct {
	// Restricted: Meta restricts the page from sending.
	Restricted bool
	// TokenProblem, when set, is Graph's word that the page token is
	// expired, revoked or invalid: no send succeeds until it is replaced.
	TokenProblem string
}

// New returns a Tracker that knows nothing yet; now is its clock (nil:
// time.Now).
func New(now func() time.Time) *Tracker {
	if now == nil {
		now = time.Now
	}
	return &Tracker{now: now, people: make(map[string]Person)}
}

// Now returns the Tracker's clock reading.
func (t *Tracker) Now() time.Time { return t.now() }

// Observe adds f, called with a person's name after each change to what is
// known of them, and with "" after a change to Page.
func (t *Tracker) Observe(f func(name string)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.observers = append(t.observers, f)
}

// Person returns what is known of name.
func (t *Tracker) Person(name string) Person {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.people[name]
}

// SkipSend reports whether a message to name should not be tried inside the
// window: the window is known to be closed, and Graph refused a message to
// name less than Recheck ago or the person's last message is known.
func (t *Tracker) SkipSend(name string) (Person, bool) {
	now := t.now()
	p := t.Person(name)
	if !p.Closed(now) {
		return p, false
	}
	if until := p.WindowUntil(); !until.IsZero() && !now.Before(until) {
		return p, true
	}
	return p, now.Sub(p.Refused) < Recheck
}

// Refused records that Graph refused a message to name as outside the
// window.
func (t *Tracker) Refused(name string) {
	t.change(name, func(p *Person) bool {
		p.Refused = t.now()
		return true
	})
}

// Delivered records that a message sent inside the window reached name:
// the window is open.
func (t *Tracker) Delivered(name string) {
	t.change(name, func(p *Person) bool {
		changed := !p.Refused.IsZero()
		p.Refused = time.Time{}
		return changed
	})
}

// TemplateRefused records that Graph refused the utility template to name
// for a reason no retry cures.
func (t *Tracker) TemplateRefused(name string) {
	t.change(name, func(p *Person) bool {
		changed := p.TemplateRefused.IsZero()
		p.TemplateRefused = t.now()
		return changed
	})
}

// TemplateSent records that the utility template reached name.
func (t *Tracker) TemplateSent(name string) {
	t.change(name, func(p *Person) bool {
		changed := !p.TemplateRefused.IsZero()
		p.TemplateRefused = time.Time{}
		return changed
	})
}

// Received records that name wrote, tapped or reacted at at, which opens
// their window for Window from then.
func (t *Tracker) Received(name string, at time.Time) {
	t.change(name, func(p *Person) bool {
		if !at.After(p.LastReceived) {
			return false
		}
		p.LastReceived, p.Refused = at, time.Time{}
		return true
	})
}

func (t *Tracker) change(name string, f func(*Person) bool) {
	t.mu.Lock()
	p := t.people[name]
	changed := f(&p)
	t.people[name] = p
	obs := t.observers
	t.mu.Unlock()
	if changed {
		for _, o := range obs {
			o(name)
		}
	}
}

// SetPage records what the answer to a send said of the page: a
// restriction, a refused token, or, for a success, neither.
func (t *Tracker) SetPage(p Page) {
	t.mu.Lock()
	changed := t.page != p
	t.page = p
	obs := t.observers
	t.mu.Unlock()
	if changed {
		for _, o := range obs {
			o("")
		}
	}
}

// Page returns what the last send's answer said of the page.
func (t *Tracker) Page() Page {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.page
}
