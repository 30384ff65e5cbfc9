package bridge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/messenger-bridge/messenger-bridge/bridge"
	"github.com/messenger-bridge/messenger-bridge/clocktest"
	"github.com/messenger-bridge/messenger-bridge/config"
	"github.com/messenger-bridge/messenger-bridge/delivery"
	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
	"github.com/messenger-bridge/messenger-bridge/logtest"
	"github.com/messenger-bridge/messenger-bridge/mqtttest"
	"github.com/messenger-bridge/messenger-bridge/reach"
	"github.com/messenger-bridge/messenger-bridge/receive"
	"github.com/messenger-bridge/messenger-bridge/service"
)

// Test identities. The token is long and unusual so that a leak is found
// by a plain substring search.
const (
	pageToken = "EAAGtestPAGEtoken0123456789SECRET"
	alicePSID = "26428272146817880"
	bobPSID   = "7391000000000001"
)

// restrictedHold is how long the harness's bridge holds every recipient
// after Meta answered that the page is restricted.
const restrictedHold = 300 * time.Millisecond

// harness runs the service, as main does, against a real broker and a fake
// Graph API, and plays the home-automation side through MQTT only.
type harness struct {
	t       testing.TB
	broker  *mqtttest.Broker
	graph   *graphtest.Server
	client  *mqtttest.Client
	results <-chan mqtttest.Message
	early   map[string][]delivery.Result // results read while waiting for another topic
	dataDir string
	env     map[string]string
	logs    *logtest.Buffer
	offline bool // Graph's GET /me is not asked at start, as when the internet is down
	// launches counts the starts; each start's log lines carry its number.
	launches int
	// received is the running service's store of what the household sent,
	// reach what it knows of windows.
	received *receive.Store
	reach    *reach.Tracker
	// discoveryAfter, when set before start, holds the discovery republish.
	discoveryAfter func(time.Duration) <-chan time.Time
	// clock, when set before start, times delivery's retries, probes and
	// the retries of attachments, which then wait with Graph's own bounds
	// rather than the harness's milliseconds.
	clock *clocktest.Clock

	cancel context.CancelFunc
	done   chan error
	bridge *bridge.Bridge
}

// newHarness starts a broker, a fake Graph server with alice and bob, and a
// bridge configured by the base environment overlaid with env.
func newHarness(t testing.TB, env map[string]string) *harness {
	t.Helper()
	return newHarnessOn(t, mqtttest.Start(t), env)
}

// newHarnessOn is newHarness on a broker the test already started.
func newHarnessOn(t testing.TB, broker *mqtttest.Broker, env map[string]string) *harness {
	t.Helper()
	h := prepareHarness(t, broker, env)
	h.start()
	return h
}

// prepareHarness is newHarnessOn without starting the bridge.
func prepareHarness(t testing.TB, broker *mqtttest.Broker, env map[string]string) *harness {
	t.Helper()
	h := &harness{t: t, broker: broker, graph: graphtest.NewServer(t, pageToken),
		dataDir: t.TempDir(), logs: &logtest.Buffer{}, early: make(map[string][]delivery.Result)}
	h.graph.AddUser(alicePSID)
	h.graph.AddUser(bobPSID)
	h.graph.SetPage("1122334455", "Our Home")
	h.env = map[string]string{
		"FB_PAGE_TOKEN":    pageToken,
		"FB_GRAPH_URL":     h.graph.URL,
		"RECIPIENTS":       "alice:" + alicePSID + ",bob:" + bobPSID,
		"GROUPS":           "family:alice+bob",
		"MQTT_URL":         h.broker.URL,
		"MQTT_CLIENT_ID":   "bridge-under-test",
		"DATA_DIR":         h.dataDir,
		"SEND_RATE":        "0",
		"HTTP_ADDR":        "",
		"LOG_FORMAT":       "json",
		"LOG_LEVEL":        "debug",
		"HA_DISCOVERY":     "true",
		"MESSAGE_TTL":      "1h",
		"OUTBOX_MAX":       "10000",
		"OUTBOX_MAX_BYTES": "256MB",
		"MEDIA_DIRS":       "",
		"MQTT_BASE_TOPIC":  "messenger",
	}
	for k, v := range env {
		h.env[k] = v
	}
	h.client = h.broker.Connect(t)
	h.results = h.client.Subscribe("messenger/result/#")
	t.Cleanup(func() {
		h.stop()
		if t.Failed() {
			t.Logf("bridge log:\n%s", h.logs.String())
		}
	})
	return h
}

// start runs the bridge and waits until it has subscribed.
func (h *harness) start() {
	h.t.Helper()
	h.launch()
	select {
	case <-h.bridge.Ready():
	case <-time.After(mqtttest.Wait):
		h.t.Fatal("bridge did not connect and subscribe")
	}
	h.tokenChecked()
}

// launch runs the service, built as main builds it, with the harness's
// quick timings.
func (h *harness) launch() {
	h.t.Helper()
	for k, v := range h.env {
		h.t.Setenv(k, v)
	}
	cfg, err := config.Load()
	if err != nil {
		h.t.Fatalf("config: %v", err)
	}
	h.launches++
	log := zerolog.New(h.logs).With().Int("launch", h.launches).Logger()
	opts := []service.Option{service.WithVersion("test"),
		service.WithDiscovery(20*time.Millisecond, h.discoveryAfter), service.WithConnectRetry(20 * time.Millisecond)}
	if h.clock != nil {
		opts = append(opts, service.WithDeliveryClock(h.clock))
	} else {
		// Probes while Graph fails for everyone wait milliseconds too.
		opts = append(opts, service.WithDelivery(delivery.Options{Backoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
			RestrictedHold: restrictedHold, ProbeFloor: 5 * time.Millisecond, ServerProbeMax: 50 * time.Millisecond,
			BudgetProbeMax: 50 * time.Millisecond}))
	}
	if h.offline {
		opts = append(opts, service.WithoutPageRead())
	}
	svc, err := service.New(context.Background(), cfg, log, opts...)
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	h.bridge, h.received, h.reach = svc.Bridge(), svc.Received(), svc.Reach()
	go func() { h.done <- svc.Run(ctx) }()
}

// tokenChecked waits for the service's first check of the page token, which
// sets the token's state: a test that changes the state must not race it.
func (h *harness) tokenChecked() {
	h.t.Helper()
	launch := fmt.Sprintf(`"launch":%d,`, h.launches)
	if _, ok := h.logs.Wait(mqtttest.Wait, func(l string) bool {
		return strings.Contains(l, launch) && strings.Contains(l, `"message":"page token checked"`)
	}); !ok {
		h.t.Fatal("the service did not check the page token")
	}
}

// stop shuts the bridge down cleanly and waits for it.
func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	h.cancel = nil
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("Run: %v", err)
		}
	case <-time.After(mqtttest.Wait):
		h.t.Error("bridge did not stop")
	}
}

// result returns the next result on the topic of name, waiting for it.
// Results for other names that arrive meanwhile are kept for later calls.
func (h *harness) result(name string) delivery.Result {
	h.t.Helper()
	topic := "messenger/result"
	if name != "" {
		topic += "/" + name
	}
	if rs := h.early[topic]; len(rs) > 0 {
		h.early[topic] = rs[1:]
		return rs[0]
	}
	for {
		m := mqtttest.Next(h.t, h.results)
		var r delivery.Result
		if err := json.Unmarshal(m.Payload, &r); err != nil {
			h.t.Fatalf("result on %s is not JSON: %q", m.Topic, m.Payload)
		}
		if m.Topic == topic {
			return r
		}
		h.early[m.Topic] = append(h.early[m.Topic], r)
	}
}

// request waits for the fake Graph server to accept the next Send call.
func (h *harness) request() graphtest.Request {
	h.t.Helper()
	select {
	case r := <-h.graph.Received():
		return r
	case <-time.After(mqtttest.Wait):
		h.t.Fatal("no Send API call reached the fake Graph server")
		return graphtest.Request{}
	}
}
