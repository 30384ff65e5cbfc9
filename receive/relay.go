package receive

import (
	"cmp"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/messenger-bridge/messenger-bridge/household"
	"github.com/messenger-bridge/messenger-bridge/topics"
)

// Publisher publishes payload on topic with QoS 1, not retained, and returns
// once the broker has acknowledged it, or with ctx's error.
type Publisher interface {
	PublishAcked(ctx context.Context, topic string, payload []byte) error
}

// Opener is told that a person's 24-hour window opened again at at: every
// message, tap, postback or reaction does that (reach.Tracker.Received).
type Opener interface {
	Received(name string, at time.Time)
}

// Relay timings.
const (
	// DefaultUnknownEvery is how often one unknown sender is reported at
	// most: enough to find their PSID, not enough to flood the broker.
	DefaultUnknownEvery = 10 * time.Minute
	// QuickReplyFor is how long after quick replies were sent a message
	// holding one of their titles counts as a tap: the window's length.
	QuickReplyFor = 24 * time.Hour
	// maxUnknown is how many unknown senders the rate limit remembers
	// before it forgets those whose limit has passed.
	maxUnknown = 1024
	// relayDrain bounds how long a publication under way at shutdown may
	// take to be acknowledged.
	relayDrain = 2 * time.Second
	// retryPublish bounds the wait before a publication the broker did not
	// acknowledge is tried again.
	retryPublish = 5 * time.Second
)

// RelayConfig configures a Relay. Store, Household, Publisher and Topics
// are required.
type RelayConfig struct {
	Store     *Store
	Household *household.Household
	Topics    topics.Tree
	Publisher Publisher
	// PageID is the Page's own id: its messages are never events.
	PageID string
	// Opener, when set, is told of every event from a person.
	Opener Opener
	// UnknownEvery: default DefaultUnknownEvery.
	UnknownEvery time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	Log zerolog.Logger
}

// Relay takes events from the Store to the broker: an event from a
// configured person on <base>/received/<name>, one from anyone else on
// <base>/bridge/unknown_sender (rate-limited). An event leaves the Store
// only once the broker acknowledged it, so each reaches the broker once
// and none is lost while the broker is away; the Store has already made
// sure no MID is taken in twice.
type Relay struct {
	cfg RelayConfig

	mu      sync.Mutex
	unknown map[string]time.Time // PSID → when last reported
}

// NewRelay returns a Relay; call Run.
func NewRelay(cfg RelayConfig) *Relay {
	cfg.UnknownEvery = cmp.Or(cfg.UnknownEvery, DefaultUnknownEvery)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Relay{cfg: cfg, unknown: make(map[string]time.Time)}
}

// Run relays until ctx ends. Events not yet acknowledged stay in the Store
// for the next start.
func (r *Relay) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.cfg.Store.Wake():
		}
		for !r.drain(ctx) {
			t := time.NewTimer(retryPublish)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}
}

// drain relays every pending event, oldest first; it reports false when
// one could not be published and should be tried again later.
func (r *Relay) drain(ctx context.Context) bool {
	pending, err := r.cfg.Store.Pending()
	if err != nil {
		r.cfg.Log.Error().Err(err).Msg("reading received messages")
	}
	for _, p := range pending {
		if ctx.Err() != nil {
			return true // shutting down: the rest waits in the Store
		}
		// A publication under way when shutdown begins may finish, for up
		// to relayDrain: its event is then forgotten rather than published
		// again after the restart.
		pubCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		stop := context.AfterFunc(ctx, func() { time.AfterFunc(relayDrain, cancel) })
		person, err := r.relay(pubCtx, p)
		stop()
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				r.cfg.Log.Warn().Err(err).Str("mid", p.MID).Msg("cannot publish a received message; it waits and is tried again")
			}
			return false
		}
		if person != "" {
			err = r.cfg.Store.Published(p.Seq, person, p.Timestamp)
		} else {
			err = r.cfg.Store.Done(p.Seq)
		}
		if err != nil {
			r.cfg.Log.Error().Err(err).Str("mid", p.MID).Msg("cannot forget a published message; it may be published again after a restart")
		}
	}
	return true
}

// relay publishes one event where it belongs; a nil error means the event
// is done with, published or deliberately dropped, and name is the person
// whose event was published, whose window it opened.
func (r *Relay) relay(ctx context.Context, p Pending) (name string, err error) {
	if p.PSID == r.cfg.PageID && p.PSID != "" {
		return "", nil // the Page's own message: never an event
	}
	person, found := r.cfg.Household.ByPSID(p.PSID)
	if !found {
		return "", r.unknownSender(ctx, p.Event)
	}
	payload, err := json.Marshal(r.received(person.Name, p.Event))
	if err != nil {
		return "", nil // plain strings and a time always marshal
	}
	if err := r.cfg.Publisher.PublishAcked(ctx, r.cfg.Topics.Received(person.Name), payload); err != nil {
		return "", err
	}
	r.cfg.Log.Info().Str("recipient", person.Name).Str("event_type", p.Type).Msg("received from the household")
	if r.cfg.Opener != nil {
		r.cfg.Opener.Received(person.Name, p.Timestamp)
	}
	return person.Name, nil
}

// Received is the JSON on <base>/received/<name> (SPEC §6).
type Received struct {
	EventType   string       `json:"event_type"`
	Text        string       `json:"text,omitempty"`
	Payload     string       `json:"payload,omitempty"`
	Action      string       `json:"action,omitempty"`
	InReplyTo   string       `json:"in_reply_to,omitempty"`
	Attachments []Attachment `json:"attachments,omitempty"`
	Reaction    string       `json:"reaction,omitempty"`
	Emoji       string       `json:"emoji,omitempty"`
	MID         string       `json:"mid"`
	Timestamp   time.Time    `json:"timestamp"`
}

// received builds what name's event says, mapping a tapped quick reply
// back to the payload and message it came with: polling sees only the
// title, a webhook only the payload.
func (r *Relay) received(name string, e Event) Received {
	out := Received{EventType: e.Type, Text: e.Text, Payload: e.Payload, Attachments: e.Attachments,
		MID: e.MID, Timestamp: e.Timestamp.UTC()}
	if e.Type == TypeReaction {
		out.MID, out.Reaction, out.Emoji = e.ReactedMID, e.Reaction, e.Emoji
		if e.Action == "unreact" {
			out.Reaction = "" // an unreact names no reaction
		}
	}
	if e.Type != TypeMessage && e.Type != TypeQuickReply || len(e.Attachments) > 0 {
		return out
	}
	offered, ok, err := r.cfg.Store.LastQuickReplies(name)
	if err != nil {
		r.cfg.Log.Warn().Err(err).Str("recipient", name).Msg("cannot read the quick replies last sent")
	}
	if !ok || e.Timestamp.Before(offered.SentAt) || e.Timestamp.Sub(offered.SentAt) > QuickReplyFor {
		return out
	}
	for _, q := range offered.Offers {
		tapped := e.Type == TypeQuickReply && q.Payload == e.Payload ||
			e.Type == TypeMessage && q.Title == strings.TrimSpace(e.Text)
		if tapped {
			out.EventType, out.Payload, out.Action, out.InReplyTo = TypeQuickReply, q.Payload, q.Payload, offered.ID
			return out
		}
	}
	if e.Type == TypeQuickReply {
		out.Action = e.Payload
	}
	return out
}

// unknownSenderPayload is the JSON on <base>/bridge/unknown_sender.
type unknownSenderPayload struct {
	PSID      string    `json:"psid"`
	Name      string    `json:"name,omitempty"`
	Text      string    `json:"text,omitempty"`
	Timestamp time.Time `json:"timestamp"`
	// RecipientsEntry is what to add to RECIPIENTS to hear them.
	RecipientsEntry string `json:"recipients_entry"`
}

// unknownSender reports a message from someone not in RECIPIENTS, at most
// once per UnknownEvery for each of them; the rest are dropped with a
// debug line.
func (r *Relay) unknownSender(ctx context.Context, e Event) error {
	now := r.cfg.Now()
	r.mu.Lock()
	last, seen := r.unknown[e.PSID]
	quiet := seen && now.Sub(last) < r.cfg.UnknownEvery
	r.mu.Unlock()
	if quiet {
		r.cfg.Log.Debug().Str("psid", e.PSID).Msg("message from an unknown sender, reported moments ago")
		return nil
	}
	entry := household.Slug(cmp.Or(e.Name, "person")) + ":" + e.PSID
	payload, _ := json.Marshal(unknownSenderPayload{PSID: e.PSID, Name: e.Name, Text: e.Text,
		Timestamp: e.Timestamp.UTC(), RecipientsEntry: entry})
	if err := r.cfg.Publisher.PublishAcked(ctx, r.cfg.Topics.UnknownSender(), payload); err != nil {
		return err
	}
	r.mu.Lock()
	if len(r.unknown) >= maxUnknown {
		for psid, at := range r.unknown {
			if now.Sub(at) >= r.cfg.UnknownEvery {
				delete(r.unknown, psid)
			}
		}
	}
	r.unknown[e.PSID] = now
	r.mu.Unlock()
	r.cfg.Log.Info().Str("psid", e.PSID).Str("name", e.Name).Str("add_to_recipients", entry).
		Msg("a message from someone not in RECIPIENTS; add them to hear them")
	return nil
}
