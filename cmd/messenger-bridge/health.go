package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"os"
	"reflect"
	"time"

	"github.com/rs/zerolog"

	"github.com/messenger-bridge/messenger-bridge/bridge"
	"github.com/messenger-bridge/messenger-bridge/config"
	"github.com/messenger-bridge/messenger-bridge/health"
	"github.com/messenger-bridge/messenger-bridge/metrics"
	"github.com/messenger-bridge/messenger-bridge/outbox"
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
	field, _ := reflect.TypeFor[config.Config]().FieldByName("HTTPAddr")
	return field.Tag.Get("default")
}

// serveHTTP serves /healthz, /readyz and /metrics on HTTP_ADDR until ctx ends,
// and registers the gauges read at each scrape. It returns at once when
// HTTP_ADDR is empty, and with an error naming HTTP_ADDR when it cannot listen.
func serveHTTP(ctx context.Context, cfg *config.Config, b *bridge.Bridge, box *outbox.Outbox, m *metrics.Metrics, log zerolog.Logger) error {
	if cfg.HTTPAddr == "" {
		log.Info().Msg("HTTP_ADDR is empty: no health or metrics server")
		return nil
	}
	m.Gauge("outbox_entries", "Messages waiting in the outbox, one per recipient.", func() float64 {
		return float64(box.Len())
	})
	m.Gauge("mqtt_connected", "1 while the connection to the MQTT broker is open, 0 otherwise.", func() float64 {
		if b.Connected() {
			return 1
		}
		return 0
	})
	l, err := new(net.ListenConfig).Listen(ctx, "tcp", cfg.HTTPAddr)
	if err != nil {
		err = fmt.Errorf("HTTP_ADDR %s: cannot serve health and metrics (set another host:port, or empty to disable): %w", cfg.HTTPAddr, err)
		log.Error().Err(err).Msg("no health or metrics server")
		return err
	}
	log.Info().Str("addr", l.Addr().String()).Msg("serving " + health.LivePath + ", " + health.ReadyPath + " and " + health.MetricsPath)
	h := health.Handler(m.Handler(), b.BrokerReady, outboxRoom(box, cfg.OutboxMax))
	return health.Serve(ctx, l, h, stdlog.New(log, "", 0))
}

// outboxRoom is ready while the outbox can be written and has room for
// new messages.
func outboxRoom(box *outbox.Outbox, max int) health.Check {
	return func() error {
		if err := box.Writable(); err != nil {
			return fmt.Errorf("the outbox cannot store messages: %w", err)
		}
		if n := box.Len(); n >= max {
			return fmt.Errorf("the outbox is full (%d messages waiting, OUTBOX_MAX %d): new messages are refused", n, max)
		}
		return nil
	}
}
