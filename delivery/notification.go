package delivery

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
