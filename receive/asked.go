package receive

import (
	"time"

	"github.com/rs/zerolog"

	"github.com/messenger-bridge/messenger-bridge/message"
)

// Asks remembers what each person was last offered to tap, so that the
// Relay maps a tapped title back to its payload and message, and hurries
// the poller so the answer comes back soon. It implements delivery.Asker.
type Asks struct {
	Store *Store
	// Hurry, when set, is called after each offer (Poller.Hurry).
	Hurry func()
	Log   zerolog.Logger
}

// Asked records offers made to name at at by the message id.
func (a Asks) Asked(name, id string, at time.Time, offers []message.QuickReply) {
	q := QuickReplies{ID: id, SentAt: at.UTC(), Offers: make([]QuickReply, len(offers))}
	for i, o := range offers {
		q.Offers[i] = QuickReply{Title: o.Title, Payload: o.Payload, Action: o.Action}
	}
	if err := a.Store.SetQuickReplies(name, q); err != nil {
		a.Log.Warn().Err(err).Str("recipient", name).Msg("cannot record the quick replies sent; a tap will come back as a plain message")
	}
	if a.Hurry != nil {
		a.Hurry()
	}
}
