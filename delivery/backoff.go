package delivery

import (
	"errors"
	"math/rand/v2"
	"time"

	"github.com/messenger-bridge/messenger-bridge/graph"
)

// backoff returns how long to wait before attempt+1: "full jitter", a random
// duration up to base·2^(attempt-1) capped at max, so that many recipients
// retrying after one outage do not return in step. A Retry-After from Graph
// is a floor.
func backoff(attempt int, base, max time.Duration, err error) time.Duration {
	ceiling := max
	if attempt < 32 {
		if c := base << (attempt - 1); c > 0 && c < max {
			ceiling = c
		}
	}
	wait := rand.N(ceiling) + 1
	var gerr *graph.Error
	if errors.As(err, &gerr) && gerr.RetryAfter > wait {
		wait = gerr.RetryAfter
	}
	return wait
}
