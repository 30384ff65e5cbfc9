package service

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/messenger-bridge/messenger-bridge/bridge"
	"github.com/messenger-bridge/messenger-bridge/graph"
)

// tokenRecorder records what checkToken tells the bridge.
type tokenRecorder struct{ states []bridge.TokenState }

func (r *tokenRecorder) SetToken(t bridge.TokenState) { r.states = append(r.states, t) }

func TestCheckToken(t *testing.T) {
	soon := time.Now().Add(3 * 24 * time.Hour).Truncate(time.Second)
	later := time.Now().Add(30 * 24 * time.Hour).Truncate(time.Second)
	tests := []struct {
		name    string
		info    graph.TokenInfo
		err     error
		want    *bridge.TokenState // nil: nothing told
		level   string
		message string
	}{
		{
			name:    "never expires",
			info:    graph.TokenInfo{Valid: true, Type: "PAGE", Scopes: []string{"pages_messaging"}},
			want:    &bridge.TokenState{State: bridge.TokenValid},
			level:   "info",
			message: "page token checked",
		},
		{
			name:    "expires in 30 days",
			info:    graph.TokenInfo{Valid: true, Type: "PAGE", ExpiresAt: later, Scopes: []string{"pages_messaging"}},
			want:    &bridge.TokenState{State: bridge.TokenValid, ExpiresAt: &later},
			level:   "info",
			message: "page token checked",
		},
		{
			name:    "expires in 3 days",
			info:    graph.TokenInfo{Valid: true, Type: "PAGE", ExpiresAt: soon, Scopes: []string{"pages_messaging"}},
			want:    &bridge.TokenState{State: bridge.TokenValid, ExpiresAt: &soon},
			level:   "warn",
			message: "the page token expires soon",
		},
		{
			name: "expired",
			info: graph.TokenInfo{Type: "PAGE", Problem: &graph.TokenProblem{Code: 190, Subcode: 463, Message: "Session has expired"}},
			want: &bridge.TokenState{State: bridge.TokenInvalid,
				Problem: (&graph.TokenProblem{Code: 190, Subcode: 463}).Hint()},
			level:   "error",
			message: "the page token is not valid",
		},
		{
			name:    "rejected by Graph",
			err:     &graph.Error{Status: 400, Code: 190, Message: "Invalid OAuth access token"},
			want:    &bridge.TokenState{State: bridge.TokenInvalid, Problem: (&graph.Error{Code: 190}).Hint()},
			level:   "error",
			message: "the page token is not valid",
		},
		{
			name:    "Graph unreachable",
			err:     errors.New("dial tcp: connection refused"),
			level:   "warn",
			message: "keeping its last known state",
		},
		{
			name:    "Graph busy",
			err:     &graph.Error{Status: 503, Code: 2, Message: "Service temporarily unavailable", Transient: true},
			level:   "warn",
			message: "keeping its last known state",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			var rec tokenRecorder
			inspect := func(context.Context) (graph.TokenInfo, error) { return tt.info, tt.err }
			checkToken(t.Context(), inspect, &rec, zerolog.New(&logs))
			switch {
			case tt.want == nil && len(rec.states) != 0:
				t.Errorf("told %+v, want nothing", rec.states)
			case tt.want != nil && (len(rec.states) != 1 || !sameState(rec.states[0], *tt.want)):
				t.Errorf("told %+v, want %+v", rec.states, *tt.want)
			}
			if !strings.Contains(logs.String(), `"level":"`+tt.level+`"`) || !strings.Contains(logs.String(), tt.message) {
				t.Errorf("log %s, want level %s and %q", logs.String(), tt.level, tt.message)
			}
		})
	}
}

func sameState(a, b bridge.TokenState) bool {
	sameTime := a.ExpiresAt == nil && b.ExpiresAt == nil || a.ExpiresAt != nil && b.ExpiresAt != nil && a.ExpiresAt.Equal(*b.ExpiresAt)
	return a.State == b.State && a.Problem == b.Problem && sameTime
}
