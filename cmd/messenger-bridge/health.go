package main

import (
	"context"
	"fmt"
	"io"

	"github.com/rs/zerolog"

	"github.com/messenger-bridge/messenger-bridge/bridge"
	"github.com/messenger-bridge/messenger-bridge/config"
	"github.com/messenger-bridge/messenger-bridge/metrics"
	"github.com/messenger-bridge/messenger-bridge/outbox"
)

// runHealth is the `health` command used by the container's HEALTHCHECK
// (issue 7; being built).
func runHealth(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return notYet("health", stderr)
}

// serveHTTP serves health and metrics on HTTP_ADDR until ctx ends (issue 7;
// being built).
func serveHTTP(ctx context.Context, cfg *config.Config, b *bridge.Bridge, box *outbox.Outbox, m *metrics.Metrics, log zerolog.Logger) error {
	return nil
}

func notYet(cmd string, stderr io.Writer) int {
	fmt.Fprintf(stderr, "messenger-bridge %s: not available in this build\n", cmd)
	return exitUsage
}
