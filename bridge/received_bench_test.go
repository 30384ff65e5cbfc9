package bridge_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
	"github.com/messenger-bridge/messenger-bridge/mqtttest"
	"github.com/messenger-bridge/messenger-bridge/receive"
)

// BenchmarkWebhookToMQTT measures the time from Meta's call to the webhook
// to the event's arrival at an MQTT subscriber, through a real broker, one
// event at a time, and reports p50 and p99.
func BenchmarkWebhookToMQTT(b *testing.B) {
	h := newHarness(b, nil)
	const secret = "benchSECRET"
	srv := httptest.NewServer(receive.NewWebhook(receive.WebhookConfig{AppSecret: secret, VerifyToken: "v",
		Store: h.received, PageID: "1122334455", Log: zerolog.Nop()}))
	b.Cleanup(srv.Close)
	d := graphtest.NewWebhookDriver(b, srv.URL, secret)
	alice := h.client.Subscribe("messenger/received/alice")
	measure(b, alice, func(i int) {
		if status := d.Send(graphtest.Text(alicePSID, "m_"+strconv.Itoa(i), "bench", time.Now())); status != http.StatusOK {
			b.Fatalf("status %d", status)
		}
	})
}

// BenchmarkStoreToMQTT measures the Relay alone: from an event taken into
// the Store, as a poll takes it, to its arrival at an MQTT subscriber.
func BenchmarkStoreToMQTT(b *testing.B) {
	h := newHarness(b, nil)
	alice := h.client.Subscribe("messenger/received/alice")
	measure(b, alice, func(i int) {
		h.takeIn(receive.Event{MID: "m_" + strconv.Itoa(i), PSID: alicePSID, Type: receive.TypeMessage, Text: "bench", Timestamp: time.Now()})
	})
}

func measure(b *testing.B, ch <-chan mqtttest.Message, send func(i int)) {
	var took []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		began := time.Now()
		send(i)
		m := mqtttest.Next(b, ch)
		took = append(took, time.Since(began))
		var r receive.Received
		if json.Unmarshal(m.Payload, &r) != nil || r.MID != "m_"+strconv.Itoa(i) {
			b.Fatalf("got %s, want m_%d", m.Payload, i)
		}
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-µs")
}
