// Package mqtttest runs a real MQTT broker for tests: Mosquitto when the
// environment asks for it (CI does), an in-process mochi-mqtt broker
// otherwise, so that plain `go test ./...` needs nothing installed.
package mqtttest

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// EnvBroker names the environment variable that selects the broker:
// "mosquitto" runs a Mosquitto process per test; anything else, mochi.
const EnvBroker = "MQTT_TEST_BROKER"

// startTimeout bounds how long a broker may take to accept connections.
const startTimeout = 15 * time.Second

// Broker is a running broker listening on a loopback port.
type Broker struct {
	URL    string // tcp://127.0.0.1:port, or ssl:// WithTLS
	Kind   string // "mosquitto" or "mochi"
	CAFile string // the certificate authority's PEM WithTLS

	tb   testing.TB
	addr string
	dir  string
	tls  bool
	ws   bool

	mu             sync.Mutex
	stop           func()
	user, password string // guarded by mu; empty: anyone is let in
}

// Start runs a broker until the test ends.
func Start(tb testing.TB, opts ...Option) *Broker {
	tb.Helper()
	b := &Broker{tb: tb, addr: freeAddr(tb), dir: tb.TempDir(), Kind: "mochi"}
	if os.Getenv(EnvBroker) == "mosquitto" {
		b.Kind = "mosquitto"
	}
	for _, o := range opts {
		o(b)
	}
	b.URL = "tcp://" + b.addr
	switch {
	case b.tls:
		b.URL = "ssl://" + b.addr
	case b.ws:
		b.URL, b.Kind = "ws://"+b.addr, "mochi"
	}
	b.start()
	tb.Cleanup(b.Stop)
	return b
}

// Stop stops the broker; clients see the connection drop.
func (b *Broker) Stop() {
	b.mu.Lock()
	stop := b.stop
	b.stop = nil
	b.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// Restart stops the broker and starts it again on the same address.
// Mosquitto keeps persistent sessions across the restart (persistence is on);
// the in-process broker starts empty.
func (b *Broker) Restart() {
	b.tb.Helper()
	b.Stop()
	b.start()
}

func (b *Broker) start() {
	b.tb.Helper()
	if b.Kind == "mosquitto" {
		b.startMosquitto()
	} else {
		b.startMochi()
	}
	waitListening(b.tb, b.addr)
}

func (b *Broker) startMochi() {
	srv := mochi.New(&mochi.Options{Logger: quietLogger})
	if err := b.mochiAuth(srv); err != nil {
		b.tb.Fatal(err)
	}
	// The test owns the listener, so that Stop can close it first: the port is
	// free for Restart, and no client attaches while mochi closes. mochi's
	// websocket listener opens its own.
	var l net.Listener
	var settled *settledListener
	var listener listeners.Listener = listeners.NewWebsocket(listeners.Config{ID: "ws", Address: b.addr})
	if !b.ws {
		var err error
		if l, err = net.Listen("tcp", b.addr); err != nil {
			b.tb.Fatal(err)
		}
		served := l
		if b.tls {
			served = tls.NewListener(l, b.mochiTLS())
		}
		settled = newSettledListener("tcp", served)
		listener = settled
	}
	if err := srv.AddListener(listener); err != nil {
		b.tb.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		b.tb.Fatal(err)
	}
	b.mu.Lock()
	b.stop = func() {
		if l != nil {
			l.Close()
			if !settled.end(closeTimeout) {
				b.tb.Logf("mochi did not let its connections go within %s; closing it anyway", closeTimeout)
			}
		}
		// mochi v2.7.9's Close can deadlock when a client comes or goes at
		// that moment (Clients.GetByListener takes its read lock twice).
		// The port is already free; a stuck Close only leaks a goroutine.
		closed := make(chan struct{})
		go func() { _ = srv.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(closeTimeout):
			b.tb.Logf("mochi did not close within %s (its known lock bug); going on", closeTimeout)
		}
	}
	b.mu.Unlock()
}

// closeTimeout bounds the wait for the in-process broker to close.
const closeTimeout = 5 * time.Second

func (b *Broker) startMosquitto() {
	_, port, _ := net.SplitHostPort(b.addr)
	conf := filepath.Join(b.dir, "mosquitto.conf")
	// "user root" keeps a Mosquitto started by root (as CI runs) from
	// switching to its own user, which could not write to the test's folder.
	text := fmt.Sprintf("listener %s 127.0.0.1\n%s%spersistence true\npersistence_location %s/\nautosave_interval 0\nuser root\n",
		port, b.mosquittoTLS(), b.mosquittoAuth(), b.dir)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		b.tb.Fatal(err)
	}
	bin := mosquittoTool("mosquitto")
	if !fileExists(bin) {
		b.tb.Fatalf("%s=mosquitto but no mosquitto binary in PATH or /usr/sbin", EnvBroker)
	}
	cmd := exec.Command(bin, "-c", conf)
	// Mosquitto's log is shown only when the test fails, so it does not mix
	// with benchmark output.
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	b.tb.Cleanup(func() {
		if b.tb.Failed() {
			b.Stop()
			b.tb.Logf("mosquitto log:\n%s", out.String())
		}
	})
	if err := cmd.Start(); err != nil {
		b.tb.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	b.mu.Lock()
	b.stop = func() {
		_ = cmd.Process.Signal(os.Interrupt) // a clean stop saves the persistent sessions
		<-exited
	}
	b.mu.Unlock()
}

// quietLogger keeps mochi's connection chatter out of test output.
var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

func freeAddr(tb testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func waitListening(tb testing.TB, addr string) {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			return
		}
		if ctx.Err() != nil {
			tb.Fatalf("broker on %s did not start: %v", addr, err)
		}
		t := time.NewTimer(10 * time.Millisecond) // polling a port has no event to wait on
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
}
