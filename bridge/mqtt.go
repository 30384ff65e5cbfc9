package bridge

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/url"
	"os"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/messenger-bridge/messenger-bridge/config"
	"github.com/messenger-bridge/messenger-bridge/topics"
)

// Connection timings. Home brokers restart on updates; reconnecting every few
// seconds at most brings the bridge back soon after without hammering them.
const (
	keepAlive            = 30 * time.Second
	connectTimeout       = 10 * time.Second
	maxReconnectInterval = 30 * time.Second
	connectRetryInterval = 5 * time.Second
	// publishTimeout bounds how long paho's Publish and Subscribe may block
	// handing a packet to the connection (paho's default is 30 s). A publish
	// racing a disconnection otherwise blocks that long, and with it the
	// shutdown. A QoS 1 message that times out stays in paho's store and is
	// sent again on the next connection.
	publishTimeout = 5 * time.Second
)

// clientOptions returns paho options for a persistent session with manual
// acknowledgement: a message is acknowledged only once it is in the outbox.
func clientOptions(cfg *config.Config, tree topics.Tree) (*mqtt.ClientOptions, error) {
	o := mqtt.NewClientOptions().
		AddBroker(cfg.MQTTURL).
		SetClientID(cfg.MQTTClientID).
		// MQTT 3.1.1 only: paho would otherwise try 3.1 after a refusal, and
		// report that attempt's answer instead of the broker's reason.
		SetProtocolVersion(4).
		SetCleanSession(false).
		SetOrderMatters(true). // the handler only queues, so order costs nothing
		SetAutoAckDisabled(true).
		SetKeepAlive(keepAlive).
		SetConnectTimeout(connectTimeout).
		SetWriteTimeout(publishTimeout).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(connectRetryInterval).
		SetMaxReconnectInterval(maxReconnectInterval).
		SetWill(tree.State(), topics.Offline, 1, true)
	if cfg.MQTTUsername != "" {
		o.SetUsername(cfg.MQTTUsername)
	}
	if cfg.MQTTPassword.IsSet() {
		o.SetPassword(cfg.MQTTPassword.Reveal())
	}
	if u, err := url.Parse(cfg.MQTTURL); err == nil {
		if dial := dialer(u.Scheme); dial != nil {
			o.SetCustomOpenConnectionFn(dial)
		}
	}
	tlsCfg, err := tlsConfig(cfg)
	if err != nil {
		return nil, err
	}
	if tlsCfg != nil {
		o.SetTLSConfig(tlsCfg)
	}
	return o, nil
}

// tlsConfig returns the TLS settings the MQTT_* variables ask for, or nil
// when none are set and the system's roots will do.
func tlsConfig(cfg *config.Config) (*tls.Config, error) {
	if cfg.CAFile == "" && cfg.CertFile == "" && !cfg.Insecure {
		return nil, nil
	}
	t := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.Insecure} //nolint:gosec // the user asked for it, and it is logged loudly
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("MQTT_CA_FILE: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("MQTT_CA_FILE: %s holds no PEM certificate", cfg.CAFile)
		}
		t.RootCAs = pool
	}
	if cfg.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("MQTT_CERT_FILE/MQTT_KEY_FILE: %w", err)
		}
		t.Certificates = []tls.Certificate{cert}
	}
	return t, nil
}
