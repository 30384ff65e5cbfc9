package delivery

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/messenger-bridge/messenger-bridge/graph"
)

// samples is how many draws each backoff check takes: enough that a draw in
// the top half of the range is all but certain (one chance in 2^1000 of
// none), so a ceiling that did not grow would be seen.
const samples = 1000

func TestBackoff(t *testing.T) {
	const base, limit = time.Second, 5 * time.Minute
	tests := []struct {
		attempt int
		ceiling time.Duration
	}{
		{1, time.Second},
		{2, 2 * time.Second},
		{3, 4 * time.Second},
		{9, 256 * time.Second},
		{10, limit}, // 512 s, capped
		{40, limit},
		{63, limit}, // base << 62 overflows
		{1 << 30, limit},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint("attempt ", tt.attempt), func(t *testing.T) {
			var longest time.Duration
			for range samples {
				d := backoff(tt.attempt, base, limit)
				if d <= 0 || d > tt.ceiling {
					t.Fatalf("backoff = %v, want within (0, %v]", d, tt.ceiling)
				}
				longest = max(longest, d)
			}
			if longest <= tt.ceiling/2 {
				t.Errorf("longest of %d waits is %v: not jittered over (0, %v]", samples, longest, tt.ceiling)
			}
		})
	}
}

// TestBackoffBaseAboveMax checks that the limit bounds even the first wait.
func TestBackoffBaseAboveMax(t *testing.T) {
	for range samples {
		if d := backoff(1, time.Minute, time.Second); d <= 0 || d > time.Second {
			t.Fatalf("backoff = %v, want within (0, 1s]", d)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want time.Duration
	}{
		{"graph error with header", &graph.Error{Status: 503, RetryAfter: 30 * time.Second}, 30 * time.Second},
		{"wrapped", fmt.Errorf("send: %w", &graph.Error{Status: 429, Code: 4, RetryAfter: time.Minute}), time.Minute},
		{"graph error without header", &graph.Error{Status: 503}, 0},
		{"other error", errors.New("connection refused"), 0},
		{"restricted page", &graph.Error{Status: 400, Code: 10, Subcode: 1893063}, 7 * time.Minute},
		{"restricted page, longer Retry-After", &graph.Error{Status: 400, Code: 10, Subcode: 1893063, RetryAfter: time.Hour}, time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := retryAfter(tt.err, 7*time.Minute); got != tt.want {
				t.Errorf("retryAfter = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestProbeWait checks the waits between probes while Graph fails for
// everyone: never under ProbeFloor, under ServerProbeMax for Graph's own
// failures and BudgetProbeMax for a spent budget, growing with the outage,
// and exactly what Graph asked for when it said.
func TestProbeWait(t *testing.T) {
	d := New(nil, nil, nil, Options{}, zerolog.Nop())
	server := &graph.Error{Status: 503, Code: graph.CodeService}
	budget := &graph.Error{Status: 400, Code: graph.CodeRateLimit}
	tests := []struct {
		name     string
		scope    graph.Scope
		lasted   time.Duration
		err      error
		low, top time.Duration // the range, and the top half must be drawn
	}{
		{"server, at once", graph.ScopeServer, 0, server, DefaultProbeFloor, 2 * DefaultProbeFloor},
		{"server, 12 s on", graph.ScopeServer, 12 * time.Second, server, DefaultProbeFloor, 6 * time.Second},
		{"server, an hour on", graph.ScopeServer, time.Hour, server, DefaultProbeFloor, DefaultServerProbeMax},
		{"budget, 10 s on", graph.ScopeBudget, 10 * time.Second, budget, DefaultProbeFloor, 5 * time.Second},
		{"budget, an hour on", graph.ScopeBudget, time.Hour, budget, DefaultProbeFloor, DefaultBudgetProbeMax},
		{"Retry-After", graph.ScopeServer, 0, &graph.Error{Status: 503, RetryAfter: 30 * time.Second}, 30 * time.Second, 30 * time.Second},
		{"Retry-After below the floor", graph.ScopeServer, 0, &graph.Error{Status: 503, RetryAfter: time.Second}, DefaultProbeFloor, DefaultProbeFloor},
		{"regain access", graph.ScopeBudget, 0, &graph.Error{Status: 400, Code: 80006, Regain: 19 * time.Minute}, 19 * time.Minute, 19 * time.Minute},
		{"restricted page", graph.ScopePage, 0, &graph.Error{Status: 400, Code: 10, Subcode: 1893063}, DefaultRestrictedHold, DefaultRestrictedHold},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var longest time.Duration
			for range samples {
				w := d.probeWait(tt.scope, tt.lasted, tt.err)
				if w < tt.low || w > tt.top {
					t.Fatalf("probeWait = %v, want within [%v, %v]", w, tt.low, tt.top)
				}
				longest = max(longest, w)
			}
			if longest < tt.low+(tt.top-tt.low)/2 {
				t.Errorf("longest of %d waits is %v: not jittered up to %v", samples, longest, tt.top)
			}
		})
	}
}
