package main

import (
	"context"
	"io"

	"github.com/rs/zerolog"

	"github.com/messenger-bridge/messenger-bridge/bridge"
	"github.com/messenger-bridge/messenger-bridge/config"
	"github.com/messenger-bridge/messenger-bridge/graph"
)

// runToken is the `token` command (issue 6; being built).
func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return notYet("token", stderr)
}

// watchToken checks the page token while the service runs and tells b what
// it learns (issue 6; being built). It returns when ctx ends.
func watchToken(ctx context.Context, cfg *config.Config, g *graph.Client, b *bridge.Bridge, log zerolog.Logger) {
}
