package mqttsession

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/url"
	"os"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// Connection timings. Home brokers restart on updates; reconnecting every few
// seconds at most brings the session back soon after without hammering them.
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
// acknowledgement: the Handler acknowledges each message once it has kept
// it. It fails when the TLS files cannot be read.
func clientOptions(o Options) (*mqtt.ClientOptions, error) {
	c := mqtt.NewClientOptions().
		AddBroker(o.URL).
		SetClientID(o.ClientID).
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
		SetConnectRetryInterval(o.connectRetry()).
		SetMaxReconnectInterval(maxReconnectInterval)
	if o.Will.Topic != "" {
		c.SetBinaryWill(o.Will.Topic, o.Will.Payload, 1, true)
	}
	if o.Username != "" {
		c.SetUsername(o.Username)
	}
	if o.Password.IsSet() {
		c.SetPassword(o.Password.Reveal())
	}
	if u, err := url.Parse(o.URL); err == nil {
		if dial := dialer(u.Scheme); dial != nil {
			c.SetCustomOpenConnectionFn(dial)
		}
	}
	tlsCfg, err := tlsConfig(o)
	if err != nil {
		return nil, err
	}
	if tlsCfg != nil {
		c.SetTLSConfig(tlsCfg)
	}
	return c, nil
}

// tlsConfig returns the TLS settings o asks for, or nil when none are set
// and the system's roots will do.
func tlsConfig(o Options) (*tls.Config, error) {
	if o.CAFile == "" && o.CertFile == "" && !o.Insecure {
		return nil, nil
	}
	t := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.Insecure} //nolint:gosec // the user asked for it, and it is logged loudly
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("MQTT_CA_FILE: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("MQTT_CA_FILE: %s holds no PEM certificate", o.CAFile)
		}
		t.RootCAs = pool
	}
	if o.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("MQTT_CERT_FILE/MQTT_KEY_FILE: %w", err)
		}
		t.Certificates = []tls.Certificate{cert}
	}
	return t, nil
}
