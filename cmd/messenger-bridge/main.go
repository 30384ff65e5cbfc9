// Command messenger-bridge sends Facebook Messenger messages published on
// MQTT topics, and announces each recipient to Home Assistant.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/rs/zerolog"

	"github.com/messenger-bridge/messenger-bridge/config"
	"github.com/messenger-bridge/messenger-bridge/service"
)

// version is set at build time: -ldflags "-X main.version=1.2.3".
var version = "dev"

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

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

// gcPercent is the collector's GOGC unless the environment sets one: a
// collection once the heap has grown by twice what was live after the last
// one, instead of Go's once (100). The bridge's live heap is a few MiB, so
// this costs a few MiB at most (memoryLimit bounds it in any case), and it
// halves the collections a burst causes: under load they took about a
// sixth of the bridge's CPU, and 200 took it from 70–82 to 66 µs per
// message (messenger-bench, 30,000 messages).
const gcPercent = 200

func serve(ctx context.Context, stderr io.Writer) int {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
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

// serveWith runs the service for cfg until ctx ends.
func serveWith(ctx context.Context, cfg *config.Config, log zerolog.Logger) error {
	s, err := service.New(ctx, cfg, log, service.WithVersion(version))
	if err != nil {
		return err
	}
	return s.Run(ctx)
}

// logWarnings logs, once at start, each setting that works but deserves a
// word.
func logWarnings(cfg *config.Config, log zerolog.Logger) {
	for _, w := range cfg.Warnings {
		log.Warn().Msg(w)
	}
}
