package bridge_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/messenger-bridge/messenger-bridge/bridge"
	"github.com/messenger-bridge/messenger-bridge/clocktest"
	"github.com/messenger-bridge/messenger-bridge/config"
	"github.com/messenger-bridge/messenger-bridge/delivery"
	"github.com/messenger-bridge/messenger-bridge/graph"
	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
	"github.com/messenger-bridge/messenger-bridge/logtest"
	"github.com/messenger-bridge/messenger-bridge/media"
	"github.com/messenger-bridge/messenger-bridge/mqtttest"
	"github.com/messenger-bridge/messenger-bridge/outbox"
	"github.com/messenger-bridge/messenger-bridge/reach"
	"github.com/messenger-bridge/messenger-bridge/receive"
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

// harness runs one bridge against a real broker and a fake Graph API, and
// plays the home-automation side through MQTT only.
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
	// received is the running bridge's store of what the household sent,
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
}

// launch runs the bridge.
func (h *harness) launch() {
	h.t.Helper()
	for k, v := range h.env {
		h.t.Setenv(k, v)
	}
	cfg, err := config.Load()
	if err != nil {
		h.t.Fatalf("config: %v", err)
	}
	log := zerolog.New(h.logs)
	g, err := graph.New(graph.Config{BaseURL: cfg.GraphURL, Version: cfg.GraphVersion, PageToken: cfg.PageToken.Reveal(),
		MessagingType: cfg.MessagingType, Tag: cfg.MessageTag})
	if err != nil {
		h.t.Fatal(err)
	}
	fetch, err := media.NewFetcher(media.Config{HAURL: cfg.HAURL, HAToken: cfg.HAToken.Reveal(), MediaDirs: cfg.MediaDirs})
	if err != nil {
		h.t.Fatal(err)
	}
	box, err := outbox.Open(filepath.Join(cfg.DataDir, "outbox.db"), cfg.OutboxMax, outbox.MaxBytes(int64(cfg.OutboxMaxBytes)))
	if err != nil {
		h.t.Fatal(err)
	}
	var page graph.Page
	if !h.offline {
		if page, err = g.Page(context.Background()); err != nil {
			h.t.Fatal(err)
		}
	}
	people := reach.New(nil)
	h.reach = people
	received, err := receive.OpenStore(filepath.Join(cfg.DataDir, "received.db"))
	if err != nil {
		h.t.Fatal(err)
	}
	h.received = received
	opts := []delivery.MessengerOption{delivery.WithReach(people), delivery.WithAsker(receive.Asks{Store: received})}
	// Probes while Graph fails for everyone wait milliseconds too.
	dopts := delivery.Options{TTL: cfg.MessageTTL, Backoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		RestrictedHold: restrictedHold, ProbeFloor: 5 * time.Millisecond, ServerProbeMax: 50 * time.Millisecond,
		BudgetProbeMax: 50 * time.Millisecond}
	if h.clock != nil {
		opts = append(opts, delivery.WithClock(h.clock))
		dopts = delivery.Options{TTL: cfg.MessageTTL, Clock: h.clock}
	}
	if cfg.UtilityTemplate != "" {
		opts = append(opts, delivery.WithTemplate(graph.Template{Name: cfg.UtilityTemplate, Language: cfg.UtilityTemplateLang}))
	}
	b, err := bridge.New(cfg, bridge.Deps{
		Outbox: box, Sender: delivery.NewMessenger(g, fetch, cfg.SendRate, opts...), Reach: people, Received: received, Page: page,
		Token: bridge.TokenState{State: bridge.TokenValid}, Version: "test",
		Delivery:       dopts,
		DiscoveryDelay: 20 * time.Millisecond,
		DiscoveryAfter: h.discoveryAfter,
		ConnectRetry:   20 * time.Millisecond,
	}, log)
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done, h.bridge = cancel, make(chan error, 1), b
	go func() {
		err := b.Run(ctx)
		box.Close()
		received.Close()
		h.done <- err
	}()
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
