package bridge_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/messenger-bridge/messenger-bridge/clocktest"
	"github.com/messenger-bridge/messenger-bridge/delivery"
	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
	"github.com/messenger-bridge/messenger-bridge/mqtttest"
)

const carolPSID = "1000000000000003"

// waitTimers waits until n goroutines wait on c.
func waitTimers(t *testing.T, c *clocktest.Clock, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), mqtttest.Wait)
	defer cancel()
	if !c.WaitTimers(ctx, n) {
		t.Fatalf("%d goroutines wait on the clock, want %d", c.Timers(), n)
	}
}

// failedCalls returns how many calls the fake Graph failed since last asked.
func failedCalls(g *graphtest.Server) int {
	for n := 0; ; n++ {
		select {
		case <-g.Failed():
		default:
			return n
		}
	}
}

// TestOutageThenRecovery takes Graph down while three people have messages
// waiting. After the attempts already under way when it went down, Graph
// gets one call per probe, one probe at a time; when Graph is back, every
// message is delivered, in order for each person.
func TestOutageThenRecovery(t *testing.T) {
	const perPerson, probes = 4, 4
	names := []string{"alice", "bob", "carol"}
	psids := map[string]string{"alice": alicePSID, "bob": bobPSID, "carol": carolPSID}
	h := prepareHarness(t, mqtttest.Start(t), map[string]string{"RECIPIENTS": "alice:" + alicePSID + ",bob:" + bobPSID + ",carol:" + carolPSID})
	h.graph.AddUser(carolPSID)
	c := clocktest.New(time.Now())
	h.clock = c
	h.graph.SetOutage(&graphtest.Unavailable)
	h.start()

	for i := range perPerson {
		for _, name := range names {
			h.client.Publish("messenger/notify/"+name, fmt.Sprintf(`{"id":"%s-%d","message":"%s %d"}`, name, i, name, i))
		}
	}
	waitTimers(t, c, len(names)) // everyone waits
	before := failedCalls(h.graph)
	if before < 1 || before > len(names) {
		t.Fatalf("%d calls as Graph went down, want 1 to %d: one per person at most", before, len(names))
	}
	for i := range probes {
		c.Advance(delivery.DefaultServerProbeMax) // the next probe is due within this
		select {
		case <-h.graph.Failed():
		case <-time.After(mqtttest.Wait):
			t.Fatalf("probe %d did not reach Graph", i+1)
		}
		waitTimers(t, c, len(names))
		if n := failedCalls(h.graph); n != 0 {
			t.Fatalf("probe %d came with %d more calls, want one call per probe", i+1, n)
		}
	}
	if n := h.graph.Calls(); n != before+probes {
		t.Fatalf("Graph had %d calls during the outage, want %d", n, before+probes)
	}

	h.graph.SetOutage(nil)
	c.Advance(delivery.DefaultServerProbeMax)
	for _, name := range names {
		for i := range perPerson {
			want := fmt.Sprintf("%s-%d", name, i)
			if r := h.result(name); r.ID != want || r.Status != delivery.Sent || len(r.MessageIDs) != 1 {
				t.Fatalf("result for %s: %+v, want %s sent", name, r, want)
			}
		}
	}
	got := map[string][]string{}
	for _, req := range h.graph.Requests() {
		got[req.PSID] = append(got[req.PSID], req.Text)
	}
	for _, name := range names {
		var want []string
		for i := range perPerson {
			want = append(want, fmt.Sprintf("%s %d", name, i))
		}
		if !slices.Equal(got[psids[name]], want) {
			t.Errorf("Graph got %v for %s, want %v", got[psids[name]], name, want)
		}
	}
}

// TestLatencyFromArrival checks that latency_ms counts from the message's
// arrival on MQTT, not from its write to the outbox.
func TestLatencyFromArrival(t *testing.T) {
	const waited = 3 * time.Second
	h := newHarness(t, nil)
	h.bridge.ArriveAt("messenger/notify/alice", `{"id":"late","message":"kept waiting"}`, time.Now().Add(-waited))
	r := h.result("alice")
	if r.ID != "late" || r.Status != delivery.Sent || r.LatencyMS < waited.Milliseconds() || r.LatencyMS > (waited+mqtttest.Wait).Milliseconds() {
		t.Fatalf("result %+v, want sent with latency_ms from %d on", r, waited.Milliseconds())
	}
}

// TestBrokerAwayDeliveryGoesOn delivers what waits in the outbox while the
// broker is away: delivery never waits for the broker. The results are
// recorded meanwhile, and published once each when the broker is back.
func TestBrokerAwayDeliveryGoesOn(t *testing.T) {
	const n = 20
	h, proxy := prepareProxied(t, nil)
	c := clocktest.New(time.Now())
	h.clock = c
	h.graph.FailNext(1, graphtest.Unavailable) // every queue pauses, and the probe waits for the clock
	h.start()

	for i := range n {
		h.client.Publish("messenger/notify/alice", fmt.Sprintf(`{"id":"m%02d","message":"m %d"}`, i, i))
	}
	// Refused after the messages before it were stored.
	h.client.Publish("messenger/notify/zed", `{"id":"marker","message":"stored?"}`)
	if r := h.result("zed"); r.ID != "marker" {
		t.Fatalf("zed: %+v, want the marker refused", r)
	}
	proxy.Down()
	// The probe's timer is on the clock only once the first call failed,
	// which a loaded machine may delay past this point.
	select {
	case <-h.graph.Failed():
	case <-time.After(mqtttest.Wait):
		t.Fatal("the first call never reached Graph")
	}
	waitTimers(t, c, 1)
	c.Advance(delivery.DefaultServerProbeMax) // the probe gets through; everything follows
	for range n {
		h.request()
	}
	if err := h.bridge.BrokerReady(); err == nil {
		t.Fatal("the broker came back before Graph had every message; the test proves nothing")
	}

	proxy.Up()
	seen := make(map[string]int)
	for range n {
		r := h.result("alice")
		if r.Status != delivery.Sent {
			t.Errorf("result %+v, want sent", r)
		}
		seen[r.ID]++
	}
	if len(seen) != n {
		t.Errorf("results for %d messages (%v), want %d, one each", len(seen), seen, n)
	}
}
