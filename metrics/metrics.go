// Package metrics counts what the bridge does, in Prometheus' exposition
// format. Every method is safe on a nil *Metrics, which counts nothing.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "messenger_bridge"

// statuses are the result statuses of SPEC section 4.
var statuses = []string{"sent", "failed", "expired"}

// otherRecipient labels input for names the configuration does not know, so
// that a typo in an automation cannot grow the number of series without end.
const otherRecipient = "_unknown"

// Metrics holds the bridge's collectors on a registry of its own.
type Metrics struct {
	reg          *prometheus.Registry
	known        map[string]bool
	received     *prometheus.CounterVec
	results      *prometheus.CounterVec
	retries      *prometheus.CounterVec
	graphLatency prometheus.Histogram
}

// New returns Metrics labelled with the given recipient names; any other
// name is counted as "_unknown".
func New(recipients []string) *Metrics {
	m := &Metrics{
		reg:   prometheus.NewRegistry(),
		known: make(map[string]bool, len(recipients)),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "messages_received_total",
			Help: "Messages accepted from MQTT, per recipient (a group message counts once per member).",
		}, []string{"recipient"}),
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "messages_total",
			Help: "Results published, per recipient and status (sent, failed, expired).",
		}, []string{"recipient", "status"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "retries_total",
			Help: "Delivery attempts that failed transiently and will be retried.",
		}, []string{"recipient"}),
		graphLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "graph_attempt_duration_seconds",
			Help:    "Duration of one delivery attempt through the Graph API, all parts included.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
	}
	for _, r := range recipients {
		m.known[r] = true
		// Series that exist from the start read 0 rather than missing, so
		// that rate() and alerts on them work from the first scrape.
		m.received.WithLabelValues(r)
		m.retries.WithLabelValues(r)
		for _, status := range statuses {
			m.results.WithLabelValues(r, status)
		}
	}
	m.reg.MustRegister(m.received, m.results, m.retries, m.graphLatency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Gauge registers a value read at every scrape, such as the outbox depth,
// named messenger_bridge_<name>. It panics if name is already registered.
func (m *Metrics) Gauge(name, help string, value func() float64) {
	if m == nil {
		return
	}
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help}, value))
}

// Handler serves the metrics in Prometheus' exposition format. On a nil
// *Metrics it serves an empty exposition.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return promhttp.HandlerFor(prometheus.NewRegistry(), promhttp.HandlerOpts{})
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

func (m *Metrics) label(recipient string) string {
	if m.known[recipient] {
		return recipient
	}
	return otherRecipient
}

// Received counts a message accepted for recipient.
func (m *Metrics) Received(recipient string) {
	if m == nil {
		return
	}
	m.received.WithLabelValues(m.label(recipient)).Inc()
}

// Result counts a result published for recipient.
func (m *Metrics) Result(recipient, status string) {
	if m == nil {
		return
	}
	m.results.WithLabelValues(m.label(recipient), status).Inc()
}

// Attempt records one delivery attempt and whether it will be retried.
func (m *Metrics) Attempt(recipient string, took time.Duration, retry bool) {
	if m == nil {
		return
	}
	m.graphLatency.Observe(took.Seconds())
	if retry {
		m.retries.WithLabelValues(m.label(recipient)).Inc()
	}
}
