// Package mqttsession owns the connection to the MQTT broker, as the one
// owner of the paho client: it connects and reconnects with a persistent
// session, subscribes on every connection, publishes with QoS 1 without
// racing paho's resume, and logs every failed connection attempt with its
// reason in plain words. It knows no topic beyond those it is given.
package mqttsession

import (
	"context"
	"errors"
	"maps"
	"net/url"
	"slices"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/rs/zerolog"

	"github.com/messenger-bridge/messenger-bridge/config"
)

// closeWait bounds how long Close waits for the broker to take the will's
// payload before it disconnects.
const closeWait = 2 * time.Second

// Will is the message the broker publishes, retained and with QoS 1, when
// the connection drops without a clean disconnection; Close publishes it
// itself before disconnecting.
type Will struct {
	Topic   string // "" for no will
	Payload []byte
}

// Options configure a Session. The hints in its logs and errors name the
// MQTT_* variables these fields are read from.
type Options struct {
	URL      string // MQTT_URL: tcp, mqtt, ssl, tls, mqtts, ws or wss
	ClientID string // the broker keeps the persistent session under it
	Username string
	Password config.Secret // sent to the broker only, never logged
	// CAFile, CertFile and KeyFile are PEM files: the authority that signed
	// the broker's certificate, and the client's own certificate and key.
	CAFile, CertFile, KeyFile string
	Insecure                  bool // do not verify the broker's certificate; logged loudly
	Will                      Will
	// Subscriptions maps each topic filter to its QoS; the session
	// subscribes to them on every connection.
	Subscriptions map[string]byte
	// Handler receives every message, from paho's goroutine, in order. It
	// must not block, and it acknowledges each message (Ack) once it has
	// kept it: acknowledgement is manual. It is set before the session
	// connects, so it also gets what a persistent session delivers before
	// any subscription is made. Required when Subscriptions is not empty.
	Handler func(mqtt.Message)
	// OnSubscribed, when set, is called after each successful subscription,
	// on every connection, on a goroutine Close waits for.
	OnSubscribed func()
	// ConnectRetry is the wait between attempts at the first connection and
	// at subscribing; 0 means 5 s.
	ConnectRetry time.Duration
	Log          zerolog.Logger
}

func (o Options) connectRetry() time.Duration {
	if o.ConnectRetry > 0 {
		return o.ConnectRetry
	}
	return connectRetryInterval
}

// Session is the connection to one broker. Create it with New, call Start
// once, and Close at the end. Its methods are safe for concurrent use.
type Session struct {
	opts   Options
	log    zerolog.Logger
	client mqtt.Client
	gate   *resumeGate
	conn   *connWatch
	ready  chan struct{} // closed on the first subscription
	once   sync.Once

	// Work started by paho's callbacks and by Go, waited for by Close.
	bgMu   sync.Mutex
	bg     sync.WaitGroup
	closed bool // guarded by bgMu: no new background work
}

// New returns a Session for o. It does not connect. It fails when the TLS
// files cannot be read, or when o has subscriptions but no Handler.
func New(o Options) (*Session, error) {
	if len(o.Subscriptions) > 0 && o.Handler == nil {
		return nil, errors.New("mqttsession: Options.Handler is nil, so the subscribed messages would be lost")
	}
	o.Subscriptions = maps.Clone(o.Subscriptions)
	s := &Session{
		opts: o, log: o.Log,
		gate:  newResumeGate(),
		conn:  newConnWatch(o.Log, o.URL, o.Username),
		ready: make(chan struct{}),
	}
	opts, err := clientOptions(o)
	if err != nil {
		return nil, err
	}
	// The default handler is set before Connect: a persistent session may
	// deliver queued messages before any Subscribe call returns.
	if o.Handler != nil {
		opts.SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) { o.Handler(m) })
	}
	opts.SetOnConnectHandler(s.onConnect)
	opts.SetConnectionLostHandler(func(_ mqtt.Client, err error) { s.conn.lost(err) })
	opts.SetConnectionNotificationHandler(s.conn.notify)
	opts.SetReconnectingHandler(func(mqtt.Client, *mqtt.ClientOptions) {
		s.gate.reconnecting()
		s.log.Info().Msg("reconnecting to the MQTT broker")
	})
	opts.SetStore(s.gate)
	s.client = mqtt.NewClient(opts)
	s.gate.isOpen = s.client.IsConnectionOpen
	return s, nil
}

// Start connects in the background and returns at once; paho retries until
// it is connected, and reconnects whenever the connection drops. Each
// failed attempt is logged, and Check says why. Call it once.
func (s *Session) Start() {
	if s.opts.Insecure {
		s.log.Warn().Msg("MQTT_INSECURE is set: the broker's TLS certificate is NOT verified")
	}
	s.log.Info().Str("broker", BrokerHost(s.opts.URL)).Str("client_id", s.opts.ClientID).Msg("connecting to the MQTT broker")
	s.client.Connect() // with ConnectRetry it completes only once connected; onConnect does the rest
}

// Connected reports whether the connection is up right now (not merely
// being re-established, when paho's IsConnected is true too).
func (s *Session) Connected() bool { return s.client.IsConnectionOpen() }

// Ready is closed once the session first connected and subscribed.
func (s *Session) Ready() <-chan struct{} { return s.ready }

// Check returns nil while the session is connected to the broker and has
// subscribed since it first connected, and otherwise an error saying why
// in plain words, such as "MQTT: not connected to tcp://broker:1883: not
// authorised (…); retrying". It is quick, safe for concurrent use, and
// holds no secret: a health.Check.
func (s *Session) Check() error {
	select {
	case <-s.ready:
		if s.client.IsConnectionOpen() {
			return nil
		}
	default:
	}
	if why := s.conn.why(); why != "" {
		return errors.New("MQTT: " + why)
	}
	if s.client.IsConnectionOpen() {
		return errors.New("MQTT: connected to " + s.conn.broker + "; subscribing")
	}
	return errors.New("MQTT: connecting to " + s.conn.broker)
}

// Stop begins the shutdown without disconnecting: from now on a
// publication made while not connected fails at once with ErrShuttingDown
// instead of waiting, and the retries of a refused subscription end. It
// may be called any number of times, from any goroutine.
func (s *Session) Stop() { s.gate.stop() }

// Stopping is closed once Stop or Close was called, for work that should
// end with the session.
func (s *Session) Stopping() <-chan struct{} { return s.gate.stopped }

// Close stops the session: it publishes the will's payload while the
// connection is open (waiting up to 2 s for the broker to take it), so
// that subscribers learn at once the client went away on purpose, then
// disconnects, and returns once the work started by the session and by Go
// has ended. Messages not yet acknowledged by the broker are lost with the
// process. Call it after Start; calling it again only waits again.
func (s *Session) Close() {
	s.Stop()
	if s.opts.Will.Topic != "" && s.client.IsConnectionOpen() {
		s.Publish(s.opts.Will.Topic, true, s.opts.Will.Payload).WaitTimeout(closeWait)
	}
	s.client.Disconnect(250)
	s.bgMu.Lock()
	s.closed = true
	s.bgMu.Unlock()
	s.bg.Wait()
}

// Go runs f on a goroutine that Close waits for, unless Close is already
// finishing; then f is not run. f should return soon after Stopping is
// closed.
func (s *Session) Go(f func()) {
	s.bgMu.Lock()
	defer s.bgMu.Unlock()
	if !s.closed {
		s.bg.Go(f)
	}
}

// Publish sends payload on topic with QoS 1. It blocks while the session
// is not connected, until a connection is up and paho has resumed it (see
// resumeGate), or until Stop; then it hands the message to paho, which
// keeps it until the broker has it, across reconnections: results and
// states are never lost to a reconnect. A failure is logged; the token
// reports it too, and ErrShuttingDown for a publication the shutdown kept
// from starting.
func (s *Session) Publish(topic string, retained bool, payload []byte) mqtt.Token {
	if !s.gate.wait(nil) {
		s.log.Warn().Str("topic", topic).Msg(ErrShuttingDown.Error())
		return newRefusedToken()
	}
	t := s.client.Publish(topic, 1, retained, payload)
	go func() {
		if t.WaitTimeout(time.Minute) && t.Error() != nil {
			s.log.Warn().Err(t.Error()).Str("topic", topic).Msg("cannot publish")
		}
	}()
	return t
}

// PublishAcked publishes payload on topic with QoS 1, not retained, and
// returns once the broker has acknowledged it, or with ctx's error. While
// the broker is away it waits for it, until ctx ends or Stop; it returns
// ErrShuttingDown when the shutdown began while not connected.
func (s *Session) PublishAcked(ctx context.Context, topic string, payload []byte) error {
	if !s.gate.wait(ctx.Done()) {
		if err := ctx.Err(); err != nil {
			return err
		}
		return ErrShuttingDown
	}
	t := s.client.Publish(topic, 1, false, payload)
	select {
	case <-t.Done():
		return t.Error()
	case <-ctx.Done():
		return ctx.Err()
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

// onConnect is paho's OnConnect handler, called on a goroutine of its own
// after each connection.
func (s *Session) onConnect(c mqtt.Client) {
	s.conn.connected()
	// Subscribing waits for the broker, so it runs off paho's goroutine.
	s.Go(func() {
		for c.IsConnectionOpen() {
			err := s.subscribe(c)
			if err == nil {
				s.conn.set("")
				if s.opts.OnSubscribed != nil {
					s.opts.OnSubscribed()
				}
				s.once.Do(func() { close(s.ready) })
				return
			}
			s.log.Error().Err(err).Strs("topics", slices.Sorted(maps.Keys(s.opts.Subscriptions))).
				Msg("cannot subscribe; trying again")
			s.conn.subscribeFailed(err)
			// A refusal (an ACL) would otherwise be asked again at once.
			if !s.pause(s.opts.connectRetry()) {
				return
			}
		}
	})
}

// pause waits for d, or until the shutdown begins; it reports whether to go
// on.
func (s *Session) pause(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.gate.stopped:
		return false
	}
}
