package delivery

// What a payload asks for, in the Send API's terms.

import (
	"github.com/messenger-bridge/messenger-bridge/graph"
	"github.com/messenger-bridge/messenger-bridge/message"
)

// notifications maps a payload's "notification" to the Send API's
// notification_type (SPEC §3: regular, silent, none).
var notifications = map[message.Notification]graph.Notification{
	message.NotifyRegular: graph.NotifyRegular,
	message.NotifySilent:  graph.NotifySilent,
	message.NotifyNone:    graph.NotifyNone,
}

// notification returns the notification_type for n; "" (Messenger's
// default, a regular push) for message.NotifyDefault.
func notification(n message.Notification) graph.Notification { return notifications[n] }

// quickReplies returns a message's quick replies as the Send API takes them.
func quickReplies(qs []message.QuickReply) []graph.QuickReply {
	if len(qs) == 0 {
		return nil
	}
	out := make([]graph.QuickReply, len(qs))
	for i, q := range qs {
		out[i] = graph.QuickReply{Title: q.Title, Payload: q.Payload}
	}
	return out
}
