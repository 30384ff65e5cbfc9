package service

import (
	"context"
	"fmt"
	stdlog "log"
	"net"

	"github.com/rs/zerolog"

	"github.com/messenger-bridge/messenger-bridge/bridge"
	"github.com/messenger-bridge/messenger-bridge/config"
	"github.com/messenger-bridge/messenger-bridge/health"
	"github.com/messenger-bridge/messenger-bridge/metrics"
	"github.com/messenger-bridge/messenger-bridge/outbox"
)

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
	m.Gauge("outbox_bytes", "Bytes the messages waiting take in the outbox, each message counted once.", func() float64 {
		return float64(box.Bytes())
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
