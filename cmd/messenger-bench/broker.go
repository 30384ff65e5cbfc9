package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/messenger-bridge/messenger-bridge/bench"
)

// cleanupTimeout bounds the removal of what a run left in the broker.
const cleanupTimeout = 10 * time.Second

// checkLoopback refuses a broker that is not on this machine, so that a load
// test never floods a broker others rely on.
func checkLoopback(broker string) error {
	u, err := url.Parse(broker)
	if err != nil {
		return fmt.Errorf("-broker: %w", err)
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("-broker %s: the broker must run on this machine (127.0.0.1 or localhost)", broker)
}

// watch tells when the bridge announced itself online.
type watch struct {
	client mqtt.Client
	online chan struct{}
}

// watchOnline subscribes to the bridge's state topic under base.
func watchOnline(ctx context.Context, broker, base, clientID string) (*watch, error) {
	c, err := bench.Connect(ctx, broker, clientID)
	if err != nil {
		return nil, err
	}
	w := &watch{client: c, online: make(chan struct{})}
	var once sync.Once
	t := c.Subscribe(base+"/bridge/state", 1, func(_ mqtt.Client, m mqtt.Message) {
		if string(m.Payload()) == "online" {
			once.Do(func() { close(w.online) })
		}
	})
	if err := await(ctx, t, cleanupTimeout); err != nil {
		c.Disconnect(0)
		return nil, fmt.Errorf("subscribe to %s/bridge/state: %w", base, err)
	}
	return w, nil
}

// wait returns once the bridge is online, or fails when p exits or timeout
// passes first.
func (w *watch) wait(ctx context.Context, p *process, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-w.online:
		return nil
	case <-p.exited:
		return fmt.Errorf("the bridge exited at start-up: %v", p.err)
	case <-t.C:
		return fmt.Errorf("the bridge did not announce itself online within %s", timeout)
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func (w *watch) stop() { w.client.Disconnect(0) }

// forget removes what a run left in the broker: the bridge's persistent
// session and the retained messages under base.
func forget(ctx context.Context, broker, base, bridgeID string) error {
	ctx, cancel := context.WithTimeout(ctx, cleanupTimeout)
	defer cancel()
	// Connecting with a clean session under the bridge's id ends its
	// persistent session.
	c, err := bench.Connect(ctx, broker, bridgeID)
	if err != nil {
		return err
	}
	defer c.Disconnect(0)

	// The broker sends the retained messages on subscription, before the
	// marker published after it; handlers run in order.
	marker := base + "/bench/end"
	var retained []string
	end := make(chan struct{})
	t := c.Subscribe(base+"/#", 1, func(_ mqtt.Client, m mqtt.Message) {
		select {
		case <-end:
			return // retained is the caller's now
		default:
		}
		switch {
		case m.Topic() == marker:
			close(end)
		case m.Retained() && len(m.Payload()) > 0:
			retained = append(retained, m.Topic())
		}
	})
	if err := await(ctx, t, cleanupTimeout); err != nil {
		return fmt.Errorf("subscribe to %s/#: %w", base, err)
	}
	if err := await(ctx, c.Publish(marker, 1, false, []byte{}), cleanupTimeout); err != nil {
		return err
	}
	select {
	case <-end:
	case <-ctx.Done():
		return fmt.Errorf("listing retained messages under %s: %w", base, context.Cause(ctx))
	}
	var errs []error
	for _, topic := range retained {
		errs = append(errs, await(ctx, c.Publish(topic, 1, true, []byte{}), cleanupTimeout))
	}
	return errors.Join(errs...)
}

// await waits for t, at most timeout.
func await(ctx context.Context, t mqtt.Token, timeout time.Duration) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-t.Done():
		return t.Error()
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-timer.C:
		return errors.New("no answer from the broker")
	}
}
