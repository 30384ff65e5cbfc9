// Package bridge is the MQTT side of messenger-bridge: it takes messages from
// the notify topics, stores them in the outbox before acknowledging them,
// hands them to delivery, and publishes results, state and discovery.
package bridge

import (
	"context"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/rs/zerolog"

	"github.com/messenger-bridge/messenger-bridge/config"
	"github.com/messenger-bridge/messenger-bridge/delivery"
	"github.com/messenger-bridge/messenger-bridge/fifo"
	"github.com/messenger-bridge/messenger-bridge/graph"
	"github.com/messenger-bridge/messenger-bridge/metrics"
	"github.com/messenger-bridge/messenger-bridge/mqttsession"
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

	session    *mqttsession.Session // the one owner of the broker connection
	inbox      *fifo.Queue[inbound]
	results    *fifo.Queue[delivery.Outcome] // to publish
	acks       *fifo.Queue[pendingAck]       // published, in order, waiting for the broker
	inFlight   chan struct{}                 // a place per result in acks; see resultsInFlight
	dispatcher *delivery.Dispatcher
	state      *status
	cleared    refusedRetained // used by intake only
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
		topics:   topics.Tree{Base: cfg.BaseTopic, DiscoveryPrefix: cfg.DiscoveryPrefix},
		inbox:    fifo.New[inbound](),
		results:  fifo.New[delivery.Outcome](),
		acks:     fifo.New[pendingAck](),
		inFlight: make(chan struct{}, resultsInFlight),
		cleared:  make(refusedRetained),
	}
	if b.deps.Reach == nil {
		b.deps.Reach = reach.New(nil)
	}
	b.state = newStatus(b, deps.Token, b.deps.Reach)
	if deps.Metrics != nil && deps.Delivery.Observer == nil {
		deps.Delivery.Observer = deps.Metrics
	}
	b.dispatcher = delivery.New(deps.Sender, b, deps.Outbox, deps.Delivery, log)
	session, err := mqttsession.New(b.sessionOptions())
	if err != nil {
		return nil, err
	}
	b.session = session
	return b, nil
}

// sessionOptions are the broker connection cfg asks for: the notify topics
// (and Home Assistant's status with discovery) subscribed at QoS 1, the
// state topic's "offline" as the will.
func (b *Bridge) sessionOptions() mqttsession.Options {
	subs := map[string]byte{
		b.topics.NotifyAny(): subscribeQoS,
		b.topics.Notify("+"): subscribeQoS,
	}
	if b.cfg.Discovery {
		subs[b.topics.HomeAssistantStatus()] = subscribeQoS
	}
	return mqttsession.Options{
		URL: b.cfg.MQTTURL, ClientID: b.cfg.MQTTClientID,
		Username: b.cfg.MQTTUsername, Password: b.cfg.MQTTPassword,
		CAFile: b.cfg.CAFile, CertFile: b.cfg.CertFile, KeyFile: b.cfg.KeyFile, Insecure: b.cfg.Insecure,
		Will:          mqttsession.Will{Topic: b.topics.State(), Payload: []byte(topics.Offline)},
		Subscriptions: subs,
		Handler:       b.receive,
		OnSubscribed:  b.state.connected,
		ConnectRetry:  b.deps.ConnectRetry,
		Log:           b.log,
	}
}

// Connected reports whether the MQTT connection is up right now (not merely
// being re-established).
func (b *Bridge) Connected() bool { return b.session.Connected() }

// Ready is closed once the bridge first connected and subscribed.
func (b *Bridge) Ready() <-chan struct{} { return b.session.Ready() }

// BrokerReady returns nil while the bridge is connected to the broker and
// has subscribed since it first connected, and otherwise an error saying
// why in plain words, such as "MQTT: not connected to tcp://broker:1883:
// not authorised (…); retrying". It is quick, safe for concurrent use, and
// holds no secret: a health.Check.
func (b *Bridge) BrokerReady() error { return b.session.Check() }

// Run serves until ctx ends, then stops taking messages, lets deliveries in
// flight finish (bounded by delivery.Options.Drain), marks the bridge offline
// and disconnects. Messages not yet delivered stay in the outbox.
func (b *Bridge) Run(ctx context.Context) error {
	stopSession := context.AfterFunc(ctx, b.session.Stop)
	defer stopSession()
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

	b.session.Start()

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

	b.session.Close() // says "offline"; nothing writes to DATA_DIR once Run returns
	b.log.Info().Int("left_in_outbox", b.deps.Outbox.Len()).Msg("stopped")
	return nil
}

// receive is the session's handler for every message. It must not block.
func (b *Bridge) receive(m mqtt.Message) {
	if b.cfg.Discovery && m.Topic() == b.topics.HomeAssistantStatus() {
		m.Ack()
		if string(m.Payload()) == topics.Online {
			b.state.homeAssistantOnline()
		}
		return
	}
	b.inbox.Push(inbound{msg: m, at: time.Now()})
}

// publish sends a message with QoS 1 through the session, which logs a
// failure. Results and states are never lost to a reconnect: paho keeps
// QoS 1 messages until the broker has them.
func (b *Bridge) publish(topic string, retained bool, payload []byte) mqtt.Token {
	return b.session.Publish(topic, retained, payload)
}

// PublishAcked publishes payload on topic with QoS 1, not retained, and
// returns once the broker has acknowledged it, or with ctx's error. While
// the broker is away it waits for it. It implements receive.Publisher.
func (b *Bridge) PublishAcked(ctx context.Context, topic string, payload []byte) error {
	return b.session.PublishAcked(ctx, topic, payload)
}

// ack acknowledges messages to the broker once they are stored or answered.
func ack(in []inbound) {
	for _, m := range in {
		m.msg.Ack()
	}
}
