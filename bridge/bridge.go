// Package bridge is the MQTT side of messenger-bridge: it takes messages from
// the notify topics, stores them in the outbox before acknowledging them,
// hands them to delivery, and publishes results, state and discovery.
package bridge

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/rs/zerolog"

	"github.com/messenger-bridge/messenger-bridge/config"
	"github.com/messenger-bridge/messenger-bridge/delivery"
	"github.com/messenger-bridge/messenger-bridge/fifo"
	"github.com/messenger-bridge/messenger-bridge/graph"
	"github.com/messenger-bridge/messenger-bridge/metrics"
	"github.com/messenger-bridge/messenger-bridge/outbox"
	"github.com/messenger-bridge/messenger-bridge/reach"
	"github.com/messenger-bridge/messenger-bridge/receive"
	"github.com/messenger-bridge/messenger-bridge/topics"
)

// subscribeQoS is the QoS of every subscription: at least once, so that a
// message sent while the bridge is away waits in its persistent session.
const subscribeQoS = 1

// intakeBatch is how many messages share one outbox transaction at most.
const intakeBatch = 256

// Deps are the parts a Bridge works with, built by main.
type Deps struct {
	Outbox *outbox.Outbox
	Sender delivery.Sender
	// Received, when set, is the Store of what the household sent to the
	// Page: the bridge publishes it on the received topics.
	Received *receive.Store
	// Reach is what the Sender learns of people's windows and of the page,
	// published on the person topics and the "Page restricted" sensor; nil
	// publishes a Tracker nobody writes to.
	Reach   *reach.Tracker
	Page    graph.Page // zero when the page could not be read at start
	Version string
	// Token is the page token's state as known at start.
	Token TokenState
	// Delivery tunes retries, expiry and the drain on shutdown.
	Delivery delivery.Options
	// Metrics, when set, counts messages and results.
	Metrics *metrics.Metrics
	// DiscoveryDelay bounds the random wait before discovery is republished
	// for a Home Assistant that came online; 0 means 3 s.
	DiscoveryDelay time.Duration
	// DiscoveryAfter, when set, replaces time.After for that wait, so that a
	// test can hold the republish and release it.
	DiscoveryAfter func(time.Duration) <-chan time.Time
	// ConnectRetry is the wait between attempts at the first connection and
	// at subscribing; 0 means 5 s.
	ConnectRetry time.Duration
}

// Bridge connects MQTT to delivery. Create it with New and call Run once.
type Bridge struct {
	cfg    *config.Config
	deps   Deps
	topics topics.Tree
	log    zerolog.Logger

	client     mqtt.Client
	inbox      *fifo.Queue[inbound]
	results    *fifo.Queue[delivery.Outcome] // to publish
	acks       *fifo.Queue[pendingAck]       // published, in order, waiting for the broker
	inFlight   chan struct{}                 // a place per result in acks; see resultsInFlight
	dispatcher *delivery.Dispatcher
	state      *status
	gate       *resumeGate
	conn       *connWatch
	cleared    refusedRetained // used by intake only
	connected  chan struct{}   // closed on the first connection

	once sync.Once

	// Work started by paho's callbacks and timers, waited for by Run.
	bgMu    sync.Mutex
	bg      sync.WaitGroup
	stopped bool // guarded by bgMu: no new background work
}

// inbound is an MQTT message waiting to be stored and acknowledged.
type inbound struct {
	msg mqtt.Message
	at  time.Time
}

// New returns a Bridge for cfg. It does not connect.
func New(cfg *config.Config, deps Deps, log zerolog.Logger) (*Bridge, error) {
	b := &Bridge{
		cfg: cfg, deps: deps, log: log,
		topics:    topics.Tree{Base: cfg.BaseTopic, DiscoveryPrefix: cfg.DiscoveryPrefix},
		inbox:     fifo.New[inbound](),
		results:   fifo.New[delivery.Outcome](),
		acks:      fifo.New[pendingAck](),
		inFlight:  make(chan struct{}, resultsInFlight),
		gate:      newResumeGate(),
		conn:      newConnWatch(log, cfg.MQTTURL, cfg.MQTTUsername),
		cleared:   make(refusedRetained),
		connected: make(chan struct{}),
	}
	if b.deps.Reach == nil {
		b.deps.Reach = reach.New(nil)
	}
	b.state = newStatus(b, deps.Token, b.deps.Reach)
	if deps.Metrics != nil && deps.Delivery.Observer == nil {
		deps.Delivery.Observer = deps.Metrics
	}
	b.dispatcher = delivery.New(deps.Sender, b, deps.Outbox, deps.Delivery, log)
	opts, err := clientOptions(cfg, b.topics)
	if err != nil {
		return nil, err
	}
	opts.SetConnectRetryInterval(b.connectRetry())
	// The default handler is set before Connect: a persistent session may
	// deliver queued messages before any Subscribe call returns.
	opts.SetDefaultPublishHandler(b.receive)
	opts.SetOnConnectHandler(b.onConnect)
	opts.SetConnectionLostHandler(func(_ mqtt.Client, err error) { b.conn.lost(err) })
	opts.SetConnectionNotificationHandler(b.conn.notify)
	opts.SetReconnectingHandler(func(mqtt.Client, *mqtt.ClientOptions) {
		b.gate.reconnecting()
		b.log.Info().Msg("reconnecting to the MQTT broker")
	})
	opts.SetStore(b.gate)
	b.client = mqtt.NewClient(opts)
	b.gate.isOpen = b.client.IsConnectionOpen
	return b, nil
}

// Connected reports whether the MQTT connection is up right now (not merely
// being re-established).
func (b *Bridge) Connected() bool { return b.client.IsConnectionOpen() }

// Ready is closed once the bridge first connected and subscribed.
func (b *Bridge) Ready() <-chan struct{} { return b.connected }

// BrokerReady returns nil while the bridge is connected to the broker and
// has subscribed since it first connected, and otherwise an error saying
// why in plain words, such as "MQTT: not connected to tcp://broker:1883:
// not authorised (…); retrying". It is quick, safe for concurrent use, and
// holds no secret: a health.Check.
func (b *Bridge) BrokerReady() error {
	select {
	case <-b.connected:
		if b.client.IsConnectionOpen() {
			return nil
		}
	default:
	}
	if why := b.conn.why(); why != "" {
		return errors.New("MQTT: " + why)
	}
	if b.client.IsConnectionOpen() {
		return errors.New("MQTT: connected to " + b.conn.broker + "; subscribing")
	}
	return errors.New("MQTT: connecting to " + b.conn.broker)
}

func (b *Bridge) connectRetry() time.Duration {
	if b.deps.ConnectRetry > 0 {
		return b.deps.ConnectRetry
	}
	return connectRetryInterval
}

// Run serves until ctx ends, then stops taking messages, lets deliveries in
// flight finish (bounded by delivery.Options.Drain), marks the bridge offline
// and disconnects. Messages not yet delivered stay in the outbox.
func (b *Bridge) Run(ctx context.Context) error {
	stopGate := context.AfterFunc(ctx, b.gate.stop)
	defer stopGate()
	if d := b.deps.Outbox.Damage(); d != nil {
		b.log.Error().Str("moved_to", d.MovedTo).Int("salvaged", d.Salvaged).Int("lost", d.Lost).Msg(d.String())
	}
	b.republish()
	pending, err := b.deps.Outbox.Pending()
	if len(pending) > 0 {
		b.log.Info().Int("messages", len(pending)).Msg("resuming messages left in the outbox")
		b.dispatcher.Enqueue(pending...)
	}
	if err != nil {
		b.log.Error().Err(err).Msg("some outbox entries could not be read and are skipped")
	}

	if b.cfg.Insecure {
		b.log.Warn().Msg("MQTT_INSECURE is set: the broker's TLS certificate is NOT verified")
	}
	b.log.Info().Str("broker", BrokerHost(b.cfg.MQTTURL)).Str("client_id", b.cfg.MQTTClientID).Msg("connecting to the MQTT broker")
	b.client.Connect() // with ConnectRetry it completes only once connected; onConnect does the rest

	// Results are published until delivery and intake have finished, and
	// then awaited for a moment.
	pubCtx, endResults := context.WithCancel(context.WithoutCancel(ctx))
	defer endResults()
	var results sync.WaitGroup
	results.Go(func() { b.publishResults(pubCtx) })
	ackCtx, stopAcks := context.WithCancel(context.Background())
	defer stopAcks()
	acked := make(chan struct{})
	go func() { b.awaitAcks(ackCtx); close(acked) }()

	var wg sync.WaitGroup
	wg.Go(func() { b.dispatcher.Run(ctx) })
	wg.Go(func() { b.intake(ctx) })
	wg.Go(func() { b.state.run(ctx) })
	if b.deps.Received != nil {
		relay := receive.NewRelay(receive.RelayConfig{
			Store: b.deps.Received, Household: b.cfg.Household, Topics: b.topics, Publisher: b,
			PageID: b.deps.Page.ID, Opener: b.deps.Reach, Log: b.log,
		})
		wg.Go(func() { relay.Run(ctx) })
	}
	<-ctx.Done()
	b.log.Info().Msg("shutting down: finishing deliveries in flight")
	wg.Wait()
	endResults()
	results.Wait()
	select {
	case <-acked:
	case <-time.After(ackWait):
		stopAcks()
		<-acked
	}

	if b.client.IsConnectionOpen() {
		b.publish(b.topics.State(), true, []byte(topics.Offline)).WaitTimeout(2 * time.Second)
	}
	b.client.Disconnect(250)
	b.bgMu.Lock()
	b.stopped = true
	b.bgMu.Unlock()
	b.bg.Wait() // nothing writes to DATA_DIR once Run returns
	b.log.Info().Int("left_in_outbox", b.deps.Outbox.Len()).Msg("stopped")
	return nil
}

// receive is paho's handler for every message. It must not block.
func (b *Bridge) receive(_ mqtt.Client, m mqtt.Message) {
	if b.cfg.Discovery && m.Topic() == b.topics.HomeAssistantStatus() {
		m.Ack()
		if string(m.Payload()) == topics.Online {
			b.state.homeAssistantOnline()
		}
		return
	}
	b.inbox.Push(inbound{msg: m, at: time.Now()})
}

func (b *Bridge) onConnect(c mqtt.Client) {
	b.conn.connected()
	subs := map[string]byte{
		b.topics.NotifyAny(): subscribeQoS,
		b.topics.Notify("+"): subscribeQoS,
	}
	if b.cfg.Discovery {
		subs[b.topics.HomeAssistantStatus()] = subscribeQoS
	}
	// Subscribing waits for the broker, so it runs off paho's goroutine.
	b.background(func() {
		for c.IsConnectionOpen() {
			err := b.subscribe(c, subs)
			if err == nil {
				b.conn.set("")
				b.state.connected()
				b.once.Do(func() { close(b.connected) })
				return
			}
			b.log.Error().Err(err).Msg("cannot subscribe to the notify topics; trying again")
			b.conn.subscribeFailed(err)
			// A refusal (an ACL) would otherwise be asked again at once.
			if !b.pause(b.connectRetry()) {
				return
			}
		}
	})
}

// background runs f in a goroutine that Run waits for, unless Run is
// already finishing.
func (b *Bridge) background(f func()) {
	b.bgMu.Lock()
	defer b.bgMu.Unlock()
	if !b.stopped {
		b.bg.Go(f)
	}
}

// pause waits for d, or until shutdown begins; it reports whether to go on.
func (b *Bridge) pause(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-b.gate.stopped:
		return false
	}
}

// BrokerHost returns the scheme and host of a broker URL, which are safe to
// show: the path or query of a ws:// URL may carry a token. It returns ""
// for a URL without a host.
func BrokerHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

var errNoSuback = errors.New("the broker did not confirm the subscription in time")

// subQoSFailure is the SUBACK return code of a refused subscription (MQTT
// 3.1.1 section 3.9.3); paho reports it in the token's Result, not Error.
const subQoSFailure = 0x80

// subscribe subscribes to subs and checks what the broker granted.
func (b *Bridge) subscribe(c mqtt.Client, subs map[string]byte) error {
	t := c.SubscribeMultiple(subs, nil)
	if !t.WaitTimeout(connectTimeout) {
		return errNoSuback
	}
	if err := t.Error(); err != nil {
		return err
	}
	st, ok := t.(*mqtt.SubscribeToken)
	if !ok {
		return nil
	}
	for topic, granted := range st.Result() {
		switch {
		case granted == subQoSFailure:
			return fmt.Errorf("the broker refused the subscription to %s (check its ACL for user %q)", topic, b.cfg.MQTTUsername)
		case granted < subscribeQoS:
			b.log.Warn().Str("topic", topic).Uint8("qos", granted).
				Msg("the broker granted less than QoS 1: messages sent while the bridge is away may be lost")
		}
	}
	return nil
}

// publish sends a message with QoS 1. Results and states are never lost to a
// reconnect: paho keeps QoS 1 messages until the broker has them.
func (b *Bridge) publish(topic string, retained bool, payload []byte) mqtt.Token {
	if !b.gate.wait() {
		b.log.Warn().Str("topic", topic).Msg(errShuttingDown.Error())
		return newRefusedToken()
	}
	t := b.client.Publish(topic, 1, retained, payload)
	go func() {
		if t.WaitTimeout(time.Minute) && t.Error() != nil {
			b.log.Warn().Err(t.Error()).Str("topic", topic).Msg("cannot publish")
		}
	}()
	return t
}

// PublishAcked publishes payload on topic with QoS 1, not retained, and
// returns once the broker has acknowledged it, or with ctx's error. While
// the broker is away it waits for it. It implements receive.Publisher.
func (b *Bridge) PublishAcked(ctx context.Context, topic string, payload []byte) error {
	if !b.gate.wait() {
		return errShuttingDown
	}
	t := b.client.Publish(topic, 1, false, payload)
	select {
	case <-t.Done():
		return t.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ack acknowledges messages to the broker once they are stored or answered.
func ack(in []inbound) {
	for _, m := range in {
		m.msg.Ack()
	}
}
