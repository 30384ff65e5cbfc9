package bench_test

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/messenger-bridge/messenger-bridge/bench"
	"github.com/messenger-bridge/messenger-bridge/delivery"
	"github.com/messenger-bridge/messenger-bridge/graph"
	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
	"github.com/messenger-bridge/messenger-bridge/mqtttest"
)

const (
	token = "EAAGbenchTestToken"
	base  = "house"
)

var psids = map[string]string{"alice": "26428272146817880", "bob": "7391000000000001"}

// TestRun plays a bridge that loses one message and sends another twice,
// and checks that Run counts both.
func TestRun(t *testing.T) {
	tests := []struct {
		name     string
		messages int
		rate     float64
	}{
		{"as fast as possible", 40, 0},
		{"paced", 20, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			broker := mqtttest.Start(t)
			g := graphtest.NewServer(t, token)
			for _, p := range psids {
				g.AddUser(p)
			}
			client := broker.Connect(t)
			notes := client.Subscribe(base + "/notify/+")

			done := make(chan error, 1)
			var rep bench.Report
			go func() {
				var err error
				rep, err = bench.Run(t.Context(), g, bench.Load{Broker: broker.URL, BaseTopic: base,
					Recipients: []string{"alice", "bob"}, Messages: tt.messages, Rate: tt.rate, Idle: mqtttest.Wait})
				done <- err
			}()
			const lose, twice = 3, 5
			relay(t, client, g, notes, tt.messages, lose, twice)
			if err := <-done; err != nil {
				t.Fatal(err)
			}

			if rep.Published != tt.messages || rep.Received != tt.messages-1 || rep.Lost != 1 || rep.Duplicates != 1 {
				t.Errorf("published %d, received %d, lost %d, duplicates %d; want %d, %d, 1, 1",
					rep.Published, rep.Received, rep.Lost, rep.Duplicates, tt.messages, tt.messages-1)
			}
			if rep.Results[delivery.Sent] != tt.messages-1 || rep.Results[delivery.Failed] != 1 {
				t.Errorf("results = %v, want %d sent and 1 failed", rep.Results, tt.messages-1)
			}
			l := rep.Latency
			if l.P50 <= 0 || l.P50 > l.P99 || l.P99 > l.Max || l.Max > rep.Elapsed {
				t.Errorf("latency %+v over %v is out of order", l, rep.Elapsed)
			}
			if tt.rate > 0 {
				// Pacing alone makes the last publication this late.
				if least := time.Duration(float64(tt.messages-1) / tt.rate * float64(time.Second)); rep.Elapsed < least {
					t.Errorf("elapsed %v at %v messages/s, want at least %v", rep.Elapsed, tt.rate, least)
				}
			}
			if got := rep.Throughput(); got <= 0 {
				t.Errorf("Throughput() = %v", got)
			}
		})
	}
}

// relay is a stand-in bridge: it sends each of n messages to g and publishes
// a result, but loses the lose'th message (reporting it failed) and sends
// the twice'th message twice.
func relay(t *testing.T, client *mqtttest.Client, g *graphtest.Server, notes <-chan mqtttest.Message, n, lose, twice int) {
	t.Helper()
	gc, err := graph.New(graph.Config{BaseURL: g.URL, Version: "v25.0", PageToken: token, MessagingType: "RESPONSE"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		m := mqtttest.Next(t, notes)
		name := strings.TrimPrefix(m.Topic, base+"/notify/")
		r := delivery.Result{Status: delivery.Sent}
		switch i {
		case lose:
			r.Status = delivery.Failed
		case twice:
			send(t, gc, psids[name], string(m.Payload))
			fallthrough
		default:
			send(t, gc, psids[name], string(m.Payload))
		}
		payload, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		client.Publish(base+"/result/"+name, string(payload))
	}
}

func send(t *testing.T, gc *graph.Client, psid, text string) {
	t.Helper()
	if _, err := gc.Send(t.Context(), psid, graph.Out{Text: text}, graph.NotifyRegular); err != nil {
		t.Fatalf("send %q: %v", text, err)
	}
}

func TestRunRefusesEmptyLoad(t *testing.T) {
	g := graphtest.NewServer(t, token)
	for _, l := range []bench.Load{{Messages: 0, Recipients: []string{"alice"}}, {Messages: 1}} {
		if _, err := bench.Run(context.Background(), g, l); err == nil {
			t.Errorf("Run(%+v) succeeded", l)
		}
	}
}

func TestRunBrokerUnreachable(t *testing.T) {
	// A port that was just free: nothing listens there.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "tcp://" + l.Addr().String()
	l.Close()
	g := graphtest.NewServer(t, token)
	_, err = bench.Run(t.Context(), g, bench.Load{Broker: url, BaseTopic: base, Recipients: []string{"alice"}, Messages: 1})
	if err == nil || !strings.Contains(err.Error(), url) {
		t.Fatalf("Run with no broker: %v, want an error naming %s", err, url)
	}
}
