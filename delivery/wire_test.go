package delivery

import (
	"testing"

	"github.com/messenger-bridge/messenger-bridge/graph"
	"github.com/messenger-bridge/messenger-bridge/message"
)

func TestNotification(t *testing.T) {
	for n, want := range map[message.Notification]graph.Notification{
		message.NotifyDefault: "",
		message.NotifyRegular: "REGULAR",
		message.NotifySilent:  "SILENT_PUSH",
		message.NotifyNone:    "NO_PUSH",
		"loud":                "",
	} {
		if got := notification(n); got != want {
			t.Errorf("notification(%q) = %q, want %q", n, got, want)
		}
	}
}
