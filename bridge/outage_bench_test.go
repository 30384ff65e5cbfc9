package bridge_test

import (
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
	"github.com/messenger-bridge/messenger-bridge/mqtttest"
)

// The outage BenchmarkOutageRecovery plays, as measured for issue 12: Graph
// down (503, code 2), then throttling (613), while messages arrive for
// three people at a steady pace.
const (
	outageDown      = 20 * time.Second
	outageThrottled = 10 * time.Second
	outageMessages  = 300
)

// BenchmarkOutageRecovery runs a bridge as the binary does (SEND_RATE=0,
// the default delivery settings) through outageDown of Graph failing and
// outageThrottled of throttling, with outageMessages arriving for three
// people meanwhile. It reports the time from Graph answering normally again
// to the last message reaching it (recovery-s), the Graph calls made while
// Graph failed (outage-calls), and the most of them in any 2 s
// (max-calls-per-2s). Each run takes outageDown+outageThrottled and more:
// run it with -bench Outage -benchtime 1x.
func BenchmarkOutageRecovery(b *testing.B) {
	for range b.N {
		recovery, calls, per2s := outage(b)
		b.ReportMetric(recovery.Seconds(), "recovery-s")
		b.ReportMetric(float64(len(calls)), "outage-calls")
		b.ReportMetric(float64(per2s), "max-calls-per-2s")
	}
}

func outage(b *testing.B) (recovery time.Duration, calls []time.Time, per2s int) {
	b.StopTimer()
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
		"OUTBOX_MAX": strconv.Itoa(10 * outageMessages),
	})
	client := broker.Connect(b)
	b.StartTimer()

	g.SetOutage(&graphtest.Unavailable)
	start := time.Now()
	throttle := time.After(outageDown)
	back := time.After(outageDown + outageThrottled)
	pace := time.NewTicker((outageDown + outageThrottled) / outageMessages)
	defer pace.Stop()
	var recovered time.Time
	published, received := 0, 0
	for received < outageMessages {
		select {
		case <-pace.C:
			if published < outageMessages {
				name := benchPeople[published%len(benchPeople)]
				client.Publish("messenger/notify/"+name, fmt.Sprintf(`{"message":"%s %d"}`, name, published))
				published++
			}
		case <-throttle:
			g.SetOutage(&graphtest.Throttled)
		case <-back:
			g.SetOutage(nil)
			recovered = time.Now()
		case req := <-g.Received():
			received++
			if recovered.IsZero() {
				b.Fatalf("%q reached Graph %v into the outage", req.Text, req.At.Sub(start))
			}
			recovery = req.At.Sub(recovered)
		case <-time.After(outageDown + outageThrottled + time.Minute):
			b.Fatalf("%d of %d messages reached Graph", received, outageMessages)
		}
	}
	for done := false; !done; {
		select {
		case at := <-g.Failed():
			calls = append(calls, at)
		default:
			done = true
		}
	}
	slices.SortFunc(calls, func(x, y time.Time) int { return x.Compare(y) })
	for i := range calls {
		n := 0
		for _, at := range calls[i:] {
			if at.Sub(calls[i]) < 2*time.Second {
				n++
			}
		}
		per2s = max(per2s, n)
	}
	if per2s > 1 {
		offsets := make([]string, len(calls))
		for i, at := range calls {
			offsets[i] = at.Sub(start).Round(time.Millisecond).String()
		}
		b.Logf("Graph calls during the outage, from its start: %v", offsets)
	}
	return recovery, calls, per2s
}
