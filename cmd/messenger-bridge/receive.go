package main

import (
	"context"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/messenger-bridge/messenger-bridge/config"
	"github.com/messenger-bridge/messenger-bridge/graph"
	"github.com/messenger-bridge/messenger-bridge/health"
	"github.com/messenger-bridge/messenger-bridge/reach"
	"github.com/messenger-bridge/messenger-bridge/receive"
)

// serveWebhook serves the webhook Meta calls (RECEIVE=webhook) on
// WEBHOOK_ADDR at WEBHOOK_PATH until ctx ends. Events are stored in heard
// before Meta gets its 200, whether or not the broker is there.
func serveWebhook(ctx context.Context, cfg *config.Config, heard *receive.Store, pageID string, log zerolog.Logger) error {
	l, err := new(net.ListenConfig).Listen(ctx, "tcp", cfg.WebhookAddr)
	if err != nil {
		err = fmt.Errorf("WEBHOOK_ADDR %s: cannot serve the webhook (set another host:port): %w", cfg.WebhookAddr, err)
		log.Error().Err(err).Msg("no webhook")
		return err
	}
	mux := http.NewServeMux()
	mux.Handle(cfg.WebhookPath, receive.NewWebhook(receive.WebhookConfig{
		AppSecret: cfg.AppSecret.Reveal(), VerifyToken: cfg.VerifyToken.Reveal(), Store: heard, PageID: pageID, Log: log,
	}))
	log.Info().Str("addr", l.Addr().String()).Str("path", cfg.WebhookPath).Msg("serving the Messenger webhook")
	return health.Serve(ctx, l, mux, stdlog.New(log, "", 0))
}

// newPoller returns the Poller of RECEIVE=poll, which tells people when
// each person last wrote. With the page's id unknown (Graph was away at
// start) the Page's own messages cannot be told apart; the Relay then sees
// them as from a PSID outside RECIPIENTS, never as events.
func newPoller(cfg *config.Config, g *graph.Client, pace receive.Pacer, heard *receive.Store, pageID string, people *reach.Tracker, log zerolog.Logger) *receive.Poller {
	if pageID == "" {
		log.Warn().Msg("the page's id is not known: polling cannot tell the Page's own messages apart until a restart with Graph reachable")
	}
	return receive.NewPoller(receive.PollConfig{
		Graph: g, Pacer: pace, Store: heard, PageID: pageID, Interval: cfg.PollInterval, Log: log,
		LastWrote: func(psid string, at time.Time) {
			if r, ok := cfg.Household.ByPSID(psid); ok {
				people.Received(r.Name, at)
			}
		},
	})
}
