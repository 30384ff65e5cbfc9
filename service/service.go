// Package service builds the running messenger-bridge from its
// configuration and runs it: the one place its parts are wired together,
// for main and for the tests that run the service as main does.
package service

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/messenger-bridge/messenger-bridge/bridge"
	"github.com/messenger-bridge/messenger-bridge/config"
	"github.com/messenger-bridge/messenger-bridge/graph"
	"github.com/messenger-bridge/messenger-bridge/keepalive"
	"github.com/messenger-bridge/messenger-bridge/media"
	"github.com/messenger-bridge/messenger-bridge/metrics"
	"github.com/messenger-bridge/messenger-bridge/outbox"
	"github.com/messenger-bridge/messenger-bridge/pacer"
	"github.com/messenger-bridge/messenger-bridge/reach"
	"github.com/messenger-bridge/messenger-bridge/receive"
)

// startupTimeout bounds the Graph calls made before the bridge starts.
const startupTimeout = 15 * time.Second

// Service is the running messenger-bridge: the bridge between MQTT and
// Messenger, with the token watch, the check of the utility template at
// start, the keep-alive questions, the health and metrics server, and the
// poller or webhook of RECEIVE. Make it with New and call Run once.
type Service struct {
	cfg *config.Config
	log zerolog.Logger

	graph   *graph.Client
	pace    *pacer.Pacer // every Graph call takes its turn here
	box     *outbox.Outbox
	heard   *receive.Store // nil with RECEIVE=off
	page    graph.Page     // zero when Graph could not say at start
	metrics *metrics.Metrics
	people  *reach.Tracker
	poller  *receive.Poller // RECEIVE=poll only
	bridge  *bridge.Bridge
}

// New builds the service for cfg: it opens the outbox and, unless RECEIVE
// is off, the store of what the household sent, under DATA_DIR, and asks
// Graph which page the token belongs to, for up to startupTimeout or until
// ctx ends. It starts either way: a Graph that cannot be reached only
// leaves the page unknown. It connects to nothing else; Run does.
//
// The error says which setting is at fault (an outbox that cannot be
// opened, say); New then has closed what it opened.
func New(ctx context.Context, cfg *config.Config, log zerolog.Logger, opts ...Option) (*Service, error) {
	o := newOptions(opts)
	s := &Service{cfg: cfg, log: log}
	// One pacer for every Graph call, slowed by the usage Graph reports.
	pace := pacer.New(cfg.SendRate, pacer.WithLog(log))
	s.pace = pace
	gcfg := GraphConfig(cfg)
	gcfg.OnUsage = pace.Observe
	var err error
	if s.graph, err = graph.New(gcfg); err != nil {
		return nil, err
	}
	fetch, err := media.NewFetcher(MediaConfig(cfg))
	if err != nil {
		return nil, err
	}
	if s.box, err = outbox.Open(filepath.Join(cfg.DataDir, "outbox.db"), cfg.OutboxMax, outbox.MaxBytes(int64(cfg.OutboxMaxBytes))); err != nil {
		return nil, err
	}
	if cfg.Receive != "off" {
		if s.heard, err = receive.OpenStore(filepath.Join(cfg.DataDir, "received.db")); err != nil {
			s.close()
			return nil, err
		}
	}

	token := bridge.TokenState{State: bridge.TokenUnknown}
	if !o.skipPage {
		s.page, token = readPage(ctx, s.graph, log)
	}
	s.metrics = metrics.New(recipientNames(cfg))
	s.people = reach.New(nil)
	var asks *receive.Asks
	if s.heard != nil {
		rememberWindows(cfg, s.heard, s.people, log)
		asks = &receive.Asks{Store: s.heard, Log: log}
	}
	if cfg.Receive == "poll" {
		s.poller = newPoller(cfg, s.graph, pace, s.heard, s.page.ID, s.people, log)
		asks.Hurry = s.poller.Hurry
	}
	s.bridge, err = bridge.New(cfg, bridge.Deps{
		Outbox:         s.box,
		Sender:         NewMessenger(cfg, s.graph, fetch, s.people, asks, pace, o.messenger()...),
		Reach:          s.people,
		Received:       s.heard,
		Page:           s.page,
		Token:          token,
		Version:        o.version,
		Delivery:       o.deliveryOptions(cfg),
		Metrics:        s.metrics,
		DiscoveryDelay: o.discoveryDelay,
		DiscoveryAfter: o.discoveryAfter,
		ConnectRetry:   o.connectRetry,
	}, log)
	if err != nil {
		s.close()
		return nil, err
	}
	log.Info().Str("version", o.version).Str("page", s.page.Name).Int("recipients", len(cfg.Recipients)).
		Int("groups", len(cfg.Groups)).Msg("messenger-bridge starting")
	return s, nil
}

// Run runs the service until ctx ends or a part of it cannot start: the
// health server or the webhook unable to listen stops the whole service at
// once, rather than leaving it running unobserved. It returns once every
// part has stopped, the bridge having drained its sends, and the stores
// closed; the error joins those of the parts that failed. Call it once.
func (s *Service) Run(ctx context.Context) error {
	defer s.close()
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	var (
		wg               sync.WaitGroup
		httpErr, hookErr error
	)
	wg.Go(func() { watchToken(ctx, s.cfg, s.graph, s.bridge, s.log) })
	wg.Go(func() { checkTemplate(ctx, s.cfg, s.graph, s.pace, s.people, s.log) })
	if s.heard != nil && s.cfg.WindowKeepalive > 0 {
		k := keepalive.New(keepalive.Config{Before: s.cfg.WindowKeepalive, Text: s.cfg.WindowKeepaliveText,
			People: recipientNames(s.cfg), Reach: s.people, Asker: s.bridge, Memory: s.heard, Log: s.log})
		wg.Go(func() { k.Run(ctx) })
	}
	wg.Go(func() {
		if httpErr = serveHTTP(ctx, s.cfg, s.bridge, s.box, s.metrics, s.log); httpErr != nil {
			stop()
		}
	})
	if s.poller != nil {
		wg.Go(func() { s.poller.Run(ctx) })
	}
	if s.cfg.Receive == "webhook" {
		wg.Go(func() {
			if hookErr = serveWebhook(ctx, s.cfg, s.heard, s.page.ID, s.log); hookErr != nil {
				stop()
			}
		})
	}
	err := s.bridge.Run(ctx)
	wg.Wait()
	return errors.Join(err, httpErr, hookErr)
}

// close closes the stores, the one of what the household sent first.
func (s *Service) close() {
	if s.heard != nil {
		s.heard.Close()
	}
	s.box.Close()
}

// Bridge returns the service's bridge, for tests to observe (Ready,
// BrokerReady) and to use as the Asker of a keep-alive of their own.
func (s *Service) Bridge() *bridge.Bridge { return s.bridge }

// Received returns the store of what the household sent, nil with
// RECEIVE=off, for tests to put events in as the poller or webhook would.
// Run closes it.
func (s *Service) Received() *receive.Store { return s.heard }

// Reach returns what the service knows of people's windows, for tests to
// observe.
func (s *Service) Reach() *reach.Tracker { return s.people }

// rememberWindows tells people when each configured person last wrote, as
// heard recorded it before the restart: with RECEIVE=webhook nothing else
// would say so until they write again, and <base>/person/<name> and the
// keep-alive would not know their window is open.
func rememberWindows(cfg *config.Config, heard *receive.Store, people *reach.Tracker, log zerolog.Logger) {
	wrote, err := heard.LastWrote()
	if err != nil {
		log.Warn().Err(err).Msg("cannot read when each person last wrote; their windows are unknown until they write")
	}
	for _, r := range cfg.Recipients {
		if at, ok := wrote[r.Name]; ok {
			people.Received(r.Name, at)
		}
	}
}

func recipientNames(cfg *config.Config) []string {
	names := make([]string, len(cfg.Recipients))
	for i, r := range cfg.Recipients {
		names[i] = r.Name
	}
	return names
}

// readPage asks Graph which page the token belongs to. The bridge starts
// either way: messages wait in the outbox until Graph answers.
func readPage(ctx context.Context, g *graph.Client, log zerolog.Logger) (graph.Page, bridge.TokenState) {
	ctx, cancel := context.WithTimeout(ctx, startupTimeout)
	defer cancel()
	page, err := g.Page(ctx)
	var gerr *graph.Error
	switch {
	case err == nil:
		log.Info().Str("page", page.Name).Str("page_id", page.ID).Msg("page token works")
		return page, bridge.TokenState{State: bridge.TokenValid}
	case errors.As(err, &gerr) && gerr.TokenInvalid():
		log.Error().Err(err).Str("hint", gerr.Hint()).Msg("the page token is not valid; messages will fail until it is replaced")
		return page, bridge.TokenState{State: bridge.TokenInvalid, Problem: gerr.Message}
	default:
		log.Warn().Err(err).Msg("cannot reach the Graph API to read the page; starting anyway")
		return page, bridge.TokenState{State: bridge.TokenUnknown}
	}
}
