package service_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/messenger-bridge/messenger-bridge/config"
	"github.com/messenger-bridge/messenger-bridge/delivery"
	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
	"github.com/messenger-bridge/messenger-bridge/logtest"
	"github.com/messenger-bridge/messenger-bridge/mqtttest"
	"github.com/messenger-bridge/messenger-bridge/service"
)

// Secrets of the service under test: long and unusual, so that a leak is
// found by a plain substring search.
const (
	pageToken = "EAAGservicePAGEtoken0123456789SECRET"
	appSecret = "serviceAPPsecret9876543210SECRET"
	alicePSID = "26428272146817880"
)

// load sets the environment of a service on broker and g, overlaid with
// env, and loads it as main does.
func load(t *testing.T, broker *mqtttest.Broker, g *graphtest.Server, env map[string]string) *config.Config {
	t.Helper()
	base := map[string]string{
		"FB_PAGE_TOKEN": pageToken, "FB_GRAPH_URL": g.URL, "RECIPIENTS": "alice:" + alicePSID,
		"MQTT_URL": broker.URL, "MQTT_CLIENT_ID": "service-under-test", "DATA_DIR": t.TempDir(),
		"SEND_RATE": "0", "HTTP_ADDR": "", "LOG_FORMAT": "json", "LOG_LEVEL": "debug",
	}
	for k, v := range env {
		base[k] = v
	}
	for k, v := range base {
		t.Setenv(k, v)
	}
	cfg, err := config.Load()
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// running is a service running until the test ends.
type running struct {
	*service.Service
	stopped chan struct{} // closed when Run returned
	err     error         // Run's, once stopped is closed
	stop    func()        // ends Run and waits for it, at most once
}

// start builds the service for cfg and runs it until the test ends.
func start(t *testing.T, cfg *config.Config, logs *logtest.Buffer, opts ...service.Option) *running {
	t.Helper()
	s, err := service.New(t.Context(), cfg, zerolog.New(logs), opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	r := &running{Service: s, stopped: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		r.err = s.Run(ctx)
		close(r.stopped)
	}()
	r.stop = sync.OnceFunc(func() {
		cancel()
		select {
		case <-r.stopped:
		case <-time.After(mqtttest.Wait):
			t.Error("the service did not stop when its context ended")
		}
		if t.Failed() {
			t.Logf("service log:\n%s", logs.String())
		}
	})
	t.Cleanup(r.stop)
	return r
}

// With FB_APP_SECRET set and Graph requiring it, as an app with "Require
// App Secret" does, every Graph call of the service carries the proof: the
// page read at start, the poll, the token check and the send. A part wired
// without the secret fails here.
func TestEveryGraphCallCarriesTheAppSecret(t *testing.T) {
	g := graphtest.NewServer(t, pageToken)
	g.RequireAppSecret(appSecret)
	g.SetPage("1122334455", "Our Home")
	g.AddIncoming(alicePSID, "Alice", graphtest.Incoming{MID: "m_hello", Text: "hello bridge", At: time.Now().Add(time.Minute)}) // after receiving began
	broker := mqtttest.Start(t)
	cfg := load(t, broker, g, map[string]string{"FB_APP_SECRET": appSecret, "RECEIVE": "poll"})
	client := broker.Connect(t)
	info := client.Subscribe("messenger/bridge/info")
	received := client.Subscribe("messenger/received/alice")
	results := client.Subscribe("messenger/result/alice")
	var logs logtest.Buffer
	start(t, cfg, &logs, service.WithVersion("1.2.3"), service.WithConnectRetry(20*time.Millisecond))

	// The page read at start and the token check: bridge/info names the
	// page and the token is valid.
	var published struct {
		Version string `json:"version"`
		Page    struct{ Name string }
		Token   struct{ State string }
	}
	mqtttest.Until(t, info, func(m mqtttest.Message) bool {
		return json.Unmarshal(m.Payload, &published) == nil && published.Page.Name == "Our Home" && published.Token.State == "valid"
	})
	if published.Version != "1.2.3" {
		t.Errorf("bridge/info version %q, want WithVersion's 1.2.3", published.Version)
	}
	if _, ok := logs.Wait(mqtttest.Wait, func(l string) bool { return strings.Contains(l, "page token checked") }); !ok {
		t.Error("the token watch did not check the token")
	}
	// The poll: alice's message reached the broker.
	if m := mqtttest.Next(t, received); !strings.Contains(string(m.Payload), "m_hello") {
		t.Errorf("received/alice: %s, want the polled message m_hello", m.Payload)
	}
	// The send.
	client.Publish("messenger/notify/alice", "hi")
	var r delivery.Result
	if err := json.Unmarshal(mqtttest.Next(t, results).Payload, &r); err != nil || r.Status != delivery.Sent {
		t.Fatalf("result %+v (%v), want sent", r, err)
	}
	mac := hmac.New(sha256.New, []byte(appSecret))
	mac.Write([]byte(pageToken))
	reqs := g.Requests()
	if len(reqs) != 1 || reqs[0].AppSecretProof != hex.EncodeToString(mac.Sum(nil)) {
		t.Errorf("Send calls %+v, want one with the appsecret_proof of the page token", reqs)
	}
	for _, secret := range []string{pageToken, appSecret} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log holds a secret:\n%s", logs.String())
		}
	}
}

// A health server that cannot listen stops the service at once, with an
// error naming HTTP_ADDR.
func TestHealthServerCannotListen(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	g := graphtest.NewServer(t, pageToken)
	cfg := load(t, mqtttest.Start(t), g, map[string]string{"HTTP_ADDR": taken.Addr().String()})
	var logs logtest.Buffer
	r := start(t, cfg, &logs)
	select {
	case <-r.stopped:
		if r.err == nil || !strings.Contains(r.err.Error(), "HTTP_ADDR "+cfg.HTTPAddr) {
			t.Fatalf("Run on a taken port: %v, want an error naming HTTP_ADDR and the address", r.err)
		}
	case <-time.After(mqtttest.Wait):
		t.Fatal("the service kept running without its health server")
	}
}

// With HTTP_ADDR empty the service runs without a health server, and says
// so.
func TestHealthServerDisabled(t *testing.T) {
	g := graphtest.NewServer(t, pageToken)
	cfg := load(t, mqtttest.Start(t), g, nil)
	var logs logtest.Buffer
	r := start(t, cfg, &logs)
	if _, ok := logs.Wait(mqtttest.Wait, func(l string) bool { return strings.Contains(l, "HTTP_ADDR is empty: no health or metrics server") }); !ok {
		t.Fatal("the service did not say it serves no health server")
	}
	select {
	case <-r.Bridge().Ready():
	case <-r.stopped:
		t.Fatalf("the service stopped without a health server: %v", r.err)
	case <-time.After(mqtttest.Wait):
		t.Fatal("bridge did not connect and subscribe")
	}
}
