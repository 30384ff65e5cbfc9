package mqtttest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
)

// Option changes how Start runs the broker.
type Option func(*Broker)

// WithUser makes the broker accept only the user name and password given,
// as the Home Assistant Mosquitto add-on does. Clients from Connect log in
// with them; SetUser changes what the broker accepts from its next Restart.
func WithUser(name, password string) Option {
	return func(b *Broker) { b.user, b.password = name, password }
}

// WithTLS makes the broker speak TLS only, with a certificate for 127.0.0.1
// signed by a new certificate authority whose PEM file is Broker.CAFile.
// The URL is then ssl://127.0.0.1:port.
func WithTLS() Option {
	return func(b *Broker) { b.tls = true }
}

// WithWebsocket makes the broker speak MQTT over websockets only, at
// ws://127.0.0.1:port/. It is always mochi: Debian 12's Mosquitto 2.0.11
// fails to open a websocket listener.
func WithWebsocket() Option {
	return func(b *Broker) { b.ws = true }
}

// SetUser changes the user and password the broker accepts once it is
// started again with Restart, and those Connect uses from then on.
func (b *Broker) SetUser(name, password string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.user, b.password = name, password
}

func (b *Broker) credentials() (user, password string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.user, b.password
}

// mochiAuth is the hook that lets clients in: anyone, or only the user.
func (b *Broker) mochiAuth(srv *mochi.Server) error {
	user, password := b.credentials()
	if user == "" {
		return srv.AddHook(new(auth.AllowHook), nil)
	}
	return srv.AddHook(new(auth.Hook), &auth.Options{Ledger: &auth.Ledger{
		Auth: auth.AuthRules{{Username: auth.RString(user), Password: auth.RString(password), Allow: true}},
		ACL:  auth.ACLRules{{}}, // a rule without filters allows every topic
	}})
}

// mosquittoAuth returns the lines of mosquitto.conf that let clients in,
// writing the password file they name.
func (b *Broker) mosquittoAuth() string {
	user, password := b.credentials()
	if user == "" {
		return "allow_anonymous true\n"
	}
	file := filepath.Join(b.dir, "passwords")
	_ = os.Remove(file)
	out, err := exec.Command(mosquittoTool("mosquitto_passwd"), "-c", "-b", file, user, password).CombinedOutput()
	if err != nil {
		b.tb.Fatalf("mosquitto_passwd: %v: %s", err, out)
	}
	return "allow_anonymous false\npassword_file " + file + "\n"
}

// mosquittoTool finds a Mosquitto program, which may sit outside PATH.
func mosquittoTool(name string) string {
	if bin, err := exec.LookPath(name); err == nil {
		return bin
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"} {
		if p := filepath.Join(dir, name); fileExists(p) {
			return p
		}
	}
	return name
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// certificates writes a certificate authority and a server certificate for
// 127.0.0.1 signed by it into the broker's folder, once.
func (b *Broker) certificates() (certFile, keyFile string) {
	certFile, keyFile = filepath.Join(b.dir, "server.pem"), filepath.Join(b.dir, "server.key")
	if b.CAFile != "" {
		return certFile, keyFile
	}
	b.CAFile = filepath.Join(b.dir, "ca.pem")
	caKey, caDER := newCert(b.tb, &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mqtttest CA"},
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}, nil, nil)
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		b.tb.Fatal(err)
	}
	key, der := newCert(b.tb, &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}, ca, caKey)
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		b.tb.Fatal(err)
	}
	writePEM(b.tb, b.CAFile, "CERTIFICATE", caDER)
	writePEM(b.tb, certFile, "CERTIFICATE", der)
	writePEM(b.tb, keyFile, "EC PRIVATE KEY", keyDER)
	return certFile, keyFile
}

// newCert signs template with parent's key (itself when parent is nil).
func newCert(tb testing.TB, template, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*ecdsa.PrivateKey, []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	template.NotBefore, template.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	if parent == nil {
		parent, parentKey = template, key
	}
	der, err := x509.CreateCertificate(rand.Reader, template, parent, &key.PublicKey, parentKey)
	if err != nil {
		tb.Fatal(err)
	}
	return key, der
}

func writePEM(tb testing.TB, path, kind string, der []byte) {
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		tb.Fatal(err)
	}
}

// mochiTLS is the listener's TLS configuration.
func (b *Broker) mochiTLS() *tls.Config {
	cert, err := tls.LoadX509KeyPair(b.certificates())
	if err != nil {
		b.tb.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
}

// mosquittoTLS returns the listener's TLS lines of mosquitto.conf.
func (b *Broker) mosquittoTLS() string {
	if !b.tls {
		return ""
	}
	cert, key := b.certificates()
	return fmt.Sprintf("certfile %s\nkeyfile %s\n", cert, key)
}

// ClientTLS is what a client needs to trust the broker's certificate; nil
// for a broker without TLS.
func (b *Broker) ClientTLS() *tls.Config {
	if !b.tls {
		return nil
	}
	pem, err := os.ReadFile(b.CAFile)
	if err != nil {
		b.tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}
