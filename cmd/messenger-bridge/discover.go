package main

import (
	"context"
	"io"
)

// runDiscover is the `discover` command (issue 6; being built).
func runDiscover(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return notYet("discover", stderr)
}
