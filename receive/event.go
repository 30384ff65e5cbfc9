// Package receive is the second direction of the bridge: what the household
// sends to the Page (messages, quick-reply taps, postbacks, reactions)
// reaches the broker on <base>/received/<name> (SPEC.md section 6), each
// message once, across restarts and across a switch between polling and
// webhooks.
//
// Events come in through a Poller (the Conversations API) or a Webhook
// (Meta calls the bridge), both of which put them in the Store, durably,
// before they count as received. A Relay takes them from the Store to the
// broker, and forgets each only once the broker has acknowledged it.
package receive

import (
	"time"
)

// Event types (SPEC §6), also the Home Assistant event entity's
// event_types.
const (
	TypeMessage    = "message"
	TypeQuickReply = "quick_reply"
	TypePostback   = "postback"
	TypeReaction   = "reaction"
)

// EventTypes lists every event type, in the order Home Assistant shows them.
var EventTypes = []string{TypeMessage, TypeQuickReply, TypePostback, TypeReaction}

// Event is one thing a person sent to the Page, as Graph gave it.
type Event struct {
	// MID is Messenger's id of the message, postback or reaction; it makes
	// the event unique. A reaction has no id of its own: by webhook its
	// MID is the reacted-to message's id with the reaction's action, emoji
	// and time; by polling, which sees neither action nor time,
	// "reaction:" and the message's id, the person's PSID and the
	// reaction's name.
	MID string `json:"mid"`
	// PSID is the sender's page-scoped id.
	PSID string `json:"psid"`
	// Name is the sender's name as Graph gives it, when it does.
	Name string `json:"name,omitempty"`
	// Type is TypeMessage, TypeQuickReply, TypePostback or TypeReaction.
	Type string `json:"type"`
	// Text is the message's text, a tapped quick reply's title or a
	// postback's title.
	Text string `json:"text,omitempty"`
	// Payload is a quick reply's or postback's payload, when Graph gave it
	// (webhooks do; polling sees only the title).
	Payload string `json:"payload,omitempty"`
	// Attachments are the message's attachments.
	Attachments []Attachment `json:"attachments,omitempty"`
	// Reaction, Emoji and ReactedMID describe a reaction; Action is
	// "react" or "unreact".
	Reaction   string `json:"reaction,omitempty"`
	Emoji      string `json:"emoji,omitempty"`
	Action     string `json:"action,omitempty"`
	ReactedMID string `json:"reacted_mid,omitempty"`
	// Timestamp is when the person sent it.
	Timestamp time.Time `json:"timestamp"`
}

// Attachment is a file, picture or sticker in a message.
type Attachment struct {
	Type string `json:"type"` // "image", "video", "audio", "file", "sticker", …
	URL  string `json:"url,omitempty"`
}
