package mqtttest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// Wait is how long a test waits for an expected message before failing.
const Wait = 20 * time.Second

// Message is a message a test client received.
type Message struct {
	Topic    string
	Payload  []byte
	Retained bool
}

// Client is an MQTT client for tests, as Home Assistant or Node-RED would be.
// Its subscriptions survive a broker restart: it subscribes again on every
// reconnection.
type Client struct {
	tb testing.TB
	c  mqtt.Client

	mu   sync.Mutex
	subs map[string]mqtt.MessageHandler
}

var clientSeq atomic.Int64

// Connect returns a connected client with a clean session, closed when the test ends.
func (b *Broker) Connect(tb testing.TB) *Client {
	tb.Helper()
	opts := mqtt.NewClientOptions().AddBroker(b.URL).
		SetClientID(fmt.Sprintf("test-%d", clientSeq.Add(1))).
		SetCleanSession(true).SetOrderMatters(true). // the handler only queues; order is what tests check
		SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(50 * time.Millisecond).
		SetMaxReconnectInterval(200 * time.Millisecond).
		// A connection attempt that reaches a broker while it stops never gets
		// its CONNACK; give up on it soon and try again.
		SetConnectTimeout(time.Second)
	if user, password := b.credentials(); user != "" {
		opts.SetUsername(user).SetPassword(password)
	}
	if t := b.ClientTLS(); t != nil {
		opts.SetTLSConfig(t)
	}
	cl := &Client{tb: tb, subs: make(map[string]mqtt.MessageHandler)}
	opts.SetOnConnectHandler(cl.resubscribe)
	cl.c = mqtt.NewClient(opts)
	if t := cl.c.Connect(); !t.WaitTimeout(Wait) || t.Error() != nil {
		tb.Fatalf("test client cannot connect to %s: %v", b.URL, t.Error())
	}
	tb.Cleanup(func() { cl.c.Disconnect(100) })
	return cl
}

func (c *Client) resubscribe(mc mqtt.Client) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for filter, h := range c.subs {
		mc.Subscribe(filter, 1, h) // not awaited: this runs on paho's goroutine
	}
}

// Subscribe returns a channel that receives every message matching filter,
// retained ones included, from the moment the subscription is confirmed.
func (c *Client) Subscribe(filter string) <-chan Message {
	c.tb.Helper()
	ch := make(chan Message, 100000)
	h := func(_ mqtt.Client, m mqtt.Message) {
		ch <- Message{Topic: m.Topic(), Payload: m.Payload(), Retained: m.Retained()}
	}
	c.mu.Lock()
	c.subs[filter] = h
	c.mu.Unlock()
	t := c.c.Subscribe(filter, 1, h)
	if !t.WaitTimeout(Wait) || t.Error() != nil {
		c.tb.Fatalf("subscribe %s: %v", filter, t.Error())
	}
	return ch
}

// Publish sends payload with QoS 1 and waits until the broker has it.
func (c *Client) Publish(topic string, payload string) {
	c.tb.Helper()
	c.publish(topic, payload, false)
}

// PublishRetained is Publish with the retain flag set.
func (c *Client) PublishRetained(topic string, payload string) {
	c.tb.Helper()
	c.publish(topic, payload, true)
}

func (c *Client) publish(topic, payload string, retained bool) {
	c.tb.Helper()
	t := c.c.Publish(topic, 1, retained, []byte(payload))
	if !t.WaitTimeout(Wait) || t.Error() != nil {
		c.tb.Fatalf("publish %s: %v", topic, t.Error())
	}
}

// Next returns the next message from ch, failing the test after Wait.
func Next(tb testing.TB, ch <-chan Message) Message {
	tb.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(Wait):
		tb.Fatalf("no MQTT message within %s", Wait)
		return Message{}
	}
}

// Until returns the first message from ch for which ok is true, failing the
// test after Wait; messages before it are skipped.
func Until(tb testing.TB, ch <-chan Message, ok func(Message) bool) Message {
	tb.Helper()
	deadline := time.After(Wait)
	for {
		select {
		case m := <-ch:
			if ok(m) {
				return m
			}
		case <-deadline:
			tb.Fatalf("no matching MQTT message within %s", Wait)
			return Message{}
		}
	}
}
