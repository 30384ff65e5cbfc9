package service

import (
	"time"

	"github.com/messenger-bridge/messenger-bridge/config"
	"github.com/messenger-bridge/messenger-bridge/delivery"
)

// Option changes what New builds. Production passes none but WithVersion;
// the others are for tests, which must control time and cannot wait for
// the production delays.
type Option func(*options)

type options struct {
	version        string
	delivery       delivery.Options
	clock          delivery.Clock
	discoveryDelay time.Duration
	discoveryAfter func(time.Duration) <-chan time.Time
	connectRetry   time.Duration
	skipPage       bool
}

func newOptions(opts []Option) options {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithVersion is the version the service announces in its log, on
// bridge/info and in Home Assistant's device; without it, none.
func WithVersion(v string) Option { return func(o *options) { o.version = v } }

// WithDelivery tunes delivery's retries, probes and drain, as
// delivery.Options says; its zero fields keep their defaults. TTL is always
// MESSAGE_TTL, and the clock WithDeliveryClock's.
func WithDelivery(d delivery.Options) Option { return func(o *options) { o.delivery = d } }

// WithDeliveryClock times delivery (its retries, probes and expiry) and the
// Messenger's waits (a retried attachment upload) with c instead of the
// system's clock.
func WithDeliveryClock(c delivery.Clock) Option { return func(o *options) { o.clock = c } }

// WithDiscovery sets bridge.Deps' DiscoveryDelay and DiscoveryAfter: the
// bound of the random wait before discovery is republished for a Home
// Assistant that came online (0: the bridge's default) and, when after is
// not nil, what waits it.
func WithDiscovery(delay time.Duration, after func(time.Duration) <-chan time.Time) Option {
	return func(o *options) { o.discoveryDelay, o.discoveryAfter = delay, after }
}

// WithConnectRetry is the wait between attempts at the first connection to
// the broker and at subscribing; 0 is the bridge's default.
func WithConnectRetry(d time.Duration) Option { return func(o *options) { o.connectRetry = d } }

// WithoutPageRead starts the service without asking Graph for its page, as
// when Graph cannot be reached at start: the page is unknown and the
// token's state too, until the token watch asks.
func WithoutPageRead() Option { return func(o *options) { o.skipPage = true } }

// deliveryOptions are the dispatcher's options for cfg.
func (o options) deliveryOptions(cfg *config.Config) delivery.Options {
	d := o.delivery
	d.TTL = cfg.MessageTTL
	if o.clock != nil {
		d.Clock = o.clock
	}
	return d
}

// messenger is what the options add to the Messenger's.
func (o options) messenger() []delivery.MessengerOption {
	if o.clock == nil {
		return nil
	}
	return []delivery.MessengerOption{delivery.WithClock(o.clock)}
}
