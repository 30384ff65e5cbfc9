package mqttsession

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/rs/zerolog"
)

// refusedDial is the error of a real connection attempt to a port nothing
// listens on, wrapped as paho wraps it.
func refusedDial(t *testing.T) error {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c, err := net.Dial("tcp", addr)
	if err == nil {
		c.Close()
		t.Skip("something took the port again")
	}
	return fmt.Errorf("%w : %w", packets.ErrorNetworkError, err)
}

// While the reason stays the same the warning comes at most every 10 s; a
// new reason is said at once; after a connection the next failure is said
// at once.
func TestConnWatchRepeatsAReasonEvery10s(t *testing.T) {
	var buf bytes.Buffer
	w := newConnWatch(zerolog.New(&buf), "tcp://broker.lan:1883", "bridge")
	clock := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	w.now = func() time.Time { return clock }
	refused := refusedDial(t)

	steps := []struct {
		after  time.Duration
		err    error
		level  string
		reason string
	}{
		{0, packets.ErrorRefusedNotAuthorised, "warn", "not authorised"},
		{5 * time.Second, packets.ErrorRefusedNotAuthorised, "debug", "not authorised"},
		{4 * time.Second, packets.ErrorRefusedNotAuthorised, "debug", "not authorised"},
		{time.Second, packets.ErrorRefusedNotAuthorised, "warn", "not authorised"}, // 10 s after the last warning
		{time.Second, refused, "warn", "connection refused"},                       // a new reason
		{time.Second, packets.ErrorRefusedBadUsernameOrPassword, "warn", "bad user name or password"},
		{time.Second, packets.ErrorRefusedBadUsernameOrPassword, "debug", "bad user name or password"},
		{0, nil, "info", ""}, // connected
		{time.Second, packets.ErrorRefusedBadUsernameOrPassword, "warn", "bad user name or password"},
	}
	for i, s := range steps {
		clock = clock.Add(s.after)
		buf.Reset()
		if s.err == nil {
			w.connected()
		} else {
			w.failed(s.err)
		}
		var got struct{ Level, Reason string }
		if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
			t.Fatalf("step %d: log %q: %v", i, buf.String(), err)
		}
		if got.Level != s.level || got.Reason != s.reason {
			t.Errorf("step %d (%v): logged %s %q, want %s %q", i, s.err, got.Level, got.Reason, s.level, s.reason)
		}
	}
}

func TestConnWatchDescribesFailures(t *testing.T) {
	w := newConnWatch(zerolog.Nop(), "ws://broker.lan:9001/mqtt?token=abc123", "")
	tests := []struct {
		err    error
		reason string
		hint   string
	}{
		{packets.ErrorRefusedNotAuthorised, "not authorised", "set MQTT_USERNAME and MQTT_PASSWORD"},
		{packets.ErrorRefusedIDRejected, "client id rejected", "MQTT_CLIENT_ID"},
		{refusedDial(t), "connection refused", "is the broker running"},
		{fmt.Errorf("%w : %w", packets.ErrorNetworkError, &net.DNSError{Err: "no such host", Name: "broker.lan", IsNotFound: true}),
			"DNS failure: cannot resolve broker.lan", "host name in MQTT_URL"},
		{fmt.Errorf("%w : %w", packets.ErrorNetworkError, &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}),
			"timeout", "did not answer within 10s"},
		{fmt.Errorf("%w : dial ws://broker.lan:9001/mqtt?token=abc123: odd", packets.ErrorNetworkError), "odd", "MQTT_URL"},
	}
	for _, tt := range tests {
		reason, hint := w.describe(tt.err)
		if reason != tt.reason || !strings.Contains(hint, tt.hint) {
			t.Errorf("describe(%v) = %q, %q; want %q and a hint with %q", tt.err, reason, hint, tt.reason, tt.hint)
		}
	}
	if got := w.scrub("dial ws://broker.lan:9001/mqtt?token=abc123: odd"); strings.Contains(got, "abc123") {
		t.Errorf("scrub left the URL's token: %q", got)
	}
}
