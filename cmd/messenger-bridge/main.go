// Command messenger-bridge sends Facebook Messenger messages published on
// MQTT topics, and announces each recipient to Home Assistant.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/messenger-bridge/messenger-bridge/bridge"
	"github.com/messenger-bridge/messenger-bridge/config"
	"github.com/messenger-bridge/messenger-bridge/delivery"
	"github.com/messenger-bridge/messenger-bridge/graph"
	"github.com/messenger-bridge/messenger-bridge/keepalive"
	"github.com/messenger-bridge/messenger-bridge/media"
	"github.com/messenger-bridge/messenger-bridge/metrics"
	"github.com/messenger-bridge/messenger-bridge/outbox"
	"github.com/messenger-bridge/messenger-bridge/pacer"
	"github.com/messenger-bridge/messenger-bridge/reach"
	"github.com/messenger-bridge/messenger-bridge/receive"
)

// version is set at build time: -ldflags "-X main.version=1.2.3".
var version = "dev"

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// startupTimeout bounds the Graph calls made before the bridge starts.
const startupTimeout = 15 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `messenger-bridge sends Facebook Messenger messages published on MQTT.

Usage:
  messenger-bridge [run]                  serve: MQTT in, Messenger out (the default)
  messenger-bridge discover [--json]      list the people who wrote to the page, with their PSIDs
  messenger-bridge token check            say whether the page token works and when it expires
  messenger-bridge token exchange         turn a short-lived user token into page tokens
  messenger-bridge send <name> <text>     send one message without MQTT
  messenger-bridge template create        make the template that reaches people outside the 24-hour window
  messenger-bridge template check         say whether that template is approved
  messenger-bridge webhook subscribe      have Meta send the page's messages to the webhook (RECEIVE=webhook)
  messenger-bridge health [-ready]        probe the running service (the container's HEALTHCHECK)
  messenger-bridge version                print the version
  messenger-bridge <command> -h           help for one command

It is configured entirely by environment variables:
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := "run"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "run":
		return serve(ctx, stderr)
	case "discover":
		return runDiscover(ctx, args, stdout, stderr)
	case "token":
		return runToken(ctx, args, stdout, stderr)
	case "send":
		return runSend(ctx, args, stdout, stderr)
	case "template":
		return runTemplate(ctx, args, stdout, stderr)
	case "webhook":
		return runWebhook(ctx, args, stdout, stderr)
	case "health":
		return runHealth(ctx, args, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "messenger-bridge", version)
		return exitOK
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		if err := config.Usage(stdout); err != nil {
			fmt.Fprintln(stderr, "messenger-bridge:", err)
			return exitFailure
		}
		return exitOK
	default:
		fmt.Fprintf(stderr, "messenger-bridge: unknown command %q (see messenger-bridge -h)\n", cmd)
		return exitUsage
	}
}

// memoryLimit is the soft limit the Go runtime keeps its memory under
// unless GOMEMLIMIT sets another. Without one, a burst of large messages
// leaves as much garbage as it holds live before the collector runs; with
// it, the bridge stays within 64 MB whatever waits in its outbox (README,
// "Delivery guarantees"). It is soft: the bridge may go beyond it, at the
// cost of collecting more often.
const memoryLimit = 32 << 20

func serve(ctx context.Context, stderr io.Writer) int {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
	cfg, err := config.Load()
	if err != nil {
		fmt.Fprintln(stderr, "messenger-bridge: configuration:", err)
		return exitUsage
	}
	log := newLogger(cfg, stderr)
	logWarnings(cfg, log)
	if err := serveWith(ctx, cfg, log); err != nil {
		log.Error().Err(err).Msg("messenger-bridge stopped")
		return exitFailure
	}
	return exitOK
}

func serveWith(ctx context.Context, cfg *config.Config, log zerolog.Logger) error {
	// One pacer for every Graph call, slowed by the usage Graph reports.
	pace := pacer.New(cfg.SendRate, pacer.WithLog(log))
	gcfg := graphConfig(cfg)
	gcfg.OnUsage = pace.Observe
	g, err := graph.New(gcfg)
	if err != nil {
		return err
	}
	fetch, err := media.NewFetcher(media.Config{HAURL: cfg.HAURL, HAToken: cfg.HAToken.Reveal(), MediaDirs: cfg.MediaDirs})
	if err != nil {
		return err
	}
	box, err := outbox.Open(filepath.Join(cfg.DataDir, "outbox.db"), cfg.OutboxMax, outbox.MaxBytes(int64(cfg.OutboxMaxBytes)))
	if err != nil {
		return err
	}
	defer box.Close()

	var heard *receive.Store
	if cfg.Receive != "off" {
		if heard, err = receive.OpenStore(filepath.Join(cfg.DataDir, "received.db")); err != nil {
			return err
		}
		defer heard.Close()
	}

	page, token := readPage(ctx, g, log)
	m := metrics.New(recipientNames(cfg))
	people := reach.New(nil)
	var (
		poller *receive.Poller
		asks   *receive.Asks
	)
	if heard != nil {
		asks = &receive.Asks{Store: heard, Log: log}
	}
	if cfg.Receive == "poll" {
		poller = newPoller(cfg, g, pace, heard, page.ID, people, log)
		asks.Hurry = poller.Hurry
	}
	b, err := bridge.New(cfg, bridge.Deps{
		Outbox:   box,
		Sender:   newMessenger(cfg, g, fetch, people, asks, pace),
		Reach:    people,
		Received: heard,
		Page:     page,
		Token:    token,
		Version:  version,
		Delivery: delivery.Options{TTL: cfg.MessageTTL},
		Metrics:  m,
	}, log)
	if err != nil {
		return err
	}
	log.Info().Str("version", version).Str("page", page.Name).Int("recipients", len(cfg.Recipients)).
		Int("groups", len(cfg.Groups)).Msg("messenger-bridge starting")

	// A health server that cannot start stops the bridge at once, rather than
	// leaving it running unobserved.
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	var (
		wg      sync.WaitGroup
		httpErr error
	)
	wg.Go(func() { watchToken(ctx, cfg, g, b, log) })
	if heard != nil && cfg.WindowKeepalive > 0 {
		k := keepalive.New(keepalive.Config{Before: cfg.WindowKeepalive, Text: cfg.WindowKeepaliveText,
			People: recipientNames(cfg), Reach: people, Asker: b, Memory: heard, Log: log})
		wg.Go(func() { k.Run(ctx) })
	}
	wg.Go(func() {
		if httpErr = serveHTTP(ctx, cfg, b, box, m, log); httpErr != nil {
			stop()
		}
	})
	if poller != nil {
		wg.Go(func() { poller.Run(ctx) })
	}
	var hookErr error
	if cfg.Receive == "webhook" {
		wg.Go(func() {
			if hookErr = serveWebhook(ctx, cfg, heard, page.ID, log); hookErr != nil {
				stop()
			}
		})
	}
	err = b.Run(ctx)
	wg.Wait()
	return errors.Join(err, httpErr, hookErr)
}

func recipientNames(cfg *config.Config) []string {
	names := make([]string, len(cfg.Recipients))
	for i, r := range cfg.Recipients {
		names[i] = r.Name
	}
	return names
}

// newMessenger returns the Messenger the service and the send command
// deliver with, recording what it learns of people's windows in people,
// when asks is not nil the quick replies it offers, and taking its turns at
// pace, or at a pacer of its own if pace is nil.
func newMessenger(cfg *config.Config, g *graph.Client, fetch *media.Fetcher, people *reach.Tracker, asks *receive.Asks, pace *pacer.Pacer) *delivery.Messenger {
	opts := []delivery.MessengerOption{delivery.WithReach(people)}
	if asks != nil {
		opts = append(opts, delivery.WithAsker(*asks))
	}
	if pace != nil {
		opts = append(opts, delivery.WithPacer(pace))
	}
	if cfg.UtilityTemplate != "" {
		opts = append(opts, delivery.WithTemplate(graph.Template{Name: cfg.UtilityTemplate, Language: cfg.UtilityTemplateLang}))
	}
	return delivery.NewMessenger(g, fetch, cfg.SendRate, opts...)
}

// logWarnings logs, once at start, each setting that works but deserves a
// word.
func logWarnings(cfg *config.Config, log zerolog.Logger) {
	for _, w := range cfg.Warnings {
		log.Warn().Msg(w)
	}
}

func graphConfig(cfg *config.Config) graph.Config {
	return graph.Config{
		BaseURL: cfg.GraphURL, Version: cfg.GraphVersion,
		PageToken: cfg.PageToken.Reveal(), AppSecret: cfg.AppSecret.Reveal(),
		MessagingType: cfg.MessagingType, Tag: cfg.MessageTag,
	}
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
