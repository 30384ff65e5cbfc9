package main

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/messenger-bridge/messenger-bridge/delivery"
	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
	"github.com/messenger-bridge/messenger-bridge/mqtttest"
)

// TestOutageThenThrottling runs the bridge binary while Graph is down (503,
// code 2) and then throttles (613), with messages waiting for three people.
// Beyond the attempts under way when Graph went down, one for each person
// at most, Graph gets no more than one call every delivery.DefaultProbeFloor:
// one probe, not a retry per person. Once Graph answers again, every
// message is delivered, in order for each person, with one sent result
// each. How long the backlog took after Graph recovered is logged;
// BenchmarkOutageRecovery holds the target for it.
func TestOutageThenThrottling(t *testing.T) {
	const perPerson = 10
	broker := mqtttest.Start(t)
	g := graphtest.NewServer(t, crashToken)
	recipients := make([]string, len(crashPeople))
	for i, p := range crashPeople {
		recipients[i] = p.name + ":" + p.psid
		g.AddUser(p.psid)
	}
	g.SetOutage(&graphtest.Unavailable)
	client := broker.Connect(t)
	states := client.Subscribe("messenger/bridge/state")
	results := client.Subscribe("messenger/result/#")
	bridge := startBridge(t, append(childEnv(t, broker, recipients), "FB_GRAPH_URL="+g.URL))
	mqtttest.Until(t, states, func(m mqtttest.Message) bool { return string(m.Payload) == "online" })

	published := make(map[string][]string) // by PSID
	for i := range perPerson {
		for _, p := range crashPeople {
			text := fmt.Sprintf("%s %d", p.name, i)
			client.Publish("messenger/notify/"+p.name, fmt.Sprintf(`{"id":%q,"message":%q}`, text, text))
			published[p.psid] = append(published[p.psid], text)
		}
	}

	var failures []time.Time
	failed := func(n int) {
		t.Helper()
		for range n {
			select {
			case at := <-g.Failed():
				failures = append(failures, at)
			case <-time.After(mqtttest.Wait):
				t.Fatalf("%d calls failed, want %d more", len(failures), n)
			}
		}
	}
	failed(len(crashPeople) + 1) // the attempts under way, and a probe at least
	g.SetOutage(&graphtest.Throttled)
	failed(1)
	g.SetOutage(nil)
	recovered := time.Now()

	var last time.Time
	for range perPerson * len(crashPeople) {
		last = awaitCall(t, g).At
	}
	for i := 1; i < len(failures); i++ {
		if gap := failures[i].Sub(failures[i-1]); gap < delivery.DefaultProbeFloor-100*time.Millisecond && i >= len(crashPeople) {
			t.Errorf("failed call %d came %v after the one before, while Graph was failing; want one call per %v beyond the %d under way",
				i+1, gap, delivery.DefaultProbeFloor, len(crashPeople))
		}
	}
	got := accepted(g)
	for _, p := range crashPeople {
		if !slices.Equal(got[p.psid], published[p.psid]) {
			t.Errorf("Graph got %v for %s, want %v", got[p.psid], p.name, published[p.psid])
		}
	}
	bridge.stop(t)
	_, perID := sentResults(t, client, results)
	for _, texts := range published {
		for _, id := range texts {
			if perID[id] != 1 {
				t.Errorf("%d results for %q, want 1", perID[id], id)
			}
		}
	}
	gaps := make([]time.Duration, len(failures)-1)
	for i := range gaps {
		gaps[i] = failures[i+1].Sub(failures[i]).Round(time.Millisecond)
	}
	t.Logf("%d failed calls, %v apart; the last message reached Graph %v after it recovered",
		len(failures), gaps, last.Sub(recovered).Round(time.Millisecond))
}
