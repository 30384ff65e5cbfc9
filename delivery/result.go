package delivery

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/messenger-bridge/messenger-bridge/graph"
	"github.com/messenger-bridge/messenger-bridge/household"
)

// Status is the outcome of one message for one recipient.
type Status string

// The statuses a result can carry (SPEC §4).
const (
	Sent    Status = "sent"
	Failed  Status = "failed"
	Expired Status = "expired"
)

// Result is published once per recipient per accepted message.
type Result struct {
	ID         string   `json:"id,omitempty"`
	Status     Status   `json:"status"`
	MessageIDs []string `json:"message_ids,omitempty"`
	Attempts   int      `json:"attempts,omitempty"`
	LatencyMS  int64    `json:"latency_ms,omitempty"`
	// Via is ViaTemplate for a message sent through the utility template
	// because the person's window was closed.
	Via string `json:"via,omitempty"`
	// Note says what of a sent message did not go, and why.
	Note  string     `json:"note,omitempty"`
	Error *ErrorInfo `json:"error,omitempty"`
}

// Encode returns r as published on a result topic (SPEC §4).
func (r Result) Encode() []byte {
	b, err := json.Marshal(r)
	if err != nil { // strings, numbers and a struct of them always marshal
		panic("delivery: cannot encode a result: " + err.Error())
	}
	return b
}

// ViaTemplate is Result.Via for a message sent through the utility template.
const ViaTemplate = "utility_template"

// ErrorInfo explains a failed or expired message to a person and to an
// automation: Graph's code and subcode when Graph answered, and a hint.
type ErrorInfo struct {
	Code      int    `json:"code,omitempty"`
	Subcode   int    `json:"subcode,omitempty"`
	Message   string `json:"message"`
	Hint      string `json:"hint,omitempty"`
	Retryable bool   `json:"retryable"`
}

// Failure returns the result for a message refused before any delivery was
// tried, such as a malformed payload or an unknown name.
func Failure(id string, err error) Result {
	return Result{ID: id, Status: Failed, Error: &ErrorInfo{Message: err.Error()}}
}

// describe turns a delivery error into what a result shows. Retryable says
// whether the same message could go through if published again later: the
// error is one Graph, or the attachment's source, may get over, as
// retryable classifies it.
func describe(name string, err error) *ErrorInfo {
	if we, ok := errors.AsType[*WindowError](err); ok {
		return we.info()
	}
	info := &ErrorInfo{Message: err.Error(), Retryable: retryable(context.Background(), err)}
	var gerr *graph.Error
	if errors.As(err, &gerr) {
		info.Code, info.Subcode = gerr.Code, gerr.Subcode
		if hint := gerr.Hint(); hint != "" {
			info.Hint = household.DisplayName(name) + ": " + hint
		}
	}
	return info
}
