package graph_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/messenger-bridge/messenger-bridge/graph"
	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
)

func TestThreads(t *testing.T) {
	s := graphtest.NewServer(t, token)
	at := time.Date(2026, 11, 24, 7, 0, 12, 0, time.UTC)
	s.AddIncoming(psid, "Alice", graphtest.Incoming{MID: "m_1", Text: "Open", At: at})
	s.AddIncoming(psid, "Alice", graphtest.Incoming{MID: "m_2", Text: "ok", At: at.Add(time.Minute), FromPage: true})
	s.AddReaction(psid, "m_2", "love", at.Add(2*time.Minute))
	s.SetConversationUsage(42, 0)
	c := newClient(t, s.URL, nil)
	threads, usage, err := c.Threads(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(threads) != 1 || len(threads[0].Messages) != 2 || !threads[0].Updated.Equal(at.Add(2*time.Minute)) {
		t.Fatalf("threads = %+v", threads)
	}
	m := threads[0].Messages[0]
	if m.ID != "m_1" || m.Text != "Open" || m.FromID != psid || m.FromName != "Alice" || !m.Created.Equal(at) {
		t.Errorf("oldest message = %+v", m)
	}
	if r := threads[0].Messages[1].Reactions; len(r) != 1 || r[0] != (graph.Reaction{By: psid, Reaction: "love"}) {
		t.Errorf("reactions to the Page's message = %+v, want alice's love", r)
	}
	if usage.Percent != 42 {
		t.Errorf("usage = %+v, want 42 %%", usage)
	}
}

func TestThreadsRateLimitAndBudget(t *testing.T) {
	s := graphtest.NewServer(t, token)
	s.LimitConversations(2)
	c := newClient(t, s.URL, nil)
	var err error
	for range 3 {
		_, _, err = c.Threads(t.Context(), nil)
	}
	var ge *graph.Error
	if !errors.As(err, &ge) || ge.Code != 613 || !ge.Retryable() {
		t.Fatalf("third call within a second: %v, want a retryable 613", err)
	}
	s.LimitConversations(0)
	s.SetConversationUsage(100, 0)
	_, usage, err := c.Threads(t.Context(), nil)
	if !errors.As(err, &ge) || ge.Code != 80006 || usage.RegainIn != 5*time.Minute {
		t.Fatalf("spent budget: %v, usage %+v; want 80006 and 5 minutes to regain", err, usage)
	}
}

// Threads waits for its turn before every page of conversations, not only
// the first, and gives up with the turn's error.
func TestThreadsTakesATurnPerPage(t *testing.T) {
	s := graphtest.NewServer(t, token)
	at := time.Date(2026, 11, 24, 7, 0, 0, 0, time.UTC)
	for i := range 60 { // three pages of 25
		s.AddIncoming(fmt.Sprintf("7391%012d", i), "Someone", graphtest.Incoming{MID: fmt.Sprintf("m_%02d", i), Text: "hi", At: at.Add(time.Duration(i) * time.Second)})
	}
	c := newClient(t, s.URL, nil)
	turns := 0
	threads, _, err := c.Threads(t.Context(), func(context.Context) error { turns++; return nil })
	if err != nil || len(threads) != 60 {
		t.Fatalf("Threads = %d threads, %v; want 60", len(threads), err)
	}
	if turns != 3 {
		t.Errorf("%d turns for three pages, want 3", turns)
	}
	stop := errors.New("no turn")
	turns = 0
	_, _, err = c.Threads(t.Context(), func(context.Context) error {
		if turns++; turns == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Errorf("Threads with the second turn refused: %v, want the turn's error", err)
	}
}
