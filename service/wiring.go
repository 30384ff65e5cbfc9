package service

import (
	"context"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/messenger-bridge/messenger-bridge/config"
	"github.com/messenger-bridge/messenger-bridge/delivery"
	"github.com/messenger-bridge/messenger-bridge/graph"
	"github.com/messenger-bridge/messenger-bridge/health"
	"github.com/messenger-bridge/messenger-bridge/media"
	"github.com/messenger-bridge/messenger-bridge/pacer"
	"github.com/messenger-bridge/messenger-bridge/reach"
	"github.com/messenger-bridge/messenger-bridge/receive"
)

// GraphConfig is the graph.Config of cfg, for the service and the commands
// that call Graph as it does.
func GraphConfig(cfg *config.Config) graph.Config {
	return graph.Config{
		BaseURL: cfg.GraphURL, Version: cfg.GraphVersion,
		PageToken: cfg.PageToken.Reveal(), AppSecret: cfg.AppSecret.Reveal(),
		MessagingType: cfg.MessagingType, Tag: cfg.MessageTag,
	}
}

// MediaConfig is the media.Config of cfg: where attachments may come from.
func MediaConfig(cfg *config.Config) media.Config {
	return media.Config{HA: cfg.HA, HAToken: cfg.HAToken.Reveal(), MediaDirs: cfg.MediaDirs}
}

// NewMessenger returns the Messenger the service and the send command
// deliver with, recording what it learns of people's windows in people,
// when asks is not nil the quick replies it offers, and taking its turns at
// pace, or at a pacer of its own if pace is nil. opts come after the ones
// cfg calls for.
func NewMessenger(cfg *config.Config, g *graph.Client, fetch *media.Fetcher, people *reach.Tracker, asks *receive.Asks, pace *pacer.Pacer, opts ...delivery.MessengerOption) *delivery.Messenger {
	all := []delivery.MessengerOption{delivery.WithReach(people)}
	if asks != nil {
		all = append(all, delivery.WithAsker(*asks))
	}
	if pace != nil {
		all = append(all, delivery.WithPacer(pace))
	}
	if cfg.UtilityTemplate != "" {
		all = append(all, delivery.WithTemplate(graph.Template{Name: cfg.UtilityTemplate, Language: cfg.UtilityTemplateLang}))
	}
	return delivery.NewMessenger(g, fetch, cfg.SendRate, append(all, opts...)...)
}

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
	if err := receive.ForgetPolledReactions(heard); err != nil {
		log.Warn().Err(err).Msg("cannot mark the reactions to come as unknown to polling; a poll after a switch back may publish them again")
	}
	mux := http.NewServeMux()
	mux.Handle(cfg.WebhookPath, receive.NewWebhook(receive.WebhookConfig{
		AppSecret: cfg.AppSecret.Reveal(), VerifyToken: cfg.VerifyToken.Reveal(), Store: heard, PageID: pageID, Log: log,
	}))
	log.Info().Str("addr", l.Addr().String()).Str("path", cfg.WebhookPath).Msg("serving the Messenger webhook")
	return health.Serve(ctx, l, mux, stdlog.New(log, "", 0))
}

// newPoller returns the Poller of RECEIVE=poll, which tells people when
// each person last wrote, and takes in only what came since receiving
// began. With the page's id unknown (Graph was away at
// start) the Poller asks Graph for it before it polls.
func newPoller(cfg *config.Config, g *graph.Client, pace receive.Pacer, heard *receive.Store, pageID string, people *reach.Tracker, log zerolog.Logger) *receive.Poller {
	since, err := heard.Since()
	if err != nil {
		since = time.Now() // rather no history than old answers replayed
		log.Warn().Err(err).Msg("cannot read when receiving began; messages already in the conversations are taken for history")
	}
	return receive.NewPoller(receive.PollConfig{
		Graph: g, Pacer: pace, Store: heard, PageID: pageID, Interval: cfg.PollInterval, Log: log, Since: since,
		FindPageID: func(ctx context.Context) (string, error) {
			page, err := g.Page(ctx)
			return page.ID, err
		},
		LastWrote: func(psid string, at time.Time) {
			if r, ok := cfg.Household.ByPSID(psid); ok {
				people.Received(r.Name, at)
			}
		},
	})
}
