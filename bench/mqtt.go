package bench

import (
	"context"
	"fmt"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// connectTimeout bounds one connection attempt to the broker, and the wait
// for it to confirm a subscription.
const connectTimeout = 10 * time.Second

// Connect returns an MQTT client connected to broker with a clean session
// under clientID. Its message handlers run one at a time, in arrival order,
// so they must not block. It fails when the broker cannot be reached before
// ctx ends or connectTimeout passes.
func Connect(ctx context.Context, broker, clientID string) (mqtt.Client, error) {
	opts := mqtt.NewClientOptions().AddBroker(broker).SetClientID(clientID).
		SetCleanSession(true).SetOrderMatters(true).SetAutoReconnect(false).
		SetConnectTimeout(connectTimeout)
	c := mqtt.NewClient(opts)
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	if err := await(ctx, c.Connect()); err != nil {
		return nil, fmt.Errorf("bench: connect to the MQTT broker %s: %w", broker, err)
	}
	return c, nil
}

// await waits for t to complete and returns its error, or ctx's.
func await(ctx context.Context, t mqtt.Token) error {
	select {
	case <-t.Done():
		return t.Error()
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
