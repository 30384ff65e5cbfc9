package delivery_test

import (
	"context"
	"testing"
	"time"

	"github.com/messenger-bridge/messenger-bridge/clocktest"
	"github.com/messenger-bridge/messenger-bridge/delivery"
	"github.com/messenger-bridge/messenger-bridge/graph"
	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
	"github.com/messenger-bridge/messenger-bridge/message"
	"github.com/messenger-bridge/messenger-bridge/pacer"
)

// TestUsageHoldsSends checks the way from Graph's usage headers to the
// Messenger's pace: once an answer says the page's budget is spent, with 2
// minutes to regain access, the next send waits those 2 minutes.
func TestUsageHoldsSends(t *testing.T) {
	s := graphtest.NewServer(t, pageToken)
	s.AddUser(alice)
	c := clocktest.New(time.Now())
	pace := pacer.New(0, pacer.WithClock(c))
	g, err := graph.New(graph.Config{BaseURL: s.URL, PageToken: pageToken, OnUsage: pace.Observe})
	if err != nil {
		t.Fatal(err)
	}
	m := delivery.NewMessenger(g, nil, 0, delivery.WithPacer(pace), delivery.WithClock(c))
	f := &fixture{}
	s.SetUsage(graphtest.Usage{Page: graphtest.Share{CallCount: 99}, RegainMinutes: 2})
	if _, err := m.Send(t.Context(), f.job(alice, 0, message.Message{Text: "first"})); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := m.Send(context.Background(), f.job(alice, 0, message.Message{Text: "second"}))
		done <- err
	}()
	waitTimers(t, c, 1)
	if n := len(s.Requests()); n != 1 {
		t.Fatalf("%d sends before access is regained, want 1", n)
	}
	if d := c.AdvanceToNext(); d != 2*time.Minute {
		t.Errorf("the second send waited %v, want the 2 minutes Graph gave", d)
	}
	if err := <-done; err != nil || len(s.Requests()) != 2 {
		t.Fatalf("second Send = %v with %d sends, want it sent", err, len(s.Requests()))
	}
}
