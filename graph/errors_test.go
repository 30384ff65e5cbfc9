package graph_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/messenger-bridge/messenger-bridge/graph"
)

func TestClassifyAndHint(t *testing.T) {
	tests := []struct {
		name    string
		err     *graph.Error
		verdict graph.Verdict
		hint    string // a part of Hint
		token   bool   // TokenInvalid
	}{
		{"unknown", &graph.Error{Status: 500, Code: 1}, graph.Retry, "temporary problem", false},
		{"service", &graph.Error{Status: 503, Code: 2, Transient: true}, graph.Retry, "temporary problem", false},
		{"app throttle", &graph.Error{Status: 400, Code: 4}, graph.Retry, "SEND_RATE", false},
		{"user throttle", &graph.Error{Status: 400, Code: 17}, graph.Retry, "SEND_RATE", false},
		{"page throttle", &graph.Error{Status: 400, Code: 32}, graph.Retry, "SEND_RATE", false},
		{"app limit", &graph.Error{Status: 400, Code: 341}, graph.Retry, "SEND_RATE", false},
		{"messenger rate limit", &graph.Error{Status: 400, Code: 613}, graph.Retry, "SEND_RATE", false},
		{"business use case limit", &graph.Error{Status: 400, Code: 80006}, graph.Retry, "SEND_RATE", false},
		{"temporary send failure", &graph.Error{Status: 500, Code: 1200, Subcode: 2018024}, graph.Retry, "temporary problem", false},
		{"is_transient", &graph.Error{Status: 400, Code: 12345, Transient: true}, graph.Retry, "temporary problem", false},
		{"429 without code", &graph.Error{Status: 429}, graph.Retry, "SEND_RATE", false},
		{"5xx without code", &graph.Error{Status: 502}, graph.Retry, "temporary problem", false},
		{"5xx with unknown code", &graph.Error{Status: 500, Code: 99999}, graph.Retry, "temporary problem", false},
		{"token invalid", &graph.Error{Status: 400, Code: 190}, graph.Unrecoverable, "page token is invalid or expired; make a new long-lived page token (messenger-bridge token exchange) and set FB_PAGE_TOKEN", true},
		{"token expired", &graph.Error{Status: 400, Code: 190, Subcode: 463}, graph.Unrecoverable, "has expired", true},
		{"token password changed", &graph.Error{Status: 400, Code: 190, Subcode: 460}, graph.Unrecoverable, "password", true},
		{"token logged out", &graph.Error{Status: 400, Code: 190, Subcode: 467}, graph.Unrecoverable, "invalidated", true},
		{"token app removed", &graph.Error{Status: 400, Code: 190, Subcode: 458}, graph.Unrecoverable, "app was removed", true},
		{"session", &graph.Error{Status: 400, Code: 102}, graph.Unrecoverable, "FB_PAGE_TOKEN", true},
		{"token on 5xx", &graph.Error{Status: 500, Code: 190}, graph.Unrecoverable, "FB_PAGE_TOKEN", true},
		{"outside window", &graph.Error{Status: 400, Code: 10, Subcode: 2018278}, graph.Unrecoverable, "has not written to the page in 24 hours; ask them to send the page any message, or set FB_UTILITY_TEMPLATE", false},
		{"outside window, 2026", &graph.Error{Status: 400, Code: 10, Subcode: 2534022}, graph.Unrecoverable, "has not written to the page in 24 hours", false},
		{"retired tag", &graph.Error{Status: 400, Code: 100, Subcode: 1893061, Message: "Invalid parameter"}, graph.Unrecoverable, "refuses this message tag since 2026-04-27; unset FB_MESSAGE_TAG", false},
		{"page restricted", &graph.Error{Status: 400, Code: 10, Subcode: 1893063}, graph.Retry, "temporarily restricted the page", false},
		{"no role on the app", &graph.Error{Status: 400, Code: 200, Subcode: 2018028}, graph.Unrecoverable, "add them under App roles as a tester", false},
		{"template not found", &graph.Error{Status: 400, Code: 100, Message: "(#100) Template cannot be found."}, graph.Unrecoverable, "messenger-bridge template check", false},
		{"template parameter", &graph.Error{Status: 400, Code: 100, Subcode: 1893043}, graph.Unrecoverable, "character templates refuse", false},
		{"no utility permission", &graph.Error{Status: 400, Code: 10, Message: "(#10) This endpoint requires the 'pages_utility_messaging' permission to manage the object"}, graph.Unrecoverable, "lacks the pages_utility_messaging permission", false},
		{"outside window, subscription", &graph.Error{Status: 400, Code: 10, Subcode: 2018065}, graph.Unrecoverable, "24 hours", false},
		{"not receiving", &graph.Error{Status: 400, Code: 10, Subcode: 2018108}, graph.Unrecoverable, "isn't available", false},
		{"permission", &graph.Error{Status: 403, Code: 10}, graph.Unrecoverable, "pages_messaging", false},
		{"api permission", &graph.Error{Status: 403, Code: 200}, graph.Unrecoverable, "pages_messaging", false},
		{"api permission range", &graph.Error{Status: 403, Code: 230}, graph.Unrecoverable, "pages_messaging", false},
		{"method", &graph.Error{Status: 400, Code: 3}, graph.Unrecoverable, "pages_messaging", false},
		{"unavailable via 200", &graph.Error{Status: 400, Code: 200, Subcode: 1545041}, graph.Unrecoverable, "isn't available", false},
		{"no such user", &graph.Error{Status: 400, Code: 100, Subcode: 2018001}, graph.Unrecoverable, "no such user: the PSID is wrong or belongs to another page", false},
		{"attachment too large", &graph.Error{Status: 400, Code: 100, Subcode: 2018109}, graph.Unrecoverable, "25 MB", false},
		{"bad appsecret_proof", &graph.Error{Status: 400, Code: 100, Message: "Invalid appsecret_proof provided in the API argument"}, graph.Unrecoverable, "FB_APP_SECRET", false},
		{"bad parameter", &graph.Error{Status: 400, Code: 100}, graph.Unrecoverable, "parameter", false},
		{"user unavailable", &graph.Error{Status: 400, Code: 551, Subcode: 1545041}, graph.Unrecoverable, "blocked the page", false},
		{"policy block", &graph.Error{Status: 400, Code: 368}, graph.Unrecoverable, "policy", false},
		{"unknown code", &graph.Error{Status: 400, Code: 99999}, graph.Unrecoverable, "error reference", false},
		{"unknown code with user message", &graph.Error{Status: 400, Code: 99999, UserMessage: "Try something else"}, graph.Unrecoverable, "Try something else", false},
	}
	ctx := t.Context()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wrapped := fmt.Errorf("sending: %w", tt.err)
			if got := graph.Classify(ctx, wrapped); got != tt.verdict {
				t.Errorf("Classify = %v, want %v", got, tt.verdict)
			}
			if got := tt.err.Retryable(); got != (tt.verdict == graph.Retry) {
				t.Errorf("Retryable = %v, want %v", got, !got)
			}
			if got := tt.err.TokenInvalid(); got != tt.token {
				t.Errorf("TokenInvalid = %v, want %v", got, tt.token)
			}
			hint := tt.err.Hint()
			if !strings.Contains(hint, tt.hint) {
				t.Errorf("Hint = %q, want it to contain %q", hint, tt.hint)
			}
			if strings.Contains(hint, ". ") || strings.ContainsAny(hint, "\n") || strings.HasSuffix(hint, ".") {
				t.Errorf("Hint = %q, want one sentence without a full stop", hint)
			}
		})
	}
}

func TestClassifyOtherErrors(t *testing.T) {
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want graph.Verdict
	}{
		{"nil", t.Context(), nil, graph.Success},
		{"nil after cancel", canceled, nil, graph.Success},
		{"refused by the client", t.Context(), errors.New("graph: send: no recipient PSID"), graph.Unrecoverable},
		{"network error", t.Context(), fmt.Errorf("reading body: %w", &net.OpError{Op: "read", Err: errors.New("connection reset")}), graph.Retry},
		{"network error after cancel", canceled, &net.OpError{Op: "read", Err: errors.New("connection reset")}, graph.Unrecoverable},
		{"transient Graph error after cancel", canceled, &graph.Error{Status: 503, Code: 2}, graph.Unrecoverable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := graph.Classify(tt.ctx, tt.err); got != tt.want {
				t.Errorf("Classify = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		err  *graph.Error
		want string
	}{
		{&graph.Error{Status: 400, Code: 100, Subcode: 2018001, Message: "(#100) No matching user found", FBTraceID: "AbC"},
			"(#100) No matching user found (code 100, subcode 2018001, HTTP 400, fbtrace_id AbC)"},
		{&graph.Error{Status: 400, Code: 190, Message: "Invalid OAuth access token"}, "Invalid OAuth access token (code 190, HTTP 400)"},
		{&graph.Error{Status: http.StatusBadGateway}, "Bad Gateway (HTTP 502)"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestVerdictString(t *testing.T) {
	for v, want := range map[graph.Verdict]string{graph.Success: "success", graph.Retry: "retry", graph.Unrecoverable: "unrecoverable", 7: "Verdict(7)"} {
		if got := v.String(); got != want {
			t.Errorf("Verdict(%d).String() = %q, want %q", int(v), got, want)
		}
	}
}
