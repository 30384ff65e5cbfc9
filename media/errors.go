package media

import (
	"errors"
	"fmt"
	"net/http"
)

var (
	// ErrTooLarge is reported, wrapped, for an attachment over MaxSize:
	// by Open when the size is known beforehand, by Media.Body otherwise.
	ErrTooLarge = fmt.Errorf("attachment exceeds Messenger's %d MB limit", MaxSize>>20)

	// ErrPublicURL is returned by Open for an attachment with a PublicURL,
	// which Facebook downloads itself and the bridge never fetches.
	ErrPublicURL = errors.New("public_url attachments are sent to Facebook as a link, not fetched")
)

// Permanent reports whether retrying the fetch that returned err cannot
// succeed without a change by a person: a refused or missing file, an
// invalid source, a 4xx answer (except 408, 425 and 429), or an attachment
// over MaxSize. Timeouts, connection failures and 5xx answers are transient.
func Permanent(err error) bool {
	if err == nil {
		return false
	}
	if se, ok := errors.AsType[*statusError](err); ok {
		return se.permanent()
	}
	if errors.Is(err, ErrTooLarge) || errors.Is(err, ErrPublicURL) {
		return true
	}
	_, ok := errors.AsType[*refusal](err)
	return ok
}

// refusal is an error retrying cannot fix: the request itself is wrong.
type refusal struct{ err error }

func (r *refusal) Error() string { return r.err.Error() }
func (r *refusal) Unwrap() error { return r.err }

// refuse formats a permanent error, as fmt.Errorf does.
func refuse(format string, args ...any) error {
	return &refusal{fmt.Errorf(format, args...)}
}

// statusError is a non-2xx answer to a fetch.
type statusError struct {
	code int
	msg  string // replaces the status line when set
}

func (e *statusError) Error() string {
	if e.msg != "" {
		return e.msg
	}
	return fmt.Sprintf("%d %s", e.code, http.StatusText(e.code))
}

func (e *statusError) permanent() bool {
	switch e.code {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
		return false
	}
	return e.code < 500
}

// tooLarge reports that what has size bytes, over MaxSize.
func tooLarge(what string, size int64) error {
	return fmt.Errorf("%s is %.1f MB: %w", what, float64(size)/(1<<20), ErrTooLarge)
}
