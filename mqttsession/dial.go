package mqttsession

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"os"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// readBuffer is the size of the buffer in front of the broker's socket.
// paho reads each packet's fixed header a byte at a time, which would
// otherwise be a system call per byte.
const readBuffer = 16 << 10

// dialer returns the function that opens the connection to the broker for
// the schemes that run over plain TCP, tcp/mqtt and ssl/tls/mqtts, or nil
// to leave dialing to paho: for ws:// and wss://, and when ALL_PROXY asks
// for a SOCKS proxy, which paho's own dialing honours.
//
// With Mosquitto's defaults (no set_tcp_nodelay), the broker's Nagle
// algorithm holds a message for the bridge back until the bridge's kernel
// acknowledges the broker's last small packet, which a delayed ACK does up
// to 40 ms later. The connection dialed here acknowledges at once (see
// quickAck), so a stock broker delivers without that wait.
func dialer(scheme string) mqtt.OpenConnectionFunc {
	if os.Getenv("ALL_PROXY") != "" || os.Getenv("all_proxy") != "" {
		return nil
	}
	switch scheme {
	case "tcp", "mqtt":
		return func(u *url.URL, o mqtt.ClientOptions) (net.Conn, error) {
			return dialTCP(u, o.ConnectTimeout)
		}
	case "ssl", "tls", "mqtts":
		return dialTLS
	}
	return nil
}

// dialTCP connects to the broker at u.Host within timeout.
func dialTCP(u *url.URL, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	c, err := d.Dial("tcp", u.Host)
	if err != nil {
		return nil, err
	}
	tcp, ok := c.(*net.TCPConn)
	if !ok {
		return c, nil
	}
	_ = tcp.SetNoDelay(true) // Go's default, relied on: each packet leaves at once
	return newBrokerConn(tcp), nil
}

// dialTLS does what paho does for a TLS broker URL, over dialTCP's
// connection: the TLS client checks the certificate against u's host
// unless the configuration names another, and the dial and handshake
// together end within the connect timeout.
func dialTLS(u *url.URL, o mqtt.ClientOptions) (net.Conn, error) {
	deadline := time.Now().Add(o.ConnectTimeout)
	c, err := dialTCP(u, o.ConnectTimeout)
	if err != nil {
		return nil, err
	}
	cfg := o.TLSConfig
	if cfg == nil {
		cfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if cfg.ServerName == "" {
		cfg = cfg.Clone()
		cfg.ServerName = u.Hostname()
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	t := tls.Client(c, cfg)
	if err := t.HandshakeContext(ctx); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("tls handshake with %s: %w", u.Host, err)
	}
	return t, nil
}

// brokerConn is the broker's TCP connection with a read buffer, which
// acknowledges what it received at once where the system allows it.
type brokerConn struct {
	net.Conn // only net.Conn's methods: reading around the buffer would lose data
	r        *bufio.Reader
}

func newBrokerConn(c *net.TCPConn) *brokerConn {
	return &brokerConn{Conn: c, r: bufio.NewReaderSize(quickAck(c), readBuffer)}
}

// Read reads from the buffer; paho reads from one goroutine at a time.
func (c *brokerConn) Read(p []byte) (int, error) { return c.r.Read(p) }
