package receive

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/messenger-bridge/messenger-bridge/clock"
	"github.com/messenger-bridge/messenger-bridge/graph"
)

// Polling's pace. The Conversations API allows 2 calls a second per Page,
// and every call counts against the Page's budget, shared with sending.
const (
	// DefaultFastInterval is the time between polls while an answer is
	// awaited, after a message with quick replies or actions went out.
	DefaultFastInterval = 3 * time.Second
	// DefaultFastFor is how long polling stays fast after such a message.
	DefaultFastFor = 2 * time.Minute
	// slowFrom is the usage, in percent, above which polls are spaced out
	// more and more: at 90 % five times the interval. Graph's rate-limiting
	// guide asks to slow down before the limit, since calls made while
	// blocked extend the block.
	slowFrom = 50
	// pauseFrom is the usage at which polling pauses until the budget is
	// back (estimated_time_to_regain_access, or pauseDefault: Graph counts
	// usage over a rolling hour, and a call that is refused extends the
	// block).
	pauseFrom    = 95
	pauseDefault = 15 * time.Minute
	// conversationsEvery is the least time between the starts of two
	// calls to the Conversations API, one per page of conversations: it
	// allows 2 a second per Page, and a tenth more keeps a call held up on
	// its way from arriving within a second of the one two before.
	conversationsEvery = 550 * time.Millisecond
)

// Threads reads the page's conversations: *graph.Client.
type Threads interface {
	Threads(ctx context.Context, turn func(context.Context) error) ([]graph.Thread, graph.Usage, error)
}

// Pacer hands out turns to call Graph, shared by every caller so that
// sends and polls together keep to one budget: *pacer.Pacer.
type Pacer interface {
	Wait(ctx context.Context) error
}

// Clock is the Poller's time.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// PollConfig configures a Poller. Graph, Store, and PageID or FindPageID
// are required.
type PollConfig struct {
	Graph  Threads
	Store  *Store
	PageID string
	// FindPageID, when PageID is empty (Graph was away at start), is asked
	// for the Page's id before a poll until it answers (graph.Client.Page):
	// without it the Page's own messages cannot be told from a person's.
	FindPageID func(ctx context.Context) (string, error)
	// Interval is POLL_INTERVAL; FastInterval and FastFor as their
	// defaults say.
	Interval, FastInterval, FastFor time.Duration
	// LastWrote, when set, is told at the first poll when each person last
	// wrote, so that their window is known from the start.
	LastWrote func(psid string, at time.Time)
	// Since is when the bridge began to receive (Store.Since). Messages
	// and reactions from before it are history: they tell LastWrote when a
	// person wrote, but are not taken in, so that the first poll after the
	// bridge is set up does not replay old answers (an "Open" tapped last
	// week) into Home Assistant's automations. The zero time takes in all.
	Since time.Time
	// Pacer, when set, is waited on before each call, each page of
	// conversations included.
	Pacer Pacer
	Clock Clock // default the system clock
	Log   zerolog.Logger
}

// Poller reads the page's conversations (RECEIVE=poll) and takes every new
// message and reaction from a person into the Store: oldest first, each
// MID once, including those that came while the bridge was down, as far
// back as Graph details messages (a conversation's 20 newest) and no
// further than when the bridge began to receive (PollConfig.Since).
type Poller struct {
	cfg  PollConfig
	wake chan struct{}

	lastConversations time.Time // when the last Conversations API call began; Run's goroutine only

	mu         sync.Mutex
	hurryUntil time.Time
}

// NewPoller returns a Poller; call Run.
func NewPoller(cfg PollConfig) *Poller {
	cfg.Interval = cmp.Or(cfg.Interval, 15*time.Second)
	cfg.FastInterval = min(cmp.Or(cfg.FastInterval, DefaultFastInterval), cfg.Interval)
	cfg.FastFor = cmp.Or(cfg.FastFor, DefaultFastFor)
	if cfg.Clock == nil {
		cfg.Clock = clock.System{}
	}
	return &Poller{cfg: cfg, wake: make(chan struct{}, 1)}
}

// Hurry makes polls come FastInterval apart for FastFor from now, and the
// next one at once: an answer is awaited. It does not block.
func (p *Poller) Hurry() {
	p.mu.Lock()
	p.hurryUntil = p.cfg.Clock.Now().Add(p.cfg.FastFor)
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Run polls until ctx ends.
func (p *Poller) Run(ctx context.Context) {
	first := true
	for {
		usage, err := p.poll(ctx, first)
		if err == nil {
			first = false
		}
		wait := p.next(usage, err)
		select {
		case <-ctx.Done():
			return
		case <-p.cfg.Clock.After(wait):
		case <-p.wake:
			if usage.Percent >= pauseFrom || budget(err) {
				// A hurry never shortens a pause: calls made while
				// blocked extend the block.
				select {
				case <-ctx.Done():
					return
				case <-p.cfg.Clock.After(wait):
				}
			}
		}
	}
}

// budget reports whether err says the Page's budget is spent.
func budget(err error) bool {
	ge, ok := errors.AsType[*graph.Error](err)
	return ok && ge.Retryable() && (ge.Status == 429 || ge.Code == graph.CodeRateLimit || ge.Code == graph.CodeTooManyCalls ||
		ge.Code == graph.CodePageTooManyCalls || ge.Code == graph.CodeUserTooManyCalls || ge.Code >= graph.CodeBUCFirst && ge.Code <= graph.CodeBUCLast)
}

// next is the wait before the next poll, after one that reported usage.
func (p *Poller) next(usage graph.Usage, err error) time.Duration {
	p.mu.Lock()
	hurry := p.cfg.Clock.Now().Before(p.hurryUntil)
	p.mu.Unlock()
	wait := p.cfg.Interval
	if hurry {
		wait = p.cfg.FastInterval
	}
	switch {
	case usage.Percent >= pauseFrom || budget(err):
		pause := cmp.Or(usage.RegainIn, pauseDefault)
		p.cfg.Log.Warn().Int("usage_percent", usage.Percent).Dur("pause", pause).Msg("the Page's Graph budget is nearly spent; polling pauses")
		return max(pause, wait)
	case usage.Percent > slowFrom:
		wait += wait * time.Duration(usage.Percent-slowFrom) / 10
	}
	return wait
}

// poll reads the conversations once and stores what is new; at the first
// poll it also reports when each person last wrote.
func (p *Poller) poll(ctx context.Context, first bool) (graph.Usage, error) {
	if p.cfg.PageID == "" && p.cfg.FindPageID != nil {
		if err := p.turn(ctx); err != nil {
			return graph.Usage{}, err
		}
		id, err := p.cfg.FindPageID(ctx)
		if err != nil || id == "" {
			if ctx.Err() == nil {
				p.cfg.Log.Warn().Err(err).Msg("cannot read the page's id, without which its own messages look like a person's; polling waits for it")
			}
			return graph.Usage{}, cmp.Or(err, errors.New("receive: Graph gave no page id"))
		}
		p.cfg.PageID = id // read by Run's goroutine only
	}
	threads, usage, err := p.cfg.Graph.Threads(ctx, p.conversationsTurn)
	if err != nil {
		if ctx.Err() == nil {
			p.cfg.Log.Warn().Err(err).Msg("cannot read the page's conversations; trying again later")
		}
		return usage, err
	}
	// Reactions carry no time: those standing when polling first sees
	// reactions, at the first poll after setup or after an upgrade from a
	// bridge that did not poll them, are history, remembered unpublished.
	mark, err := p.cfg.Store.Cursor(reactionsKey)
	if err != nil {
		return usage, err
	}
	var events []Event
	var history []string // MIDs of reactions
	var cursors [][2]string
	for _, t := range threads {
		key := "poll/" + t.ID
		stamp := t.Updated.UTC().Format(time.RFC3339)
		last, err := p.cfg.Store.Cursor(key)
		if err != nil {
			return usage, err
		}
		if first {
			p.lastWrote(t)
		}
		if mark == "" {
			for _, m := range t.Messages {
				for _, e := range p.reactions(m) {
					history = append(history, e.MID)
				}
			}
		}
		if last == stamp {
			continue // unchanged since the last poll
		}
		for _, m := range t.Messages {
			if mark != "" {
				events = append(events, p.reactions(m)...)
			}
			if m.FromID == "" || m.FromID == p.cfg.PageID || p.history(m.Created) {
				continue
			}
			e := Event{MID: m.ID, PSID: m.FromID, Name: m.FromName, Type: TypeMessage, Text: m.Text, Timestamp: m.Created.UTC()}
			for _, u := range m.Images {
				e.Attachments = append(e.Attachments, Attachment{Type: "image", URL: u})
			}
			for _, u := range m.Files {
				e.Attachments = append(e.Attachments, Attachment{Type: "file", URL: u})
			}
			events = append(events, e)
		}
		cursors = append(cursors, [2]string{key, stamp})
	}
	if mark == "" {
		if err := p.cfg.Store.Remember(reactionsKey, "polled", history...); err != nil {
			return usage, err
		}
	}
	slices.SortStableFunc(events, func(a, b Event) int { return a.Timestamp.Compare(b.Timestamp) })
	if len(events) > 0 {
		n, err := p.cfg.Store.Add(events...)
		if err != nil {
			return usage, err
		}
		if n > 0 {
			p.cfg.Log.Debug().Int("new", n).Msg("polled new messages")
		}
	}
	// Cursors move only once the messages are stored: a crash in between
	// reads them again, and the Store takes each in once.
	for _, c := range cursors {
		if err := p.cfg.Store.SetCursor(c[0], c[1]); err != nil {
			return usage, err
		}
	}
	return usage, nil
}

// reactionsKey is the Store cursor set once polling has taken in the
// reactions standing when it first saw them, as history.
const reactionsKey = "poll/reactions"

// ForgetPolledReactions makes the next poll take the reactions standing
// then as history, as the first one does. The bridge calls it when it
// receives by webhook: a reaction taken in then has a webhook's MID, which
// polling does not know, and polling would publish it again.
func ForgetPolledReactions(s *Store) error { return s.SetCursor(reactionsKey, "") }

// reactions are the events of the people's reactions to m, the Page's
// message or theirs. Polling sees a reaction only while it stands: not when
// it was given, nor when it is taken back. So each (message, person,
// reaction) is one event, whose MID the Store remembers like a message's,
// stamped with m's time: the reaction came later, so a window opened from
// it closes no later than the real one.
func (p *Poller) reactions(m graph.ThreadMessage) []Event {
	var events []Event
	for _, r := range m.Reactions {
		if r.By == p.cfg.PageID {
			continue
		}
		events = append(events, Event{MID: "reaction:" + m.ID + ":" + r.By + ":" + r.Reaction, PSID: r.By,
			Type: TypeReaction, Reaction: r.Reaction, Emoji: r.Emoji, Action: "react", ReactedMID: m.ID,
			Timestamp: m.Created.UTC()})
	}
	return events
}

// historySlack is how far before Since a message may be stamped and still
// be taken in: Graph's clock and the host's may differ, and a message
// written just after setup must not be lost to a host clock running fast.
const historySlack = 2 * time.Minute

// history reports whether a message Graph stamps at came before the bridge
// began to receive.
func (p *Poller) history(at time.Time) bool {
	return !p.cfg.Since.IsZero() && at.Before(p.cfg.Since.Add(-historySlack))
}

// turn waits for the Pacer, when there is one, before a Graph call.
func (p *Poller) turn(ctx context.Context) error {
	if p.cfg.Pacer == nil {
		return nil
	}
	return p.cfg.Pacer.Wait(ctx)
}

// conversationsTurn waits before a call to the Conversations API until
// conversationsEvery has passed since the last one began, then for the
// Pacer: the API's own limit of 2 calls a second is far below SEND_RATE.
func (p *Poller) conversationsTurn(ctx context.Context) error {
	if wait := p.lastConversations.Add(conversationsEvery).Sub(p.cfg.Clock.Now()); wait > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.cfg.Clock.After(wait):
		}
	}
	if err := p.turn(ctx); err != nil {
		return err
	}
	p.lastConversations = p.cfg.Clock.Now()
	return nil
}

// lastWrote reports the newest message of t's person.
func (p *Poller) lastWrote(t graph.Thread) {
	if p.cfg.LastWrote == nil {
		return
	}
	for i := len(t.Messages) - 1; i >= 0; i-- {
		if m := t.Messages[i]; m.FromID != "" && m.FromID != p.cfg.PageID {
			p.cfg.LastWrote(m.FromID, m.Created)
			return
		}
	}
}
