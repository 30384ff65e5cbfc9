package health_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/messenger-bridge/messenger-bridge/health"
)

// wait bounds how long a test waits for something it expects.
const wait = 10 * time.Second

const metricsBody = "# TYPE up gauge\nup 1\n"

var fakeMetrics = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	io.WriteString(w, metricsBody)
})

// switchable is a readiness check whose answer the test sets.
type switchable struct{ err atomic.Pointer[error] }

func (s *switchable) set(err error) { s.err.Store(&err) }

func (s *switchable) check() error {
	if p := s.err.Load(); p != nil {
		return *p
	}
	return nil
}

func get(t *testing.T, h http.Handler, method, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec
}

func TestHandlerServesThreePathsOnly(t *testing.T) {
	h := health.Handler(fakeMetrics)
	tests := []struct {
		method, path string
		status       int
		body         string // exact body; "" skips the comparison
	}{
		{"GET", "/healthz", 200, "ok\n"},
		{"HEAD", "/healthz", 200, ""},
		{"GET", "/readyz", 200, "ok\n"},
		{"GET", "/metrics", 200, metricsBody},
		{"POST", "/healthz", 405, ""},
		{"DELETE", "/metrics", 405, ""},
		{"GET", "/", 404, ""},
		{"GET", "/healthz/", 404, ""},
		{"GET", "/metrics/x", 404, ""},
		{"GET", "/debug/pprof/", 404, ""},
		{"GET", "/favicon.ico", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			rec := get(t, h, tt.method, tt.path)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d", rec.Code, tt.status)
			}
			if tt.body != "" && rec.Body.String() != tt.body {
				t.Fatalf("body %q, want %q", rec.Body, tt.body)
			}
		})
	}
}

func TestProbeAnswersAreUncachedPlainText(t *testing.T) {
	h := health.Handler(fakeMetrics, func() error { return errors.New("down") })
	for _, path := range []string{health.LivePath, health.ReadyPath} {
		hdr := get(t, h, "GET", path).Header()
		want := map[string]string{
			"Content-Type":           "text/plain; charset=utf-8",
			"Cache-Control":          "no-store",
			"X-Content-Type-Options": "nosniff",
		}
		for k, v := range want {
			if got := hdr.Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", path, k, got, v)
			}
		}
	}
}

func TestReadinessFollowsChecks(t *testing.T) {
	var broker, store switchable
	h := health.Handler(fakeMetrics, broker.check, store.check)
	steps := []struct {
		broker, store error
		status        int
		body          string
	}{
		{nil, nil, 200, "ok\n"},
		{errors.New("not connected to the broker"), nil, 503, "not ready: not connected to the broker\n"},
		{errors.New("not connected to the broker"), errors.New("full"), 503, "not ready: not connected to the broker\n"},
		{nil, errors.New("the outbox is full:\n10 waiting"), 503, "not ready: the outbox is full: 10 waiting\n"},
		{nil, nil, 200, "ok\n"},
	}
	for i, s := range steps {
		broker.set(s.broker)
		store.set(s.store)
		rec := get(t, h, "GET", health.ReadyPath)
		if rec.Code != s.status || rec.Body.String() != s.body {
			t.Errorf("step %d: %d %q, want %d %q", i, rec.Code, rec.Body, s.status, s.body)
		}
		if live := get(t, h, "GET", health.LivePath); live.Code != 200 {
			t.Errorf("step %d: liveness %d, want 200 whatever readiness says", i, live.Code)
		}
	}
}

// notifyListener tells when it is closed, which Shutdown does first.
type notifyListener struct {
	net.Listener
	once   sync.Once
	closed chan struct{}
}

func (l *notifyListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

func listen(t *testing.T) *notifyListener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return &notifyListener{Listener: l, closed: make(chan struct{})}
}

func TestServeFinishesRequestsInFlight(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	slow := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, metricsBody)
	})
	l := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- health.Serve(ctx, l, health.Handler(slow), nil) }()

	answered := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://" + l.Addr().String() + health.MetricsPath)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(body) != metricsBody {
				err = errors.New("answered " + resp.Status + ": " + string(body))
			}
		}
		answered <- err
	}()
	<-entered
	cancel()
	select {
	case <-l.closed: // shutting down: no new connections
	case <-time.After(wait):
		t.Fatal("Serve did not stop listening when its context ended")
	}
	select {
	case err := <-served:
		t.Fatalf("Serve returned (%v) with a request in flight", err)
	default:
	}
	close(release)
	if err := <-answered; err != nil {
		t.Fatalf("request in flight during shutdown: %v", err)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve after a clean stop: %v", err)
		}
	case <-time.After(wait):
		t.Fatal("Serve did not return after its last request")
	}
}

func TestServeReportsAFailedListener(t *testing.T) {
	l := listen(t)
	l.Close()
	err := health.Serve(context.Background(), l, health.Handler(fakeMetrics), nil)
	if err == nil || !strings.Contains(err.Error(), l.Addr().String()) {
		t.Fatalf("Serve on a closed listener = %v, want an error naming its address", err)
	}
}

func TestProbe(t *testing.T) {
	var ready switchable
	srv := httptest.NewServer(health.Handler(fakeMetrics, ready.check))
	defer srv.Close()
	ctx := context.Background()

	if err := health.Probe(ctx, srv.URL+health.LivePath); err != nil {
		t.Fatalf("live: %v", err)
	}
	if err := health.Probe(ctx, srv.URL+health.ReadyPath); err != nil {
		t.Fatalf("ready: %v", err)
	}
	ready.set(errors.New("not connected to the MQTT broker"))
	err := health.Probe(ctx, srv.URL+health.ReadyPath)
	if err == nil || !strings.Contains(err.Error(), "503 Service Unavailable: not ready: not connected to the MQTT broker") {
		t.Fatalf("not ready: %v, want the status and the reason", err)
	}
	if err := health.Probe(ctx, srv.URL+"/nowhere"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("unknown path: %v, want a 404 error", err)
	}

	addr := srv.Listener.Addr().String()
	srv.Close()
	if err := health.Probe(ctx, "http://"+addr+health.LivePath); err == nil {
		t.Fatal("a probe of a stopped server succeeded")
	}
}

func TestLocalURL(t *testing.T) {
	tests := []struct {
		addr, want string
		wantErr    bool
	}{
		{":8080", "http://127.0.0.1:8080/healthz", false},
		{"0.0.0.0:9000", "http://127.0.0.1:9000/healthz", false},
		{"[::]:8080", "http://127.0.0.1:8080/healthz", false},
		{"127.0.0.1:8080", "http://127.0.0.1:8080/healthz", false},
		{"[::1]:8080", "http://[::1]:8080/healthz", false},
		{"192.168.1.5:8080", "http://192.168.1.5:8080/healthz", false},
		{"localhost:8080", "http://localhost:8080/healthz", false},
		{"8080", "", true},
		{":0", "", true},
		{"", "", true},
	}
	for _, tt := range tests {
		got, err := health.LocalURL(tt.addr, health.LivePath)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("LocalURL(%q) = %q, %v; want %q (error %v)", tt.addr, got, err, tt.want, tt.wantErr)
		}
	}
}
