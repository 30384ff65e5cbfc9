package main

import (
	"context"
	"io"
)

// runSend is the `send` command (issue 6; being built).
func runSend(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return notYet("send", stderr)
}
