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

func TestShouldRetryAndHint(t *testing.T) {
	tests := []struct {
		name  string
		err   *graph.Error
		retry bool
		hint  string // a part of Hint
		token bool   // TokenInvalid
	}{
		{"unknown", &graph.Error{Status: 500, Code: 1}, true, "temporary problem", false},
		{"service", &graph.Error{Status: 503, Code: 2, Transient: true}, true, "temporary problem", false},
		{"app throttle", &graph.Error{Status: 400, Code: 4}, true, "SEND_RATE", false},
		{"user throttle", &graph.Error{Status: 400, Code: 17}, true, "SEND_RATE", false},
		{"page throttle", &graph.Error{Status: 400, Code: 32}, true, "SEND_RATE", false},
		{"app limit", &graph.Error{Status: 400, Code: 341}, true, "SEND_RATE", false},
		{"messenger rate limit", &graph.Error{Status: 400, Code: 613}, true, "SEND_RATE", false},
		{"business use case limit", &graph.Error{Status: 400, Code: 80006}, true, "SEND_RATE", false},
		{"temporary send failure", &graph.Error{Status: 500, Code: 1200, Subcode: 2018024}, true, "temporary problem", false},
		{"is_transient", &graph.Error{Status: 400, Code: 12345, Transient: true}, true, "temporary problem", false},
		{"429 without code", &graph.Error{Status: 429}, true, "SEND_RATE", false},
		{"5xx without code", &graph.Error{Status: 502}, true, "temporary problem", false},
		{"5xx with unknown code", &graph.Error{Status: 500, Code: 99999}, true, "temporary problem", false},
		{"token invalid", &graph.Error{Status: 400, Code: 190}, false, "page token is invalid or expired; make a new long-lived page token (messenger-bridge token exchange) and set FB_PAGE_TOKEN", true},
		{"token expired", &graph.Error{Status: 400, Code: 190, Subcode: 463}, false, "has expired", true},
		{"token password changed", &graph.Error{Status: 400, Code: 190, Subcode: 460}, false, "password", true},
		{"token logged out", &graph.Error{Status: 400, Code: 190, Subcode: 467}, false, "invalidated", true},
		{"token app removed", &graph.Error{Status: 400, Code: 190, Subcode: 458}, false, "app was removed", true},
		{"session", &graph.Error{Status: 400, Code: 102}, false, "FB_PAGE_TOKEN", true},
		{"token on 5xx", &graph.Error{Status: 500, Code: 190}, false, "FB_PAGE_TOKEN", true},
		{"outside window", &graph.Error{Status: 400, Code: 10, Subcode: 2018278}, false, "has not written to the page in 24 hours; ask them to send the page any message, or set FB_UTILITY_TEMPLATE", false},
		{"outside window, 2026", &graph.Error{Status: 400, Code: 10, Subcode: 2534022}, false, "has not written to the page in 24 hours", false},
		{"retired tag", &graph.Error{Status: 400, Code: 100, Subcode: 1893061, Message: "Invalid parameter"}, false, "refuses this message tag since 2026-04-27; unset FB_MESSAGE_TAG", false},
		{"page restricted", &graph.Error{Status: 400, Code: 10, Subcode: 1893063}, true, "temporarily restricted the page", false},
		{"no role on the app", &graph.Error{Status: 400, Code: 200, Subcode: 2018028}, false, "add them under App roles as a tester", false},
		{"template not found", &graph.Error{Status: 400, Code: 100, Message: "(#100) Template cannot be found."}, false, "messenger-bridge template check", false},
		{"template parameter", &graph.Error{Status: 400, Code: 100, Subcode: 1893043}, false, "character templates refuse", false},
		{"no utility permission", &graph.Error{Status: 400, Code: 10, Message: "(#10) This endpoint requires the 'pages_utility_messaging' permission to manage the object"}, false, "lacks the pages_utility_messaging permission", false},
		{"outside window, subscription", &graph.Error{Status: 400, Code: 10, Subcode: 2018065}, false, "24 hours", false},
		{"not receiving", &graph.Error{Status: 400, Code: 10, Subcode: 2018108}, false, "isn't available", false},
		{"permission", &graph.Error{Status: 403, Code: 10}, false, "pages_messaging", false},
		{"api permission", &graph.Error{Status: 403, Code: 200}, false, "pages_messaging", false},
		{"api permission range", &graph.Error{Status: 403, Code: 230}, false, "pages_messaging", false},
		{"method", &graph.Error{Status: 400, Code: 3}, false, "pages_messaging", false},
		{"unavailable via 200", &graph.Error{Status: 400, Code: 200, Subcode: 1545041}, false, "isn't available", false},
		{"no such user", &graph.Error{Status: 400, Code: 100, Subcode: 2018001}, false, "no such user: the PSID is wrong or belongs to another page", false},
		{"attachment too large", &graph.Error{Status: 400, Code: 100, Subcode: 2018109}, false, "25 MB", false},
		{"bad appsecret_proof", &graph.Error{Status: 400, Code: 100, Message: "Invalid appsecret_proof provided in the API argument"}, false, "FB_APP_SECRET", false},
		{"bad parameter", &graph.Error{Status: 400, Code: 100}, false, "parameter", false},
		{"user unavailable", &graph.Error{Status: 400, Code: 551, Subcode: 1545041}, false, "blocked the page", false},
		{"policy block", &graph.Error{Status: 400, Code: 368}, false, "policy", false},
		{"unknown code", &graph.Error{Status: 400, Code: 99999}, false, "error reference", false},
		{"unknown code with user message", &graph.Error{Status: 400, Code: 99999, UserMessage: "Try something else"}, false, "Try something else", false},
	}
	ctx := t.Context()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wrapped := fmt.Errorf("sending: %w", tt.err)
			if got := graph.ShouldRetry(ctx, wrapped); got != tt.retry {
				t.Errorf("ShouldRetry = %v, want %v", got, tt.retry)
			}
			if got := tt.err.Retryable(); got != tt.retry {
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

func TestShouldRetryOtherErrors(t *testing.T) {
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want bool
	}{
		{"nil", t.Context(), nil, false},
		{"nil after cancel", canceled, nil, false},
		{"refused by the client", t.Context(), errors.New("graph: send: no recipient PSID"), false},
		{"network error", t.Context(), fmt.Errorf("reading body: %w", &net.OpError{Op: "read", Err: errors.New("connection reset")}), true},
		{"network error after cancel", canceled, &net.OpError{Op: "read", Err: errors.New("connection reset")}, false},
		{"transient Graph error after cancel", canceled, &graph.Error{Status: 503, Code: 2}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := graph.ShouldRetry(tt.ctx, tt.err); got != tt.want {
				t.Errorf("ShouldRetry = %v, want %v", got, tt.want)
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
