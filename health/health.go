// Package health serves a process's liveness, readiness and metrics over
// HTTP, and probes them, so that a container without a shell can run its own
// binary as its HEALTHCHECK.
//
// The server answers three paths and nothing else:
//
//	GET /healthz  200 "ok" while the process serves at all
//	GET /readyz   200 "ok" when every Check passes; 503 and the first failure otherwise
//	GET /metrics  the metrics handler given to Handler
package health

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"strings"
	"time"
)

// Paths the Handler serves.
const (
	LivePath    = "/healthz"
	ReadyPath   = "/readyz"
	MetricsPath = "/metrics"
)

// Server timings. Probes and scrapes are small and local; a client that
// holds a connection open longer is not one of them.
const (
	readHeaderTimeout = 5 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = time.Minute
	// ShutdownTimeout bounds how long Serve waits for requests in flight once
	// its context ends.
	ShutdownTimeout = 3 * time.Second
)

// Check reports why the process is not ready, or nil when it is. It is called
// on every readiness request, so it must be quick and safe for concurrent use.
// Its error text is served as the reason: it must hold no secret.
type Check func() error

// Handler returns the handler for the three paths. metrics, which must not be
// nil, is served at MetricsPath; ready are the readiness checks, tried in
// order. Any other path
// is answered 404, and any method but GET or HEAD on a known path 405.
func Handler(metrics http.Handler, ready ...Check) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+LivePath, func(w http.ResponseWriter, _ *http.Request) {
		reply(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET "+ReadyPath, func(w http.ResponseWriter, _ *http.Request) {
		for _, check := range ready {
			if err := check(); err != nil {
				reply(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
				return
			}
		}
		reply(w, http.StatusOK, "ok")
	})
	mux.Handle("GET "+MetricsPath, metrics)
	return mux
}

// reply writes a one-line plain-text answer that no cache keeps.
func reply(w http.ResponseWriter, status int, text string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	fmt.Fprintln(w, strings.Join(strings.Fields(text), " "))
}

// Serve serves h on l until ctx ends, then stops accepting connections and
// waits up to ShutdownTimeout for requests in flight before closing the rest.
// It returns nil after such a stop, or the error that ended serving before
// it. Serve closes l. errorLog receives the server's own errors, such as
// failed accepts; nil means the log package's standard logger.
func Serve(ctx context.Context, l net.Listener, h http.Handler, errorLog *log.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          errorLog,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()

	select {
	case err := <-served:
		return fmt.Errorf("serving HTTP on %s: %w", l.Addr(), err)
	case <-ctx.Done():
	}
	stop, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(stop); err != nil {
		// A scrape that outlives the deadline is cut off; the stop itself
		// went as asked, so it is not reported as a failure.
		srv.Close()
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving HTTP on %s: %w", l.Addr(), err)
	}
	return nil
}
