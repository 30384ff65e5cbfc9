package service_test

import (
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/messenger-bridge/messenger-bridge/config"
	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
	"github.com/messenger-bridge/messenger-bridge/logtest"
	"github.com/messenger-bridge/messenger-bridge/mqtttest"
	"github.com/messenger-bridge/messenger-bridge/service"
)

const verifyToken = "serviceVERIFYtoken42SECRET"

// freeAddr returns a host:port nobody listens on just now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// webhookEnv is the environment of RECEIVE=webhook on addr.
func webhookEnv(addr, dataDir string) map[string]string {
	return map[string]string{"RECEIVE": "webhook", "WEBHOOK_ADDR": addr, "FB_APP_SECRET": appSecret,
		"FB_VERIFY_TOKEN": verifyToken, "DATA_DIR": dataDir, "WINDOW_KEEPALIVE": "0"}
}

// startListening starts the service for cfg and waits until its webhook
// listens.
func startListening(t *testing.T, cfg *config.Config) *running {
	t.Helper()
	var logs logtest.Buffer
	r := start(t, cfg, &logs, service.WithConnectRetry(20*time.Millisecond))
	if _, ok := logs.Wait(mqtttest.Wait, func(l string) bool { return strings.Contains(l, "serving the Messenger webhook") }); !ok {
		t.Fatal("the webhook did not start")
	}
	return r
}

// windowUntil reads window_until of a <base>/person/<name> payload.
func windowUntil(t *testing.T, m mqtttest.Message) *time.Time {
	t.Helper()
	var p struct {
		WindowUntil *time.Time `json:"window_until"`
	}
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		t.Fatalf("person payload %s: %v", m.Payload, err)
	}
	return p.WindowUntil
}

// With RECEIVE=webhook nothing tells a restarted bridge when a person last
// wrote until they write again: the received store does, so the retained
// person topic shows the window from the start.
func TestWebhookWindowSurvivesARestart(t *testing.T) {
	g := graphtest.NewServer(t, pageToken)
	broker := mqtttest.Start(t)
	addr, dataDir := freeAddr(t), t.TempDir()
	cfg := load(t, broker, g, webhookEnv(addr, dataDir))
	watcher := broker.Connect(t)
	received := watcher.Subscribe("messenger/received/alice")
	first := startListening(t, cfg)
	at := time.Now().Add(time.Minute).Truncate(time.Second) // after receiving began: not history
	d := graphtest.NewWebhookDriver(t, "http://"+addr+"/webhook", appSecret)
	if status := d.Send(graphtest.Text(alicePSID, "m_1", "hi", at)); status != 200 {
		t.Fatalf("webhook answered %d", status)
	}
	mqtttest.Next(t, received)
	first.stop()

	// A broker of its own, holding nothing retained: what person/alice
	// says comes from the restarted bridge.
	broker = mqtttest.Start(t)
	person := broker.Connect(t).Subscribe("messenger/person/alice")
	startListening(t, load(t, broker, g, webhookEnv(addr, dataDir)))
	want := at.Add(24 * time.Hour)
	if until := windowUntil(t, mqtttest.Next(t, person)); until == nil || !until.Equal(want) {
		t.Errorf("after the restart window_until = %v, want %v: alice wrote an hour ago", until, want)
	}
}

// Each mid is published once across a switch between RECEIVE=poll and
// RECEIVE=webhook, with a restart at each switch: a message taken in by
// polling and then delivered by Meta's webhook is not published again, nor
// one delivered by webhook when polling later reads it, nor a reaction
// received by webhook that polling later sees standing.
func TestSwitchingPollAndWebhookPublishesEachMIDOnce(t *testing.T) {
	g := graphtest.NewServer(t, pageToken)
	broker := mqtttest.Start(t)
	addr, dataDir := freeAddr(t), t.TempDir()
	received := broker.Connect(t).Subscribe("messenger/received/alice")
	next := func() string {
		t.Helper()
		var r struct{ MID string }
		if err := json.Unmarshal(mqtttest.Next(t, received).Payload, &r); err != nil {
			t.Fatal(err)
		}
		return r.MID
	}
	at := time.Now().Add(time.Minute).Truncate(time.Second) // after receiving began: not history
	pollEnv := map[string]string{"RECEIVE": "poll", "POLL_INTERVAL": "1h", "DATA_DIR": dataDir, "WINDOW_KEEPALIVE": "0"}
	var logs logtest.Buffer

	g.AddIncoming(alicePSID, "Alice", graphtest.Incoming{MID: "m_1", Text: "one", At: at})
	polling := start(t, load(t, broker, g, pollEnv), &logs, service.WithConnectRetry(20*time.Millisecond))
	if mid := next(); mid != "m_1" {
		t.Fatalf("polling published %s, want m_1", mid)
	}
	polling.stop()

	// Webhooks: Meta delivers m_1 too, with m_2.
	hooked := startListening(t, load(t, broker, g, webhookEnv(addr, dataDir)))
	d := graphtest.NewWebhookDriver(t, "http://"+addr+"/webhook", appSecret)
	if status := d.Send(graphtest.Text(alicePSID, "m_1", "one", at), graphtest.Text(alicePSID, "m_2", "two", at.Add(time.Minute))); status != 200 {
		t.Fatalf("webhook answered %d", status)
	}
	if mid := next(); mid != "m_2" {
		t.Fatalf("after the switch to webhooks the first published was %s, want m_2: m_1 was polled before", mid)
	}
	// Alice loves m_1, which polling will see standing.
	if status := d.Send(graphtest.Reaction(alicePSID, "m_1", "love", "❤", "react", at.Add(90*time.Second))); status != 200 {
		t.Fatalf("webhook answered %d", status)
	}
	var love struct {
		Type string `json:"event_type"`
		MID  string `json:"mid"`
	}
	if m := mqtttest.Next(t, received); json.Unmarshal(m.Payload, &love) != nil || love.Type != "reaction" || love.MID != "m_1" {
		t.Fatalf("after the reaction by webhook %s was published, want alice's reaction to m_1", m.Payload)
	}
	hooked.stop()

	// Polling again: it reads m_1 with alice's love (which came by
	// webhook), m_2 (which did too) and m_3.
	g.AddIncoming(alicePSID, "Alice", graphtest.Incoming{MID: "m_2", Text: "two", At: at.Add(time.Minute)})
	g.AddIncoming(alicePSID, "Alice", graphtest.Incoming{MID: "m_3", Text: "three", At: at.Add(2 * time.Minute)})
	g.AddReaction(alicePSID, "m_1", "love", at.Add(90*time.Second))
	start(t, load(t, broker, g, pollEnv), &logs, service.WithConnectRetry(20*time.Millisecond))
	if mid := next(); mid != "m_3" {
		t.Fatalf("after the switch back to polling the first published was %s, want m_3: m_1, m_2 and the love were published before", mid)
	}
}
