package receive_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/messenger-bridge/messenger-bridge/clocktest"
	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
	"github.com/messenger-bridge/messenger-bridge/receive"
)

// TestPollTakesReactions: a reaction polling sees after its first poll, to the Page's message or
// the person's own, becomes one reaction event, once per message, person
// and reaction, across restarts; a new reaction to the same message is a
// new event.
func TestPollTakesReactions(t *testing.T) {
	g := graphtest.NewServer(t, pageToken)
	start := time.Now().Truncate(time.Second)
	g.AddIncoming(alice, "Alice", graphtest.Incoming{MID: "m_door", Text: "Doorbell", At: start.Add(-2 * time.Minute), FromPage: true})
	g.AddIncoming(alice, "Alice", graphtest.Incoming{MID: "m_1", Text: "who is it", At: start.Add(-time.Minute)})
	path := filepath.Join(t.TempDir(), "received.db")
	clock := clocktest.New(start)
	pl := newPoller(t, g, path, clock)
	if got := pl.taken(); !equal(got, []string{"m_1"}) {
		t.Fatalf("first poll took %v, want m_1", got)
	}
	if !g.AddReaction(alice, "m_door", "love", start.Add(5*time.Second)) {
		t.Fatal("no m_door to react to")
	}
	pl.tick(15 * time.Second)
	pl.tick(15 * time.Second) // nothing new: the reaction is not taken twice
	want := []string{"m_1", "reaction:m_door:" + alice + ":love"}
	if got := pl.taken(); !equal(got, want) {
		t.Fatalf("took %v, want %v", got, want)
	}
	r := pending(t, pl.store)[1]
	if r.Type != receive.TypeReaction || r.PSID != alice || r.Reaction != "love" || r.ReactedMID != "m_door" ||
		r.Action != "react" || !r.Timestamp.Equal(start.Add(-2*time.Minute)) {
		t.Errorf("reaction event %+v, want alice's love of m_door, at m_door's time: the reaction came no sooner", r.Event)
	}
	pl.close()

	// After a restart the same reaction is not taken again; alice changing
	// it to "like", and reacting to her own message, are new.
	g.AddReaction(alice, "m_door", "like", start.Add(time.Minute))
	g.AddReaction(alice, "m_1", "smile", start.Add(time.Minute))
	pl = newPoller(t, g, path, clock)
	want = append(want, "reaction:m_door:"+alice+":like", "reaction:m_1:"+alice+":smile")
	if got := pl.taken(); !equal(got, want) {
		t.Errorf("after a restart took %v, want %v", got, want)
	}
}

// TestPollReactionsBeforeAreHistory checks that the reactions standing at
// the first poll that sees reactions are never taken in, even once their
// conversation changes, while one given after is.
func TestPollReactionsBeforeAreHistory(t *testing.T) {
	g := graphtest.NewServer(t, pageToken)
	start := time.Now().Truncate(time.Second)
	g.AddIncoming(alice, "Alice", graphtest.Incoming{MID: "m_door", Text: "Doorbell", At: start.Add(-time.Hour), FromPage: true})
	g.AddReaction(alice, "m_door", "like", start.Add(-time.Hour))
	pl := newPoller(t, g, filepath.Join(t.TempDir(), "received.db"), clocktest.New(start))
	if got := pl.taken(); len(got) != 0 {
		t.Fatalf("first poll took %v, want nothing: the reaction stood before", got)
	}
	g.AddIncoming(alice, "Alice", graphtest.Incoming{MID: "m_1", Text: "hi", At: start})
	g.AddReaction(alice, "m_door", "love", start)
	pl.tick(15 * time.Second)
	// The love is stamped with m_door's time, an hour before m_1.
	if got := pl.taken(); !equal(got, []string{"reaction:m_door:" + alice + ":love", "m_1"}) {
		t.Errorf("after the conversation changed took %v, want the new love and m_1 only", got)
	}
}
