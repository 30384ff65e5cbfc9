package bridge_test

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/messenger-bridge/messenger-bridge/bench"
	"github.com/messenger-bridge/messenger-bridge/bridge"
	"github.com/messenger-bridge/messenger-bridge/config"
	"github.com/messenger-bridge/messenger-bridge/delivery"
	"github.com/messenger-bridge/messenger-bridge/graph"
	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
	"github.com/messenger-bridge/messenger-bridge/metrics"
	"github.com/messenger-bridge/messenger-bridge/mqtttest"
	"github.com/messenger-bridge/messenger-bridge/outbox"
)

// latencyRate is the steady rate, in messages per second, at which
// BenchmarkLatency measures: a busy home, far below the bridge's capacity.
const latencyRate = 100

// benchPeople are the recipients of benchmark messages, in turn: a household.
var benchPeople = []string{"alice", "bob", "carol"}

// BenchmarkThroughput publishes b.N messages with QoS 1 as fast as the broker
// takes them and reports the messages per second that reached Graph, from
// the first publication to the last arrival.
func BenchmarkThroughput(b *testing.B) {
	rep := load(b, 0)
	b.ReportMetric(rep.Throughput(), "msgs/s")
	b.ReportMetric(micros(rep.Latency.P99), "p99-µs")
}

// BenchmarkLatency publishes b.N messages at latencyRate and reports the
// time from publication to arrival at Graph; ns/op is the pacing interval.
func BenchmarkLatency(b *testing.B) {
	rep := load(b, latencyRate)
	b.ReportMetric(micros(rep.Latency.P50), "p50-µs")
	b.ReportMetric(micros(rep.Latency.P99), "p99-µs")
	b.ReportMetric(micros(rep.Latency.Max), "max-µs")
}

// load runs a bridge as the binary does, with SEND_RATE=0, and publishes b.N
// messages at rate through a real broker. It reports as "lost" the messages
// the broker acknowledged that never reached Graph, and fails the benchmark
// if the bridge took a message and did not deliver it.
func load(b *testing.B, rate float64) bench.Report {
	broker := mqtttest.Start(b)
	g := graphtest.NewServer(b, pageToken)
	psids := []string{alicePSID, bobPSID, "1000000000000003"}
	recipients := ""
	for i, name := range benchPeople {
		g.AddUser(psids[i])
		recipients += name + ":" + psids[i] + ","
	}
	runBridge(b, map[string]string{
		"FB_PAGE_TOKEN": pageToken, "FB_GRAPH_URL": g.URL, "RECIPIENTS": recipients[:len(recipients)-1],
		"MQTT_URL": broker.URL, "DATA_DIR": b.TempDir(), "SEND_RATE": "0", "HA_DISCOVERY": "false", "HTTP_ADDR": "",
		"OUTBOX_MAX": strconv.Itoa(max(10000, b.N)), // room for the whole burst: measure delivery, not the bound
	})

	b.ResetTimer()
	rep, err := bench.Run(b.Context(), g, bench.Load{Broker: broker.URL, BaseTopic: "messenger",
		Recipients: benchPeople, Messages: b.N, Rate: rate})
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	// A message the bridge took has a result; one the broker dropped has none.
	if rep.Results[delivery.Sent] != rep.Received || len(rep.Results) > 1 {
		b.Errorf("the bridge lost messages it took: results %v for %d messages that reached Graph", rep.Results, rep.Received)
	}
	b.ReportMetric(float64(rep.Lost), "lost")
	if rep.Lost > 0 {
		b.Logf("the %s broker dropped %d of %d messages before the bridge took them "+
			"(Mosquitto keeps max_queued_messages, 1000 by default, for a client that falls behind)", broker.Kind, rep.Lost, rep.Published)
	}
	return rep
}

// runBridge runs a bridge configured by env, built as main builds it, until
// the benchmark ends.
func runBridge(b *testing.B, env map[string]string) {
	for k, v := range env {
		b.Setenv(k, v)
	}
	cfg, err := config.Load()
	if err != nil {
		b.Fatal(err)
	}
	g, err := graph.New(graph.Config{BaseURL: cfg.GraphURL, Version: cfg.GraphVersion, PageToken: cfg.PageToken.Reveal(),
		MessagingType: cfg.MessagingType, Tag: cfg.MessageTag})
	if err != nil {
		b.Fatal(err)
	}
	box, err := outbox.Open(filepath.Join(cfg.DataDir, "outbox.db"), cfg.OutboxMax)
	if err != nil {
		b.Fatal(err)
	}
	br, err := bridge.New(cfg, bridge.Deps{
		Outbox: box, Sender: delivery.NewMessenger(g, nil, cfg.SendRate),
		Token: bridge.TokenState{State: bridge.TokenValid}, Version: "bench",
		Delivery: delivery.Options{TTL: cfg.MessageTTL}, Metrics: metrics.New(benchPeople),
	}, zerolog.New(io.Discard).Level(zerolog.InfoLevel).With().Timestamp().Logger()) // main's logger, minus the terminal
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		err := br.Run(ctx)
		done <- errors.Join(err, box.Close())
	}()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("bridge: %v", err)
		}
	})
	select {
	case <-br.Ready():
	case <-time.After(mqtttest.Wait):
		b.Fatal("bridge did not connect and subscribe")
	}
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
