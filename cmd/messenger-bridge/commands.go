package main

import (
	"context"
	"fmt"
	"io"
)

// Placeholders for the commands being built; each is replaced by its own file.

func runDiscover(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return notYet("discover", stderr)
}

func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return notYet("token", stderr)
}

func runSend(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return notYet("send", stderr)
}

func runHealth(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return notYet("health", stderr)
}

func notYet(cmd string, stderr io.Writer) int {
	fmt.Fprintf(stderr, "messenger-bridge %s: not available in this build\n", cmd)
	return exitUsage
}
