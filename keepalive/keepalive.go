// Package keepalive keeps each person's 24-hour window from closing
// unnoticed (WINDOW_KEEPALIVE): once per window, that long before it closes,
// it asks the person a silent question with one quick reply. A tap opens
// the window for another 24 hours, so alerts keep arriving without a
// template. It never asks when the window is already closed, and asks once
// per window, across restarts.
package keepalive

import (
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/messenger-bridge/messenger-bridge/clock"
	"github.com/messenger-bridge/messenger-bridge/message"
	"github.com/messenger-bridge/messenger-bridge/reach"
)

// Payload is the keep-alive quick reply's payload, as it comes back on
// <base>/received/<name>.
const Payload = "KEEP_ALERTS"

// Title is the keep-alive quick reply's button.
const Title = "Keep alerts on"

// Asker sends a message to the person called name through the bridge's
// outbox, as if it had arrived on MQTT: stored, ordered, retried, reported.
type Asker interface {
	Ask(name string, m message.Message) error
}

// Memory records, durably, for which window a person was last asked, so
// that a restart does not ask again.
type Memory interface {
	Cursor(key string) (string, error)
	SetCursor(key, value string) error
}

// Clock is the scheduler's time: Now, and a channel that fires after d.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// Config configures a Keeper; every field but Clock and Log is required.
type Config struct {
	// Before is WINDOW_KEEPALIVE: how long before a window closes to ask.
	Before time.Duration
	// Text is WINDOW_KEEPALIVE_TEXT.
	Text   string
	People []string
	Reach  *reach.Tracker
	Asker  Asker
	Memory Memory
	Clock  Clock // default the system clock
	Log    zerolog.Logger
}

// Keeper runs the keep-alive questions.
type Keeper struct {
	cfg  Config
	wake chan struct{}
}

// New returns a Keeper; call Run.
func New(cfg Config) *Keeper {
	if cfg.Clock == nil {
		cfg.Clock = clock.System{}
	}
	k := &Keeper{cfg: cfg, wake: make(chan struct{}, 1)}
	cfg.Reach.Observe(func(string) {
		select {
		case k.wake <- struct{}{}:
		default:
		}
	})
	return k
}

// idle is how long Run waits when no window is known: a window learned
// meanwhile wakes it at once.
const idle = time.Hour

// Run asks whoever is due until ctx ends.
func (k *Keeper) Run(ctx context.Context) {
	for {
		next := k.askDue()
		wait := idle
		if !next.IsZero() {
			wait = max(next.Sub(k.cfg.Clock.Now()), 0)
		}
		select {
		case <-ctx.Done():
			return
		case <-k.wake:
		case <-k.cfg.Clock.After(wait):
		}
	}
}

// askDue asks every person whose moment has come and returns the earliest
// moment still to come, or zero when none is known.
func (k *Keeper) askDue() time.Time {
	now := k.cfg.Clock.Now()
	var next time.Time
	for _, name := range k.cfg.People {
		until := k.cfg.Reach.Person(name).WindowUntil()
		if until.IsZero() || !now.Before(until) || k.asked(name, until) {
			continue // unknown, closed, or asked for this window
		}
		at := until.Add(-k.cfg.Before)
		if now.Before(at) {
			if next.IsZero() || at.Before(next) {
				next = at
			}
			continue
		}
		k.ask(name, until)
	}
	return next
}

func memoryKey(name string) string { return "keepalive/" + name }

func (k *Keeper) asked(name string, until time.Time) bool {
	v, err := k.cfg.Memory.Cursor(memoryKey(name))
	if err != nil {
		k.cfg.Log.Warn().Err(err).Str("recipient", name).Msg("cannot read when the keep-alive was last asked")
		return true // better no question than two
	}
	return v == until.UTC().Format(time.RFC3339)
}

func (k *Keeper) ask(name string, until time.Time) {
	m := message.Message{
		ID:           fmt.Sprintf("keepalive-%s-%d", name, until.Unix()),
		Text:         k.cfg.Text,
		QuickReplies: []message.QuickReply{{Title: Title, Payload: Payload}},
		Notification: message.NotifySilent,
	}
	if err := k.cfg.Asker.Ask(name, m); err != nil {
		k.cfg.Log.Warn().Err(err).Str("recipient", name).Msg("cannot queue the keep-alive question")
		return
	}
	if err := k.cfg.Memory.SetCursor(memoryKey(name), until.UTC().Format(time.RFC3339)); err != nil {
		k.cfg.Log.Warn().Err(err).Str("recipient", name).Msg("cannot record the keep-alive question; it may be asked again after a restart")
	}
	k.cfg.Log.Info().Str("recipient", name).Time("window_until", until).Msg("asked to keep the 24-hour window open")
}
