package metrics_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/messenger-bridge/messenger-bridge/metrics"
)

// scrape serves h once and parses the exposition it writes.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: status %d: %s", rec.Code, rec.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("scrape: not the exposition format: %v", err)
	}
	return families
}

// value returns the value of the sample of family name whose labels are
// exactly labels, and whether there is one.
func value(families map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	f := families[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		match := true
		for _, l := range m.GetLabel() {
			if labels[l.GetName()] != l.GetValue() {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func TestCounters(t *testing.T) {
	m := metrics.New([]string{"alice", "bob"})
	depth := 0.0
	m.Gauge("outbox_entries", "Entries waiting.", func() float64 { return depth })

	// Known recipients' series exist at zero before anything happened.
	before := scrape(t, m.Handler())
	zero := []struct {
		name   string
		labels map[string]string
	}{
		{"messenger_bridge_messages_received_total", map[string]string{"recipient": "bob"}},
		{"messenger_bridge_messages_total", map[string]string{"recipient": "bob", "status": "expired"}},
		{"messenger_bridge_retries_total", map[string]string{"recipient": "alice"}},
	}
	for _, z := range zero {
		if v, ok := value(before, z.name, z.labels); !ok || v != 0 {
			t.Errorf("%s%v = %v (present %v), want 0 from the start", z.name, z.labels, v, ok)
		}
	}

	m.Received("alice")
	m.Received("alice")
	m.Received("mallory") // not configured: counted under _unknown
	m.Result("alice", "sent")
	m.Result("bob", "failed")
	m.Attempt("alice", 30*time.Millisecond, false)
	m.Attempt("bob", 2*time.Second, true)
	depth = 7

	after := scrape(t, m.Handler())
	want := []struct {
		name   string
		labels map[string]string
		value  float64
	}{
		{"messenger_bridge_messages_received_total", map[string]string{"recipient": "alice"}, 2},
		{"messenger_bridge_messages_received_total", map[string]string{"recipient": "_unknown"}, 1},
		{"messenger_bridge_messages_total", map[string]string{"recipient": "alice", "status": "sent"}, 1},
		{"messenger_bridge_messages_total", map[string]string{"recipient": "bob", "status": "failed"}, 1},
		{"messenger_bridge_messages_total", map[string]string{"recipient": "bob", "status": "sent"}, 0},
		{"messenger_bridge_retries_total", map[string]string{"recipient": "bob"}, 1},
		{"messenger_bridge_retries_total", map[string]string{"recipient": "alice"}, 0},
		{"messenger_bridge_graph_attempt_duration_seconds", map[string]string{}, 2},
		{"messenger_bridge_outbox_entries", map[string]string{}, 7},
	}
	for _, w := range want {
		if v, ok := value(after, w.name, w.labels); !ok || v != w.value {
			t.Errorf("%s%v = %v (present %v), want %v", w.name, w.labels, v, ok, w.value)
		}
	}
	if _, ok := value(after, "messenger_bridge_messages_received_total", map[string]string{"recipient": "mallory"}); ok {
		t.Error("an unconfigured name has a series of its own; want it under _unknown")
	}
}

func TestNilCountsNothing(t *testing.T) {
	var m *metrics.Metrics
	m.Received("alice")
	m.Result("alice", "sent")
	m.Attempt("alice", time.Second, true)
	m.Gauge("outbox_entries", "Entries waiting.", func() float64 { return 1 })
	if got := scrape(t, m.Handler()); len(got) != 0 {
		t.Fatalf("nil Metrics served %d families, want none", len(got))
	}
}
