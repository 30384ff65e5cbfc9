package mqttsession_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/rs/zerolog"

	"github.com/messenger-bridge/messenger-bridge/config"
	"github.com/messenger-bridge/messenger-bridge/logtest"
	"github.com/messenger-bridge/messenger-bridge/mqttsession"
	"github.com/messenger-bridge/messenger-bridge/mqtttest"
)

// Topics of the tests' sessions.
const (
	inFilter   = "test/in/#"
	stateTopic = "test/state"
)

// run is one Session under test and what it was handed.
type run struct {
	t          *testing.T
	s          *mqttsession.Session
	logs       *logtest.Buffer
	received   chan mqtt.Message // what the Handler got
	subscribed chan struct{}     // a token per OnSubscribed call
}

// start runs a session on url, subscribed to inFilter at QoS 1, with
// "offline" on stateTopic as its will, after edit adjusted its options. It
// is closed when the test ends.
func start(t *testing.T, url string, edit func(*mqttsession.Options)) *run {
	t.Helper()
	r := &run{t: t, logs: &logtest.Buffer{}, received: make(chan mqtt.Message, 16), subscribed: make(chan struct{}, 16)}
	o := mqttsession.Options{
		URL: url, ClientID: "session-under-test",
		Will:          mqttsession.Will{Topic: stateTopic, Payload: []byte("offline")},
		Subscriptions: map[string]byte{inFilter: 1},
		Handler: func(m mqtt.Message) {
			m.Ack()
			r.received <- m
		},
		OnSubscribed: func() { r.subscribed <- struct{}{} },
		ConnectRetry: 20 * time.Millisecond,
		Log:          zerolog.New(r.logs),
	}
	if edit != nil {
		edit(&o)
	}
	s, err := mqttsession.New(o)
	if err != nil {
		t.Fatal(err)
	}
	r.s = s
	s.Start()
	t.Cleanup(func() {
		s.Close()
		if t.Failed() {
			t.Logf("session log:\n%s", r.logs.String())
		}
	})
	return r
}

// ready waits for the session to have connected and subscribed.
func (r *run) ready() {
	r.t.Helper()
	select {
	case <-r.s.Ready():
	case <-time.After(mqtttest.Wait):
		r.t.Fatal("the session did not connect and subscribe")
	}
}

// waitSubscribed waits for the next OnSubscribed call.
func (r *run) waitSubscribed() {
	r.t.Helper()
	select {
	case <-r.subscribed:
	case <-time.After(mqtttest.Wait):
		r.t.Fatal("the session did not subscribe")
	}
}

// logLine is what the tests read of a JSON log line.
type logLine struct {
	Level   string `json:"level"`
	Message string `json:"message"`
	Reason  string `json:"reason"`
	Broker  string `json:"broker"`
}

// waitFailure waits for the warning of a failed connection attempt whose
// reason starts with reason.
func (r *run) waitFailure(reason string) logLine {
	r.t.Helper()
	var got logLine
	_, ok := r.logs.Wait(mqtttest.Wait, func(line string) bool {
		var l logLine
		if json.Unmarshal([]byte(line), &l) != nil || l.Level != "warn" || !strings.HasPrefix(l.Message, "not connected to the MQTT broker") {
			return false
		}
		got = l
		return strings.HasPrefix(l.Reason, reason)
	})
	if !ok {
		r.t.Fatalf("no warning of a failed connection with reason %q; last seen: %+v", reason, got)
	}
	return got
}

// roundTrip checks that a message published to the session's filter
// reaches its Handler, and that what it publishes reaches the broker.
func (r *run) roundTrip(client *mqtttest.Client, text string) {
	r.t.Helper()
	out := client.Subscribe("test/out")
	client.Publish("test/in/a", text)
	select {
	case m := <-r.received:
		if m.Topic() != "test/in/a" || string(m.Payload()) != text {
			r.t.Errorf("Handler got %s %q, want test/in/a %q", m.Topic(), m.Payload(), text)
		}
	case <-time.After(mqtttest.Wait):
		r.t.Fatal("the Handler got nothing")
	}
	ctx, cancel := context.WithTimeout(context.Background(), mqtttest.Wait)
	defer cancel()
	if err := r.s.PublishAcked(ctx, "test/out", []byte(text)); err != nil {
		r.t.Fatalf("PublishAcked: %v", err)
	}
	if m := mqtttest.Next(r.t, out); string(m.Payload) != text {
		r.t.Errorf("broker passed on %q, want %q", m.Payload, text)
	}
}

// The Handler gets what is published on the subscribed filters, OnSubscribed
// runs before Ready closes, Publish reaches the broker, and Close says the
// will's "offline", retained, before it disconnects.
func TestSessionSubscribesPublishesAndSaysGoodbye(t *testing.T) {
	broker := mqtttest.Start(t)
	client := broker.Connect(t)
	r := start(t, broker.URL, nil)
	r.ready()
	select {
	case <-r.subscribed:
	default:
		t.Fatal("Ready closed before OnSubscribed ran")
	}
	if err := r.s.Check(); err != nil || !r.s.Connected() {
		t.Fatalf("once ready: Check = %v, Connected = %v; want nil, true", err, r.s.Connected())
	}
	r.roundTrip(client, "hello")
	if tok := r.s.Publish(stateTopic, true, []byte("online")); !tok.WaitTimeout(mqtttest.Wait) || tok.Error() != nil {
		t.Fatalf("Publish: %v", tok.Error())
	}

	states := client.Subscribe(stateTopic)
	if m := mqtttest.Next(t, states); string(m.Payload) != "online" || !m.Retained {
		t.Fatalf("state before Close: %q (retained %v), want the retained online", m.Payload, m.Retained)
	}
	r.s.Close()
	// The test client may see the retained "online" again: it subscribes
	// anew when its own connection's OnConnect runs late.
	mqtttest.Until(t, states, func(m mqtttest.Message) bool { return string(m.Payload) == "offline" })
	if r.s.Connected() {
		t.Error("Connected after Close")
	}
	select {
	case <-r.s.Stopping():
	default:
		t.Error("Stopping is not closed after Close")
	}
}

// Once the shutdown began, a publication made while not connected fails at
// once with ErrShuttingDown rather than waiting for a broker that is gone.
func TestPublishWhileDisconnectedAfterStop(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "tcp://" + l.Addr().String()
	l.Close() // nothing listens there now
	r := start(t, url, nil)
	r.waitFailure("connection refused")
	// Before Stop, PublishAcked waits for the broker until its ctx ends.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.s.PublishAcked(ctx, "test/out", []byte("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("PublishAcked with its ctx ended, not connected: %v, want context.Canceled", err)
	}
	r.s.Stop()
	if tok := r.s.Publish("test/out", false, []byte("x")); !tok.WaitTimeout(mqtttest.Wait) || !errors.Is(tok.Error(), mqttsession.ErrShuttingDown) {
		t.Errorf("Publish after Stop: %v, want ErrShuttingDown", tok.Error())
	}
	if err := r.s.PublishAcked(context.Background(), "test/out", []byte("x")); !errors.Is(err, mqttsession.ErrShuttingDown) {
		t.Errorf("PublishAcked after Stop: %v, want ErrShuttingDown", err)
	}
}

// Subscriptions without a Handler would lose every message: New refuses.
func TestNewWantsAHandler(t *testing.T) {
	_, err := mqttsession.New(mqttsession.Options{URL: "tcp://127.0.0.1:1883", ClientID: "x", Subscriptions: map[string]byte{"a": 1}})
	if err == nil || !strings.Contains(err.Error(), "Handler") {
		t.Fatalf("New = %v, want an error naming the Handler", err)
	}
}

// A wrong password, the most common mistake with the Home Assistant
// Mosquitto add-on, is named in the log and by Check; the session keeps
// trying, and connects once the broker knows the user.
func TestRefusedPasswordIsVisibleAndRetried(t *testing.T) {
	const wrong = "wrongMQTTpassword9999SECRET"
	broker := mqtttest.Start(t, mqtttest.WithUser("bridge", "the-right-one"))
	r := start(t, broker.URL, func(o *mqttsession.Options) {
		o.Username, o.Password = "bridge", config.NewSecret(wrong)
	})

	// Mosquitto and mochi both answer a bad password with MQTT 3.1.1's
	// "not authorised" (return code 5).
	l := r.waitFailure("not authorised")
	if l.Broker != broker.URL {
		t.Errorf("warning names broker %q, want %q", l.Broker, broker.URL)
	}
	err := r.s.Check()
	if want := "MQTT: not connected to " + broker.URL + ": not authorised (the broker refused user \"bridge\""; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Check = %v, want it to contain %q", err, want)
	}
	if strings.Contains(r.logs.String(), wrong) || err != nil && strings.Contains(err.Error(), wrong) {
		t.Fatal("the password appears in the log or the readiness reason")
	}

	// The add-on creates the user after the bridge started.
	broker.SetUser("bridge", wrong)
	broker.Restart()
	r.ready()
	if err := r.s.Check(); err != nil {
		t.Errorf("Check once connected = %v, want nil", err)
	}
}

// A broker certificate the session cannot verify is a TLS failure, said as
// such; with a CAFile the same broker works, over the session's own TLS
// dialing.
func TestTLSBroker(t *testing.T) {
	broker := mqtttest.Start(t, mqtttest.WithTLS())

	t.Run("unknown authority", func(t *testing.T) {
		r := start(t, broker.URL, nil)
		r.waitFailure("TLS failure: certificate signed by unknown authority")
		if err := r.s.Check(); err == nil || !strings.Contains(err.Error(), "TLS failure") {
			t.Errorf("Check = %v, want the TLS failure", err)
		}
	})
	t.Run("with CAFile", func(t *testing.T) {
		r := start(t, broker.URL, func(o *mqttsession.Options) { o.CAFile = broker.CAFile })
		r.ready()
		r.roundTrip(broker.Connect(t), "over TLS")
	})
}

// A broker that goes away is a lost connection, then refused attempts; the
// session subscribes again once it is back.
func TestStoppedBrokerIsConnectionRefused(t *testing.T) {
	broker := mqtttest.Start(t)
	r := start(t, broker.URL, nil)
	r.ready()
	r.waitSubscribed()
	r.roundTrip(broker.Connect(t), "before the stop")

	broker.Stop()
	r.waitFailure("connection refused")
	if err := r.s.Check(); err == nil || !strings.Contains(err.Error(), "not connected to "+broker.URL+": connection refused") {
		t.Errorf("Check = %v, want connection refused", err)
	}
	broker.Restart()
	if _, ok := r.logs.Wait(mqtttest.Wait, func(l string) bool {
		return strings.Contains(l, `"failed_attempts"`) && strings.Contains(l, "connected to the MQTT broker\"")
	}); !ok {
		t.Fatal("no log line of the reconnection with the failed attempts it took")
	}
	r.waitSubscribed() // back and subscribed
	if err := r.s.Check(); err != nil {
		t.Errorf("Check once back = %v, want nil", err)
	}
	r.roundTrip(broker.Connect(t), "after the restart")
}

// MQTT over websockets keeps paho's own dialing, and works.
func TestWebsocketBroker(t *testing.T) {
	broker := mqtttest.Start(t, mqtttest.WithWebsocket())
	r := start(t, broker.URL, nil)
	r.ready()
	r.roundTrip(broker.Connect(t), "over websockets")
}
