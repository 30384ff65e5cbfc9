package delivery

import (
	"errors"
	"math/rand/v2"
	"time"

	"github.com/messenger-bridge/messenger-bridge/graph"
)

// backoff returns how long to wait before attempt+1: "full jitter", a random
// duration in (0, base·2^(attempt-1)], capped at limit, so that many
// recipients retrying after one outage do not return in step.
func backoff(attempt int, base, limit time.Duration) time.Duration {
	ceiling := limit
	if n := attempt - 1; n >= 0 && n < 63 {
		if c := base << n; c>>n == base && c < limit { // c>>n != base: overflow
			ceiling = c
		}
	}
	return rand.N(ceiling) + 1
}

// retryAfter is how long Graph asked everyone to wait after err: its
// Retry-After header or estimated_time_to_regain_access, whichever is
// longer, or at least restricted for a restricted page; 0 if none.
func retryAfter(err error, restricted time.Duration) time.Duration {
	var gerr *graph.Error
	if !errors.As(err, &gerr) {
		return 0
	}
	wait := max(gerr.RetryAfter, gerr.Regain)
	if gerr.PageRestricted() {
		return max(wait, restricted)
	}
	return wait
}
