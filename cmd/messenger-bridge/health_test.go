package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/rs/zerolog"

	"github.com/messenger-bridge/messenger-bridge/config"
	"github.com/messenger-bridge/messenger-bridge/delivery"
	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
	"github.com/messenger-bridge/messenger-bridge/health"
	"github.com/messenger-bridge/messenger-bridge/mqtttest"
	"github.com/messenger-bridge/messenger-bridge/service"
)

// Secrets of the bridge under test: long and unusual, so that a leak is
// found by a plain substring search.
var healthSecrets = map[string]string{
	"FB_PAGE_TOKEN": "EAAGhealthPAGEtoken0123456789SECRET",
	"FB_APP_SECRET": "healthAPPsecret9876543210SECRET",
	"MQTT_PASSWORD": "healthMQTTpassword5555SECRET",
	"HA_TOKEN":      "healthHAtoken1234567890SECRET",
}

const healthAlicePSID = "26428272146817880"

// healthRig runs the service, as serveWith does, against
// a real broker and a fake Graph API.
type healthRig struct {
	t      *testing.T
	broker *mqtttest.Broker
	graph  *graphtest.Server
	client *mqtttest.Client
	base   string // http://127.0.0.1:port
}

func newHealthRig(t *testing.T) *healthRig {
	t.Helper()
	return newHealthRigOn(t, mqtttest.Start(t), true)
}

// newHealthRigOn is newHealthRig on a broker the test started; with
// connects false it does not wait for the bridge to connect.
func newHealthRigOn(t *testing.T, broker *mqtttest.Broker, connects bool) *healthRig {
	t.Helper()
	r := &healthRig{t: t, broker: broker}
	r.graph = graphtest.NewServer(t, healthSecrets["FB_PAGE_TOKEN"])
	r.graph.AddUser(healthAlicePSID)
	r.graph.RequireAppSecret(healthSecrets["FB_APP_SECRET"])
	addr := freeAddr(t)
	r.base = "http://" + addr
	env := map[string]string{
		"FB_GRAPH_URL":   r.graph.URL,
		"RECIPIENTS":     "alice:" + healthAlicePSID,
		"MQTT_URL":       r.broker.URL,
		"MQTT_USERNAME":  "bridge",
		"MQTT_CLIENT_ID": "health-under-test",
		"HA_URL":         "http://127.0.0.1:9",
		"DATA_DIR":       t.TempDir(),
		"SEND_RATE":      "0",
		"HTTP_ADDR":      addr,
	}
	for k, v := range healthSecrets {
		env[k] = v
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	cfg, err := config.Load()
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	// Built as main builds it, with quick retries.
	svc, err := service.New(t.Context(), cfg, zerolog.New(io.Discard), service.WithVersion("test"),
		service.WithDelivery(delivery.Options{Backoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-ran:
			if err != nil {
				t.Errorf("service: %v", err)
			}
		case <-time.After(mqtttest.Wait):
			t.Error("the service did not stop when its context ended")
		}
	})
	r.client = r.broker.Connect(t)
	select {
	case <-svc.Bridge().Ready():
	case <-time.After(mqtttest.Wait):
		t.Fatal("bridge did not connect and subscribe")
	case <-stopIf(!connects):
	}
	r.until("the HTTP server answers", func() bool { return r.get(health.LivePath).status == http.StatusOK })
	return r
}

type healthAnswer struct {
	status int
	body   string
}

// get asks the server for path, and fails the test if the answer holds a
// secret.
func (r *healthRig) get(path string) healthAnswer {
	r.t.Helper()
	resp, err := http.Get(r.base + path)
	if err != nil {
		return healthAnswer{} // not listening yet
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		r.t.Fatalf("GET %s: %v", path, err)
	}
	for name, secret := range healthSecrets {
		if bytes.Contains(body, []byte(secret)) {
			r.t.Fatalf("GET %s shows %s:\n%s", path, name, body)
		}
	}
	return healthAnswer{resp.StatusCode, string(body)}
}

// until waits for cond, failing the test after mqtttest.Wait.
func (r *healthRig) until(what string, cond func() bool) {
	r.t.Helper()
	if !healthPoll(cond) {
		r.t.Fatalf("timed out waiting until %s", what)
	}
}

// healthPoll reports whether cond became true within mqtttest.Wait. It polls:
// the states it waits for (a connection dropping, a server starting, a
// counter moving after its result went out) announce themselves to no one
// outside.
func healthPoll(cond func() bool) bool {
	deadline := time.After(mqtttest.Wait)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			return false
		case <-tick.C:
		}
	}
	return true
}

// scrape parses the server's /metrics.
func (r *healthRig) scrape() map[string]*dto.MetricFamily {
	r.t.Helper()
	a := r.get(health.MetricsPath)
	if a.status != http.StatusOK {
		r.t.Fatalf("GET /metrics: %d %s", a.status, a.body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(strings.NewReader(a.body))
	if err != nil {
		r.t.Fatalf("/metrics is not in the exposition format: %v", err)
	}
	return families
}

// metricSample is the value of a counter, gauge or histogram (its count) with
// exactly the given labels; -1 when there is none.
func metricSample(families map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, m := range families[name].GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		if !maps.Equal(got, want) {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

// probe runs the health command as the HEALTHCHECK does.
func (r *healthRig) probe(args ...string) (int, string) {
	var out, errOut bytes.Buffer
	code := runHealth(context.Background(), args, &out, &errOut)
	return code, out.String() + errOut.String()
}

func TestHealthFollowsTheBroker(t *testing.T) {
	r := newHealthRig(t)
	r.until("ready", func() bool { return r.get(health.ReadyPath).status == http.StatusOK })
	if got := metricSample(r.scrape(), "messenger_bridge_mqtt_connected"); got != 1 {
		t.Fatalf("mqtt_connected = %v while connected, want 1", got)
	}
	for _, args := range [][]string{nil, {"-ready"}} {
		if code, out := r.probe(args...); code != exitOK {
			t.Fatalf("health %v while connected: exit %d: %s", args, code, out)
		}
	}

	r.broker.Stop()
	r.until("not ready without a broker", func() bool { return r.get(health.ReadyPath).status == http.StatusServiceUnavailable })
	a := r.get(health.ReadyPath)
	if want := "not ready: MQTT: not connected to " + r.broker.URL + ": "; !strings.Contains(a.body, want) {
		t.Errorf("/readyz says %q, want the reason %q", a.body, want)
	}
	if a := r.get(health.LivePath); a.status != http.StatusOK || a.body != "ok\n" {
		t.Errorf("/healthz without a broker: %d %q, want 200 ok: the process is alive", a.status, a.body)
	}
	if got := metricSample(r.scrape(), "messenger_bridge_mqtt_connected"); got != 0 {
		t.Errorf("mqtt_connected = %v without a broker, want 0", got)
	}
	if code, out := r.probe(); code != exitOK {
		t.Errorf("health (liveness) without a broker: exit %d: %s", code, out)
	}
	if code, out := r.probe("-ready"); code != exitFailure || !strings.Contains(out, "503") {
		t.Errorf("health -ready without a broker: exit %d: %s; want 1 and the 503", code, out)
	}

	r.broker.Restart()
	r.until("ready again once the broker is back", func() bool { return r.get(health.ReadyPath).status == http.StatusOK })
	if code, out := r.probe("-ready"); code != exitOK {
		t.Errorf("health -ready after the broker came back: exit %d: %s", code, out)
	}
}

// stopIf returns a closed channel when stop is true, and nil (never ready)
// otherwise.
func stopIf(stop bool) <-chan struct{} {
	if !stop {
		return nil
	}
	c := make(chan struct{})
	close(c)
	return c
}

// A broker that refuses the password is named, with its reason, on /readyz
// and by the health command, without the password.
func TestReadyNamesTheBrokersRefusal(t *testing.T) {
	r := newHealthRigOn(t, mqtttest.Start(t, mqtttest.WithUser("bridge", "not-the-bridges-password")), false)
	want := "not ready: MQTT: not connected to " + r.broker.URL + ": not authorised (the broker refused user \"bridge\""
	r.until("/readyz names the refusal", func() bool {
		a := r.get(health.ReadyPath)
		return a.status == http.StatusServiceUnavailable && strings.Contains(a.body, want)
	})
	if code, out := r.probe("-ready"); code != exitFailure || !strings.Contains(out, "not authorised") {
		t.Errorf("health -ready: exit %d: %s; want 1 and the broker's reason", code, out)
	}
	if code, out := r.probe(); code != exitOK {
		t.Errorf("health (liveness) with a refusing broker: exit %d: %s; want 0, the bridge keeps trying", code, out)
	}
}

func TestMetricsCountDeliveries(t *testing.T) {
	r := newHealthRig(t)
	results := r.client.Subscribe("messenger/result/alice")
	send := func(text string, want delivery.Status) {
		t.Helper()
		r.client.Publish("messenger/notify/alice", text)
		var res delivery.Result
		if err := json.Unmarshal(mqtttest.Next(t, results).Payload, &res); err != nil || res.Status != want {
			t.Fatalf("result of %q: %+v (%v), want %s", text, res, err, want)
		}
	}
	send("first", delivery.Sent)
	r.graph.FailNext(1, graphtest.Unavailable) // transient: retried, then sent
	send("second", delivery.Sent)
	r.graph.FailNext(1, graphtest.TokenExpired) // permanent: fails at once
	send("third", delivery.Failed)

	// The counters move as the results go out; wait for the last of them.
	want := []struct {
		name   string
		labels []string
		value  float64
	}{
		{"messenger_bridge_messages_received_total", []string{"recipient", "alice"}, 3},
		{"messenger_bridge_messages_total", []string{"recipient", "alice", "status", "sent"}, 2},
		{"messenger_bridge_messages_total", []string{"recipient", "alice", "status", "failed"}, 1},
		{"messenger_bridge_messages_total", []string{"recipient", "alice", "status", "expired"}, 0},
		{"messenger_bridge_retries_total", []string{"recipient", "alice"}, 1},
		{"messenger_bridge_graph_attempt_duration_seconds", nil, 4},
		{"messenger_bridge_outbox_entries", nil, 0},
		{"messenger_bridge_mqtt_connected", nil, 1},
	}
	var families map[string]*dto.MetricFamily
	matches := func() bool {
		families = r.scrape()
		for _, w := range want {
			if metricSample(families, w.name, w.labels...) != w.value {
				return false
			}
		}
		return true
	}
	if healthPoll(matches) {
		return
	}
	for _, w := range want {
		if got := metricSample(families, w.name, w.labels...); got != w.value {
			t.Errorf("%s%v = %v, want %v", w.name, w.labels, got, w.value)
		}
	}
}

func TestHealthCommandWithoutServer(t *testing.T) {
	t.Setenv("HTTP_ADDR", "")
	var out bytes.Buffer
	if code := runHealth(context.Background(), nil, &out, &out); code != exitFailure || !strings.Contains(out.String(), "HTTP_ADDR is empty") {
		t.Fatalf("health with HTTP_ADDR empty: exit %d: %s", code, &out)
	}
}

func TestHealthCommand(t *testing.T) {
	down := freeAddr(t) // nothing listens there
	tests := []struct {
		name string
		env  string
		args []string
		code int
		says string
	}{
		{"nothing listening", down, nil, exitFailure, "connection refused"},
		{"bad address", "8080", nil, exitFailure, "HTTP_ADDR"},
		{"unknown flag", down, []string{"-x"}, exitUsage, "flag provided but not defined"},
		{"stray argument", down, []string{"now"}, exitUsage, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("HTTP_ADDR", tt.env)
			var out bytes.Buffer
			code := runHealth(context.Background(), tt.args, &out, &out)
			if code != tt.code || !strings.Contains(out.String(), tt.says) {
				t.Fatalf("exit %d, output %q; want %d and %q", code, &out, tt.code, tt.says)
			}
		})
	}
}

func TestHealthCommandDefaultAddr(t *testing.T) {
	t.Setenv("FB_PAGE_TOKEN", healthSecrets["FB_PAGE_TOKEN"])
	t.Setenv("RECIPIENTS", "alice:"+healthAlicePSID)
	t.Setenv("HTTP_ADDR", "") // restored after the test
	if err := os.Unsetenv("HTTP_ADDR"); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	if got := httpAddr(); got != cfg.HTTPAddr || got == "" {
		t.Fatalf("health command asks %q, the service listens on %q", got, cfg.HTTPAddr)
	}
}
