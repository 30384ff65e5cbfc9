package bridge_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/messenger-bridge/messenger-bridge/delivery"
	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
	"github.com/messenger-bridge/messenger-bridge/mqtttest"
)

func TestPlainTextIsSentAndReported(t *testing.T) {
	h := newHarness(t, nil)
	h.client.Publish("messenger/notify/alice", "Someone is at the front door")

	req := h.request()
	if req.PSID != alicePSID || req.Text != "Someone is at the front door" {
		t.Fatalf("Graph got %s %q, want alice's PSID and the payload as text", req.PSID, req.Text)
	}
	// The default configuration: UPDATE, no tag (Meta refuses the old tags since 2026-04-27).
	if req.MessagingType != "UPDATE" || req.Tag != "" {
		t.Errorf("messaging_type/tag = %s/%s, want UPDATE and no tag", req.MessagingType, req.Tag)
	}
	r := h.result("alice")
	if r.Status != delivery.Sent || len(r.MessageIDs) != 1 || r.Attempts != 1 {
		t.Fatalf("result = %+v, want sent with one message id after one attempt", r)
	}
}

func TestStructuredMessage(t *testing.T) {
	h := newHarness(t, nil)
	h.client.Publish("messenger/notify/bob",
		`{"title":"Doorbell","message":"Someone is at the door","id":"door-1","notification":"silent","quick_replies":["Open","Ignore"]}`)

	req := h.request()
	if req.Text != "*Doorbell*\nSomeone is at the door" {
		t.Errorf("text = %q, want the title in bold on the first line", req.Text)
	}
	if req.Notification != "SILENT_PUSH" {
		t.Errorf("notification_type = %q, want SILENT_PUSH", req.Notification)
	}
	if strings.Join(req.QuickReplies, ",") != "Open,Ignore" {
		t.Errorf("quick replies = %v", req.QuickReplies)
	}
	if r := h.result("bob"); r.ID != "door-1" || r.Status != delivery.Sent {
		t.Fatalf("result = %+v, want sent with id door-1", r)
	}
}

func TestGroupsAndTargetsFanOutOncePerPerson(t *testing.T) {
	h := newHarness(t, nil)
	h.client.Publish("messenger/notify", `{"message":"Dinner is ready","target":["alice","family"]}`)

	got := map[string]int{}
	for range 2 {
		got[h.request().PSID]++
	}
	if got[alicePSID] != 1 || got[bobPSID] != 1 {
		t.Fatalf("Graph calls per PSID = %v, want one each for alice and bob", got)
	}
	for _, name := range []string{"alice", "bob"} {
		if r := h.result(name); r.Status != delivery.Sent {
			t.Errorf("%s: result %+v, want sent", name, r)
		}
	}
}

func TestHomeAssistantFacebookDataAttachment(t *testing.T) {
	h := newHarness(t, nil)
	h.client.Publish("messenger/notify/alice",
		`{"message":"Snapshot","data":{"attachment":{"type":"image","payload":{"url":"https://example.com/snap.jpg"}}}}`)

	if req := h.request(); req.Text != "Snapshot" {
		t.Fatalf("first call text = %q, want the text first", req.Text)
	}
	req := h.request()
	if req.Attachment == nil || req.Attachment.URL != "https://example.com/snap.jpg" || req.Attachment.Type != "image" {
		t.Fatalf("second call attachment = %+v, want the public image URL", req.Attachment)
	}
	if r := h.result("alice"); r.Status != delivery.Sent || len(r.MessageIDs) != 2 {
		t.Fatalf("result = %+v, want sent with two message ids", r)
	}
}

func TestLongTextIsSplitInOrder(t *testing.T) {
	h := newHarness(t, nil)
	para := strings.Repeat("word ", 300) // 1,500 characters
	h.client.Publish("messenger/notify/alice", para+"\n\n"+para+"\n\n"+para)

	for i := range 3 {
		if req := h.request(); strings.TrimSpace(req.Text) != strings.TrimSpace(para) {
			t.Fatalf("part %d has %d characters, want one paragraph of %d", i, len(req.Text), len(strings.TrimSpace(para)))
		}
	}
	if r := h.result("alice"); len(r.MessageIDs) != 3 {
		t.Fatalf("result has %d message ids, want 3", len(r.MessageIDs))
	}
}

func TestOrderPerRecipientIsKept(t *testing.T) {
	h := newHarness(t, nil)
	const n = 50
	for i := range n {
		h.client.Publish("messenger/notify/alice", fmt.Sprintf("message %d", i))
	}
	for i := range n {
		if req := h.request(); req.Text != fmt.Sprintf("message %d", i) {
			t.Fatalf("call %d carried %q, want message %d", i, req.Text, i)
		}
	}
}

func TestBadInputGetsAFailedResult(t *testing.T) {
	h := newHarness(t, nil)
	cases := []struct {
		topic, payload, resultFor, want string
	}{
		{"messenger/notify/alice", "", "alice", "empty"},
		{"messenger/notify/alice", `{"message": 5}`, "alice", `"message"`},
		{"messenger/notify/alice", "\xff\xfe bad", "alice", "UTF-8"},
		{"messenger/notify/alice", strings.Repeat("x", 300<<10), "alice", "KiB"},
		{"messenger/notify/zed", "hello", "zed", `unknown recipient "zed"`},
		{"messenger/notify", `{"message":"who?"}`, "", "no recipient"},
		{"messenger/notify/alice", `{"message":"hi","target":"bob"}`, "alice", `"target"`},
		{"messenger/notify/Alice", "hello", "", "lower-case"},
		{"messenger/notify", `{"target":"bob","id":"x","message":5}`, "bob", `"message"`},
	}
	for _, c := range cases {
		h.client.Publish(c.topic, c.payload)
		r := h.result(c.resultFor)
		if r.Status != delivery.Failed || r.Error == nil || !strings.Contains(r.Error.Message, c.want) {
			t.Errorf("%s %.40q: result %+v, want failed mentioning %s", c.topic, c.payload, r, c.want)
		}
	}
	if n := h.graph.Calls(); n != 0 {
		t.Fatalf("bad input made %d Graph calls, want none", n)
	}
	// The bridge is still serving.
	h.client.Publish("messenger/notify/alice", "still here")
	if r := h.result("alice"); r.Status != delivery.Sent {
		t.Fatalf("after bad input: result %+v, want sent", r)
	}
}

func TestRetainedCommandIsNotSentAgainOnRestart(t *testing.T) {
	h := newHarness(t, nil)
	// A round trip first: a broker may still be sending retained messages for
	// the bridge's new subscription just after acknowledging it.
	h.client.Publish("messenger/notify/bob", "warm-up")
	h.result("bob")
	// A live subscriber gets a retained publication as an ordinary message:
	// that first one is what the publisher meant to send.
	h.client.PublishRetained("messenger/notify/alice", "stale")
	if r := h.result("alice"); r.Status != delivery.Sent {
		t.Fatalf("first delivery: %+v, want sent", r)
	}
	h.stop()
	h.start()
	if r := h.result("alice"); r.Status != delivery.Failed || !strings.Contains(r.Error.Message, "retain") {
		t.Fatalf("after restart: %+v, want failed explaining retained commands", r)
	}
	if n := len(h.graph.Requests()); n != 2 {
		t.Fatalf("Graph saw %d sends, want the warm-up and the first send only", n)
	}
}

func TestGraphErrorClasses(t *testing.T) {
	h := newHarness(t, nil)

	t.Run("transient errors are retried", func(t *testing.T) {
		h.graph.FailNext(2, graphtest.Unavailable)
		h.client.Publish("messenger/notify/alice", "retry me")
		if r := h.result("alice"); r.Status != delivery.Sent || r.Attempts != 3 {
			t.Fatalf("result = %+v, want sent after 3 attempts", r)
		}
	})
	t.Run("throttling is retried", func(t *testing.T) {
		h.graph.FailNext(1, graphtest.Throttled)
		h.client.Publish("messenger/notify/alice", "slow down")
		if r := h.result("alice"); r.Status != delivery.Sent || r.Attempts != 2 {
			t.Fatalf("result = %+v, want sent after 2 attempts", r)
		}
	})
	t.Run("outside the 24-hour window fails at once with a hint", func(t *testing.T) {
		h.graph.FailNext(1, graphtest.OutsideWindow)
		h.client.Publish("messenger/notify/bob", "too late")
		r := h.result("bob")
		if r.Status != delivery.Failed || r.Attempts != 1 || r.Error.Code != 10 || r.Error.Subcode != 2018278 || r.Error.Retryable {
			t.Fatalf("result = %+v (error %+v), want failed once with 10/2018278", r, r.Error)
		}
		if !strings.HasPrefix(r.Error.Hint, "Bob") || !strings.Contains(r.Error.Hint, "24 hours") {
			t.Errorf("hint = %q, want one naming Bob and the 24-hour window", r.Error.Hint)
		}
	})
	t.Run("no such user fails at once", func(t *testing.T) {
		h.graph.FailNext(1, graphtest.NoSuchUser)
		h.client.Publish("messenger/notify/alice", "who?")
		if r := h.result("alice"); r.Status != delivery.Failed || r.Error.Code != 100 || r.Error.Subcode != 2018001 {
			t.Fatalf("result = %+v, want failed with 100/2018001", r)
		}
	})
}

func TestBrokerRestartResubscribes(t *testing.T) {
	h := newHarness(t, nil)
	h.client.Publish("messenger/notify/alice", "before")
	if r := h.result("alice"); r.Status != delivery.Sent {
		t.Fatalf("before restart: %+v", r)
	}
	states := h.client.Subscribe("messenger/bridge/state")
	mqtttest.Until(t, states, func(m mqtttest.Message) bool { return string(m.Payload) == "online" })
	// Clear the retained state, so that "online" below can only come from
	// the bridge announcing itself after it reconnected and subscribed.
	h.client.PublishRetained("messenger/bridge/state", "")
	h.broker.Restart()
	// The bridge announces itself again once it has reconnected and subscribed.
	mqtttest.Until(t, states, func(m mqtttest.Message) bool { return string(m.Payload) == "online" })
	h.client.Publish("messenger/notify/alice", "after")
	if r := h.result("alice"); r.Status != delivery.Sent {
		t.Fatalf("after restart: %+v", r)
	}
}

func TestShutdownPublishesOffline(t *testing.T) {
	h := newHarness(t, nil)
	states := h.client.Subscribe("messenger/bridge/state")
	mqtttest.Until(t, states, func(m mqtttest.Message) bool { return string(m.Payload) == "online" })
	h.stop()
	mqtttest.Until(t, states, func(m mqtttest.Message) bool { return string(m.Payload) == "offline" })

	// Retained, so a late subscriber sees it too.
	late := h.broker.Connect(t).Subscribe("messenger/bridge/state")
	if m := mqtttest.Next(t, late); !m.Retained || string(m.Payload) != "offline" {
		t.Fatalf("retained state = %q (retained %v), want offline", m.Payload, m.Retained)
	}
}

func TestSecretsNeverLeak(t *testing.T) {
	h := newHarness(t, nil)
	h.graph.FailNext(1, graphtest.TokenExpired)
	h.client.Publish("messenger/notify/alice", "with a dead token")
	r := h.result("alice")
	if r.Status != delivery.Failed || r.Error.Code != 190 {
		t.Fatalf("result = %+v, want failed with 190", r)
	}
	h.client.Publish("messenger/notify/alice", pageToken) // even when someone sends the token itself
	h.result("alice")
	h.stop()
	logs := h.logs.String()
	if strings.Count(logs, pageToken) > 0 {
		t.Fatalf("the page token appears in the logs:\n%s", logs)
	}
}
