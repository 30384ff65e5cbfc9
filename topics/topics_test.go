package topics

import (
	"testing"
	"time"
)

func TestTree(t *testing.T) {
	tree := Tree{Base: "home/messenger", DiscoveryPrefix: "ha"}
	cet := time.FixedZone("CET", 3600)
	for _, tt := range []struct{ got, want string }{
		{tree.Notify("alice"), "home/messenger/notify/alice"},
		{tree.NotifyAny(), "home/messenger/notify"},
		{tree.Result("alice"), "home/messenger/result/alice"},
		{tree.Result(""), "home/messenger/result"},
		{tree.State(), "home/messenger/bridge/state"},
		{tree.Info(), "home/messenger/bridge/info"},
		{tree.TokenProblem(), "home/messenger/bridge/token/problem"},
		{tree.Token(), "home/messenger/bridge/token"},
		{tree.TokenExpires(), "home/messenger/bridge/token/expires"},
		{tree.Restricted(), "home/messenger/bridge/restricted"},
		{tree.Person("bob"), "home/messenger/person/bob"},
		{tree.Received("bob"), "home/messenger/received/bob"},
		{tree.UnknownSender(), "home/messenger/bridge/unknown_sender"},
		{tree.HomeAssistantStatus(), "ha/status"},
		{Flag(true), "ON"},
		{Flag(false), "OFF"},
		{Time(time.Time{}), "None"},
		{Time(time.Date(2026, 3, 1, 12, 30, 0, 0, cet)), "2026-03-01T11:30:00Z"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestRecipient(t *testing.T) {
	tree := Tree{Base: "messenger"}
	for topic, want := range map[string]struct {
		name string
		ok   bool
	}{
		"messenger/notify":       {"", true},
		"messenger/notify/alice": {"alice", true},
		"messenger/result/alice": {"", false},
		"other/notify/alice":     {"", false},
	} {
		if name, ok := tree.Recipient(topic); name != want.name || ok != want.ok {
			t.Errorf("Recipient(%q) = %q, %v; want %q, %v", topic, name, ok, want.name, want.ok)
		}
	}
}
