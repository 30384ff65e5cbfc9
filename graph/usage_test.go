package graph_test

import (
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/messenger-bridge/messenger-bridge/graph"
	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
)

// TestScope checks whom each failure speaks for: Graph as a whole, the call
// budget, the page, or the call alone.
func TestScope(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want graph.Scope
	}{
		{"unknown", &graph.Error{Status: 500, Code: 1}, graph.ScopeServer},
		{"service", &graph.Error{Status: 503, Code: 2, Transient: true}, graph.ScopeServer},
		{"app throttle", &graph.Error{Status: 400, Code: 4}, graph.ScopeBudget},
		{"user throttle", &graph.Error{Status: 400, Code: 17}, graph.ScopeBudget},
		{"page throttle", &graph.Error{Status: 400, Code: 32}, graph.ScopeBudget},
		{"messenger rate limit", &graph.Error{Status: 400, Code: 613}, graph.ScopeBudget},
		{"business use case 80001", &graph.Error{Status: 400, Code: 80001}, graph.ScopeBudget},
		{"business use case 80006", &graph.Error{Status: 400, Code: 80006, Transient: true}, graph.ScopeBudget},
		{"429 without code", &graph.Error{Status: 429}, graph.ScopeBudget},
		{"is_transient", &graph.Error{Status: 400, Code: 12345, Transient: true}, graph.ScopeServer},
		{"Retry-After", &graph.Error{Status: 400, Code: 12345, RetryAfter: time.Second}, graph.ScopeServer},
		{"5xx without code", &graph.Error{Status: 502}, graph.ScopeServer},
		{"page restricted", &graph.Error{Status: 400, Code: 10, Subcode: 1893063}, graph.ScopePage},
		{"outside window", &graph.Error{Status: 400, Code: 10, Subcode: 2018278}, graph.ScopeCall},
		{"person unavailable", &graph.Error{Status: 400, Code: 551, Subcode: 1545041}, graph.ScopeCall},
		{"bad parameter", &graph.Error{Status: 400, Code: 100}, graph.ScopeCall},
		{"bad parameter on 5xx", &graph.Error{Status: 500, Code: 100}, graph.ScopeCall},
		{"token", &graph.Error{Status: 400, Code: 190}, graph.ScopeCall},
		{"temporary send failure", &graph.Error{Status: 400, Code: 1200}, graph.ScopeCall},
		{"wrapped", errors.Join(errors.New("send"), &graph.Error{Status: 503, Code: 2}), graph.ScopeServer},
		{"not Graph's", &net.OpError{Op: "read", Err: errors.New("reset")}, graph.ScopeCall},
		{"nil", nil, graph.ScopeCall},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := graph.ScopeOf(tt.err); got != tt.want {
				t.Errorf("ScopeOf = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestNoAnswerIsServerScope checks that a call Graph never answered speaks
// for Graph as a whole.
func TestNoAnswerIsServerScope(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	l.Close() // nothing listens: connection refused
	_, err = newClient(t, url, nil).Send(t.Context(), psid, graph.Out{Text: "hello"}, "")
	if s := graph.ScopeOf(err); err == nil || s != graph.ScopeServer {
		t.Fatalf("Send = %v, scope %v; want a failure of scope server", err, s)
	}
}

// TestUsage checks that the usage headers of every answer, success or
// error, reach Config.OnUsage, and that an error carries
// estimated_time_to_regain_access.
func TestUsage(t *testing.T) {
	s := graphtest.NewServer(t, token)
	s.AddUser(psid)
	var (
		mu   sync.Mutex
		seen []graph.Usage
	)
	c := newClient(t, s.URL, func(cfg *graph.Config) {
		cfg.OnUsage = func(u graph.Usage) {
			mu.Lock()
			seen = append(seen, u)
			mu.Unlock()
		}
	})
	send := func() error {
		_, err := c.Send(t.Context(), psid, graph.Out{Text: "hello"}, "")
		return err
	}
	if err := send(); err != nil { // no headers: nothing seen
		t.Fatal(err)
	}
	s.SetUsage(graphtest.Usage{App: graphtest.Share{CallCount: 12, TotalCPUTime: 80, TotalTime: 30}})
	if err := send(); err != nil {
		t.Fatal(err)
	}
	s.SetUsage(graphtest.Usage{App: graphtest.Share{CallCount: 40}, Page: graphtest.Share{CallCount: 104, TotalTime: 20}, RegainMinutes: 19})
	s.FailNext(1, graphtest.Fault{Status: 400, Code: 80006, Type: "OAuthException", Message: "(#80006) There have been too many messenger api calls to this Page account. Wait a bit and try again."})
	err := send()
	ge, ok := errors.AsType[*graph.Error](err)
	if !ok || ge.Regain != 19*time.Minute || ge.Scope() != graph.ScopeBudget {
		t.Fatalf("Send = %v, want a budget *graph.Error to regain in 19 minutes", err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []graph.Usage{{Percent: 80}, {Percent: 104, RegainIn: 19 * time.Minute}}
	if len(seen) != len(want) || seen[0] != want[0] || seen[1] != want[1] {
		t.Errorf("OnUsage saw %+v, want %+v", seen, want)
	}
}
