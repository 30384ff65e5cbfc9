package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/messenger-bridge/messenger-bridge/config"
	"github.com/messenger-bridge/messenger-bridge/health"
)

// probeTimeout bounds the health command, well inside the Dockerfile's
// HEALTHCHECK --timeout.
const probeTimeout = 5 * time.Second

// runHealth is the `health` command, the container's HEALTHCHECK: it asks the
// running service's /healthz (or /readyz with -ready) and exits 0 when it
// answers 200 and 1 when it does not, as Docker expects. Only a misuse of the
// command exits 2, which Docker reserves.
//
// The HEALTHCHECK probes liveness, not readiness: Home Assistant's Supervisor
// restarts an add-on whose container turns unhealthy, and restarting the
// bridge while its broker is away (an update of the Mosquitto add-on, say)
// would not bring the broker back; the bridge reconnects by itself.
func runHealth(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("messenger-bridge health", flag.ContinueOnError)
	flags.SetOutput(stderr)
	ready := flags.Bool("ready", false, "probe "+health.ReadyPath+" (connected to the broker, outbox writable and not full) instead of "+health.LivePath)
	if err := flags.Parse(args); err != nil || flags.NArg() > 0 {
		return exitUsage
	}
	addr := httpAddr()
	if addr == "" {
		fmt.Fprintln(stderr, "messenger-bridge health: HTTP_ADDR is empty, so the service has no health server to ask")
		return exitFailure
	}
	path := health.LivePath
	if *ready {
		path = health.ReadyPath
	}
	target, err := health.LocalURL(addr, path)
	if err != nil {
		fmt.Fprintln(stderr, "messenger-bridge health: HTTP_ADDR:", err)
		return exitFailure
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	if err := health.Probe(ctx, target); err != nil {
		fmt.Fprintln(stderr, "messenger-bridge health:", err)
		return exitFailure
	}
	fmt.Fprintln(stdout, "ok")
	return exitOK
}

// httpAddr is HTTP_ADDR as the service reads it: the variable when it is set,
// even to "", and config's default otherwise. The health command reads only
// this one variable, because a HEALTHCHECK runs in the container's environment
// alone: the add-on's entrypoint sets the others for the service only.
func httpAddr() string {
	if v, ok := os.LookupEnv("HTTP_ADDR"); ok {
		return v
	}
	return config.Default("HTTP_ADDR")
}
