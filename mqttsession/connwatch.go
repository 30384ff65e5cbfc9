package mqttsession

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/rs/zerolog"
)

// repeatEvery is how often a connection failure that keeps its reason is
// logged again at warn, as Zigbee2MQTT repeats "Not connected to MQTT
// server!" every 10 s; the attempts in between are logged at debug.
const repeatEvery = 10 * time.Second

// connWatch is the one place that knows how the broker connection fares:
// it logs each failed attempt with the broker's reason in plain words, and
// says why the session is not connected for /readyz. It is safe for
// concurrent use; paho calls it on its own goroutines, so it never blocks.
type connWatch struct {
	log    zerolog.Logger
	broker string // the broker's scheme and host, safe to show
	rawURL string // MQTT_URL, scrubbed from error texts
	user   string // MQTT_USERNAME, named in hints
	now    func() time.Time

	mu         sync.Mutex
	problem    string    // why the session is not connected and subscribed; "" while it is, or before any attempt
	lastReason string    // reason of the last failed attempt since the session was last connected
	lastWarn   time.Time // when that reason was last logged at warn
	failures   int       // failed attempts since the session was last connected
}

func newConnWatch(log zerolog.Logger, rawURL, user string) *connWatch {
	return &connWatch{log: log, broker: BrokerHost(rawURL), rawURL: rawURL, user: user, now: time.Now}
}

// notify is paho's ConnectionNotificationHandler: paho reports every failed
// attempt through it, with ConnectRetry too, where Connect's token would
// report nothing until the session stops.
func (w *connWatch) notify(_ mqtt.Client, n mqtt.ConnectionNotification) {
	if f, ok := n.(mqtt.ConnectionNotificationFailed); ok {
		w.failed(f.Reason)
	}
}

// failed logs a failed connection attempt: at warn when its reason is new
// or was last said repeatEvery ago, at debug otherwise.
func (w *connWatch) failed(err error) {
	reason, hint := w.describe(err)
	w.mu.Lock()
	w.failures++
	now, attempts := w.now(), w.failures
	loud := reason != w.lastReason || now.Sub(w.lastWarn) >= repeatEvery
	if loud {
		w.lastReason, w.lastWarn = reason, now
	}
	w.problem = "not connected to " + w.broker + ": " + reason + " (" + hint + "); retrying"
	w.mu.Unlock()

	ev := w.log.Debug()
	if loud {
		ev = w.log.Warn()
	}
	ev.Str("broker", w.broker).Str("reason", reason).Str("hint", hint).Int("failed_attempts", attempts).
		Str("error", w.scrub(err.Error())).Msg("not connected to the MQTT broker: " + reason)
}

// connected forgets the failures: the next one is logged at once.
func (w *connWatch) connected() {
	w.mu.Lock()
	attempts := w.failures
	w.problem, w.lastReason, w.failures = "", "", 0
	w.mu.Unlock()
	ev := w.log.Info()
	if attempts > 0 {
		ev = ev.Int("failed_attempts", attempts)
	}
	ev.Str("broker", w.broker).Msg("connected to the MQTT broker")
}

// lost records a dropped connection; paho is reconnecting. paho calls it on
// a goroutine of its own, which may run after the first attempt to
// reconnect failed: that attempt's reason is kept.
func (w *connWatch) lost(err error) {
	w.log.Warn().Str("broker", w.broker).Str("error", w.scrub(err.Error())).Msg("MQTT connection lost; reconnecting")
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failures == 0 {
		w.problem = "not connected to " + w.broker + ": the connection was lost; reconnecting"
	}
}

// subscribeFailed records that the broker took the connection but not the
// subscriptions, as a refusing ACL does.
func (w *connWatch) subscribeFailed(err error) {
	w.set("connected to " + w.broker + " but not subscribed: " + w.scrub(err.Error()) + "; retrying")
}

func (w *connWatch) set(problem string) {
	w.mu.Lock()
	w.problem = problem
	w.mu.Unlock()
}

// why says why the session is not connected and subscribed; "" when it knows
// of no failure.
func (w *connWatch) why() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.problem
}

// scrub replaces MQTT_URL by its scheme and host in an error's text: the
// path or query of a ws:// URL may carry a token.
func (w *connWatch) scrub(text string) string {
	if w.rawURL == "" || w.broker == "" {
		return text
	}
	return strings.ReplaceAll(text, w.rawURL, w.broker)
}

// describe names the reason of a failed connection attempt in plain words,
// with what the user can check. err is what paho reports: a CONNACK
// refusal (packets.ConnErrors) or a network error wrapped in
// packets.ErrorNetworkError.
func (w *connWatch) describe(err error) (reason, hint string) {
	var (
		dns      *net.DNSError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		verify   *tls.CertificateVerificationError
		record   tls.RecordHeaderError
		alert    tls.AlertError
		netErr   net.Error
	)
	switch {
	case errors.Is(err, packets.ErrorRefusedNotAuthorised):
		return "not authorised", w.credentialHint()
	case errors.Is(err, packets.ErrorRefusedBadUsernameOrPassword):
		return "bad user name or password", w.credentialHint()
	case errors.Is(err, packets.ErrorRefusedIDRejected):
		return "client id rejected", "set another MQTT_CLIENT_ID: up to 23 letters and digits is always accepted"
	case errors.Is(err, packets.ErrorRefusedServerUnavailable):
		return "the broker is unavailable", "the broker is up but takes no clients now; see its log"
	case errors.Is(err, packets.ErrorRefusedBadProtocolVersion):
		return "the broker does not speak MQTT 3.1.1", "use a broker that does, such as Mosquitto 1.3 or later"
	case errors.As(err, &dns):
		return "DNS failure: cannot resolve " + dns.Name, "check the host name in MQTT_URL"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused", "nothing listens at " + w.broker + ": is the broker running, and is the port in MQTT_URL right?"
	case errors.As(err, &unknown), errors.As(err, &hostname), errors.As(err, &invalid), errors.As(err, &verify),
		errors.As(err, &record), errors.As(err, &alert):
		return "TLS failure: " + tlsDetail(err), "check MQTT_CA_FILE and MQTT_CERT_FILE/MQTT_KEY_FILE, and that this port speaks TLS"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timeout", fmt.Sprintf("the broker did not answer within %s: check the host and port in MQTT_URL, and any firewall", connectTimeout)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		return "the broker closed the connection", "see the broker's log; a TLS port is reached with ssl://, not tcp://"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "host unreachable", "check the host in MQTT_URL and the network"
	}
	text := err.Error()
	if i := strings.LastIndex(text, ": "); i >= 0 {
		text = text[i+2:] // the cause, without paho's "network Error : dial tcp …" prefix
	}
	return w.scrub(text), "check MQTT_URL and the broker's log"
}

// tlsDetail is the last part of a TLS error, such as "certificate signed
// by unknown authority".
func tlsDetail(err error) string {
	text := err.Error()
	for _, prefix := range []string{"x509: ", "tls: "} {
		if i := strings.LastIndex(text, prefix); i >= 0 {
			return text[i+len(prefix):]
		}
	}
	return text
}

func (w *connWatch) credentialHint() string {
	if w.user == "" {
		return "the broker wants a user: set MQTT_USERNAME and MQTT_PASSWORD"
	}
	return fmt.Sprintf("the broker refused user %q: check MQTT_USERNAME and MQTT_PASSWORD, and that the broker knows this user", w.user)
}
