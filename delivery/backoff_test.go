package delivery

import (
	"errors"
	"fmt"
	"testing"
	"time"

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
