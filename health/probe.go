package health

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
)

// maxReason bounds how much of a failed probe's answer is quoted: the
// Handler's reasons are one short line.
const maxReason = 512

// probeClient never goes through a proxy: the server probed is local.
var probeClient = &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}

// Probe GETs url and returns nil when it answers 200, or an error holding the
// status and the first line of the answer, such as "http://127.0.0.1:8080/readyz
// answered 503 Service Unavailable: not ready: …". It gives up when ctx ends.
func Probe(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("probe %s: %w", url, err)
	}
	resp, err := probeClient.Do(req)
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxReason)) // the status says enough without it
	reason, _, _ := strings.Cut(string(body), "\n")
	if reason = strings.TrimSpace(reason); reason == "" {
		return fmt.Errorf("%s answered %s", url, resp.Status)
	}
	return fmt.Errorf("%s answered %s: %s", url, resp.Status, reason)
}

// LocalURL returns the URL at which a process on the same host reaches path on
// a server listening on addr, a host:port such as ":8080". A listener on all
// interfaces (no host, 0.0.0.0 or ::) is reached on 127.0.0.1.
func LocalURL(addr, path string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("want host:port such as :8080, got %q: %w", addr, err)
	}
	if port == "" || port == "0" {
		return "", fmt.Errorf("want a fixed port in %q", addr)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + path, nil
}
