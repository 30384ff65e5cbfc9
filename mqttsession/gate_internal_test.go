package mqttsession

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/rs/zerolog"

	"github.com/messenger-bridge/messenger-bridge/logtest"
	"github.com/messenger-bridge/messenger-bridge/mqtttest"
)

// pahoResume is the paho function the gate relies on to list the store
// once per connection (paho v1.5.1 client.go), as the runtime names it:
// the dots in the last element of a package path are escaped.
const pahoResume = "github.com/eclipse/paho%2emqtt%2egolang.(*client).resume"

// listing is one call of the gate's All on an open connection.
type listing struct {
	caller  string // the paho function that called All
	wasOpen bool   // whether the gate was open already
}

// TestGateOpensInResume pins what resumeGate relies on and paho does not
// document: on each connection, the first and only time paho lists the
// store on the open connection is in resume, and until then the gate is
// closed (by OnReconnecting on a reconnection). It fails when a paho
// upgrade lists the store elsewhere, more than once, or not at all.
func TestGateOpensInResume(t *testing.T) {
	broker := mqtttest.Start(t)
	proxy := broker.Proxy(t)
	logs := &logtest.Buffer{}
	s, err := New(Options{URL: proxy.URL, ClientID: "gate-under-test", ConnectRetry: 20 * time.Millisecond, Log: zerolog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	listed := make(chan listing, 64)
	isOpen := s.gate.isOpen
	s.gate.isOpen = func() bool { // set before Start, so before paho's goroutines read it
		open := isOpen()
		if open {
			s.gate.mu.Lock()
			gate := s.gate.open
			s.gate.mu.Unlock()
			l := listing{caller: pahoCaller()}
			select {
			case <-gate:
				l.wasOpen = true
			default:
			}
			select {
			case listed <- l:
			default:
				t.Error("the store was listed more than 64 times")
			}
		}
		return open
	}
	s.Start()
	t.Cleanup(func() {
		s.Close()
		if t.Failed() {
			t.Logf("session log:\n%s", logs.String())
		}
	})

	for conn := 1; conn <= 2; conn++ {
		select {
		case l := <-listed:
			if l.caller != pahoResume || l.wasOpen {
				t.Fatalf("connection %d: the store was listed on the open connection by %s with the gate open %v; "+
					"want it listed by %s with the gate closed", conn, l.caller, l.wasOpen, pahoResume)
			}
		case <-time.After(mqtttest.Wait):
			t.Fatalf("connection %d: paho did not list its store on the open connection: the gate stays closed", conn)
		}
		// The gate is open now, or about to be: a publication goes out.
		ctx, cancel := context.WithTimeout(context.Background(), mqtttest.Wait)
		err := s.PublishAcked(ctx, "test/gate", []byte("after resume"))
		cancel()
		if err != nil {
			t.Fatalf("connection %d: PublishAcked: %v", conn, err)
		}
		select {
		case l := <-listed:
			t.Fatalf("connection %d: the store was listed again by %s; want once per connection", conn, l.caller)
		default:
		}
		if conn == 1 {
			proxy.Cut() // paho reconnects through the proxy
		}
	}
}

// pahoCaller returns the first function outside this package on the stack.
func pahoCaller() string {
	pcs := make([]uintptr, 32)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	for {
		f, more := frames.Next()
		if !strings.HasPrefix(f.Function, "github.com/messenger-bridge/messenger-bridge/mqttsession.") {
			return f.Function
		}
		if !more {
			return ""
		}
	}
}

// The store keeps its own copy of a PUBLISH: what paho writes to the
// packet it put, or to one it got, never reaches the stored packet.
func TestGateStoresCopies(t *testing.T) {
	g := newResumeGate()
	g.Open()
	p := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
	p.TopicName, p.MessageID, p.Qos = "t", 7, 1
	g.Put("o.7", p)
	p.Dup = true // as paho's resume marks a resent packet
	got := g.Get("o.7").(*packets.PublishPacket)
	if got == p || got.Dup {
		t.Fatalf("Get returned the packet put, or saw a write to it (Dup %v)", got.Dup)
	}
	got.RemainingLength = 99 // as Write sets it
	if again := g.Get("o.7").(*packets.PublishPacket); again == got || again.RemainingLength == 99 {
		t.Fatal("a write to a packet from Get reached the stored one")
	}
}
