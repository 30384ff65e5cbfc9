package receive_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/messenger-bridge/messenger-bridge/clocktest"
	"github.com/messenger-bridge/messenger-bridge/graph"
	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
	"github.com/messenger-bridge/messenger-bridge/pacer"
	"github.com/messenger-bridge/messenger-bridge/receive"
)

const pageToken = "EAAGpollTESTtoken0123456789SECRET"

// wait is how long a test waits for the poller to act on the clock.
const wait = 20 * time.Second

type poller struct {
	t     *testing.T
	graph *graphtest.Server
	store *receive.Store
	clock *clocktest.Clock
	p     *receive.Poller
	path  string

	mu    sync.Mutex
	wrote map[string]time.Time
	stop  func()
}

func newPoller(t *testing.T, g *graphtest.Server, path string, clock *clocktest.Clock) *poller {
	t.Helper()
	return newPollerWith(t, g, path, clock, nil)
}

// newPollerWith is newPoller with the PollConfig changed by change, when set,
// before the Poller starts.
func newPollerWith(t *testing.T, g *graphtest.Server, path string, clock *clocktest.Clock, change func(*receive.PollConfig, *graph.Client)) *poller {
	t.Helper()
	store, err := receive.OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := graph.New(graph.Config{BaseURL: g.URL, PageToken: pageToken})
	if err != nil {
		t.Fatal(err)
	}
	pl := &poller{t: t, graph: g, store: store, clock: clock, path: path, wrote: make(map[string]time.Time)}
	cfg := receive.PollConfig{Graph: c, Store: store, PageID: pageID, Interval: 15 * time.Second,
		Clock: clock, Log: zerolog.Nop(), LastWrote: func(psid string, at time.Time) {
			pl.mu.Lock()
			pl.wrote[psid] = at
			pl.mu.Unlock()
		}}
	if change != nil {
		change(&cfg, c)
	}
	pl.p = receive.NewPoller(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { pl.p.Run(ctx); close(done) }()
	pl.stop = func() { cancel(); <-done; store.Close() }
	t.Cleanup(func() {
		if pl.stop != nil {
			pl.stop()
		}
	})
	clock.Settled(t, wait) // the first poll is done
	return pl
}

func (pl *poller) close() { pl.stop(); pl.stop = nil }

// tick moves the clock to the next poll and waits until it is done.
func (pl *poller) tick(d time.Duration) {
	pl.t.Helper()
	if pl.clock.Advance(d) == 0 {
		pl.t.Fatalf("no poll was due %v on", d)
	}
	pl.clock.Settled(pl.t, wait)
}

func (pl *poller) taken() []string {
	pl.t.Helper()
	p, err := pl.store.Pending()
	if err != nil {
		pl.t.Fatal(err)
	}
	var mids []string
	for _, e := range p {
		mids = append(mids, e.MID)
	}
	return mids
}

func equal(a, b []string) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

func TestPollTakesEachMessageOnceInOrder(t *testing.T) {
	g := graphtest.NewServer(t, pageToken)
	start := time.Now().Truncate(time.Second)
	g.AddIncoming(alice, "Alice", graphtest.Incoming{MID: "m_1", Text: "hi", At: start.Add(-time.Hour)})
	g.AddIncoming(alice, "Alice", graphtest.Incoming{MID: "m_page", Text: "from the page", At: start.Add(-50 * time.Minute), FromPage: true})
	g.AddIncoming("7391000000000001", "Bob", graphtest.Incoming{MID: "m_2", Text: "yo", At: start.Add(-30 * time.Minute), ImageURL: "https://x.test/a.jpg"})
	path := filepath.Join(t.TempDir(), "received.db")
	clock := clocktest.New(start)
	pl := newPoller(t, g, path, clock)

	if got := pl.taken(); !equal(got, []string{"m_1", "m_2"}) {
		t.Fatalf("first poll took %v, want m_1 and m_2 (not the page's own)", got)
	}
	if at := pl.wrote[alice]; !at.Equal(start.Add(-time.Hour)) {
		t.Errorf("alice last wrote %v, want an hour ago", at)
	}
	pl.tick(15 * time.Second)
	if got := pl.taken(); !equal(got, []string{"m_1", "m_2"}) {
		t.Fatalf("a second poll with nothing new took %v", got)
	}
	pl.close()

	// While the bridge is down, alice writes twice.
	g.AddIncoming(alice, "Alice", graphtest.Incoming{MID: "m_3", Text: "are you", At: start.Add(time.Minute)})
	g.AddIncoming(alice, "Alice", graphtest.Incoming{MID: "m_4", Text: "there", At: start.Add(2 * time.Minute)})
	pl = newPoller(t, g, path, clock)
	if got := pl.taken(); !equal(got, []string{"m_1", "m_2", "m_3", "m_4"}) {
		t.Fatalf("after a restart: %v, want m_3 and m_4 added once, in order", got)
	}
	p, _ := pl.store.Pending()
	if a := p[1].Attachments; len(a) != 1 || a[0].Type != "image" || a[0].URL != "https://x.test/a.jpg" {
		t.Errorf("bob's picture = %+v", a)
	}
	if n := g.RefusedConversationCalls(); n != 0 {
		t.Errorf("Graph refused %d polls", n)
	}
}

// TestPollLearnsThePageID starts polling without the Page's id, as the
// service does when Graph could not be reached at start: the poller asks for
// it before its first poll, so that the Page's own messages are neither
// taken in (they would reach unknown_sender) nor taken for the person's.
func TestPollLearnsThePageID(t *testing.T) {
	g := graphtest.NewServer(t, pageToken)
	start := time.Now().Truncate(time.Second)
	g.AddIncoming(alice, "Alice", graphtest.Incoming{MID: "m_1", Text: "hi", At: start.Add(-time.Hour)})
	g.AddIncoming(alice, "Alice", graphtest.Incoming{MID: "m_page", Text: "Doorbell", At: start.Add(-time.Minute), FromPage: true})
	pl := newPollerWith(t, g, filepath.Join(t.TempDir(), "received.db"), clocktest.New(start), func(cfg *receive.PollConfig, c *graph.Client) {
		cfg.PageID = ""
		cfg.FindPageID = func(ctx context.Context) (string, error) {
			page, err := c.Page(ctx)
			return page.ID, err
		}
	})
	if got := pl.taken(); !equal(got, []string{"m_1"}) {
		t.Errorf("took %v, want m_1 alone: the Page's own message is not an event", got)
	}
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if at, ok := pl.wrote[alice]; !ok || !at.Equal(start.Add(-time.Hour)) {
		t.Errorf("alice last wrote %v, want an hour ago, when m_1 came, not when the Page wrote", at)
	}
}

func TestPollSeesTheTwentyNewest(t *testing.T) {
	g := graphtest.NewServer(t, pageToken)
	start := time.Now().Truncate(time.Second)
	for i := range 25 {
		g.AddIncoming(alice, "Alice", graphtest.Incoming{MID: fmt.Sprintf("m_%02d", i), Text: "x", At: start.Add(time.Duration(i-30) * time.Minute)})
	}
	pl := newPoller(t, g, filepath.Join(t.TempDir(), "received.db"), clocktest.New(start))
	got := pl.taken()
	if len(got) != 20 || got[0] != "m_05" || got[19] != "m_24" {
		t.Fatalf("took %d: %v, want the 20 newest, m_05 to m_24", len(got), got)
	}
}

func TestPollHurriesThenRests(t *testing.T) {
	g := graphtest.NewServer(t, pageToken)
	start := time.Now().Truncate(time.Second)
	clock := clocktest.New(start)
	pl := newPoller(t, g, filepath.Join(t.TempDir(), "received.db"), clock)
	if clock.Advance(14*time.Second) != 0 {
		t.Fatal("a poll before POLL_INTERVAL")
	}
	pl.p.Hurry()
	clock.Settled(t, wait) // Hurry polls at once
	for range 3 {
		pl.tick(receive.DefaultFastInterval)
	}
	// Two minutes on, polls are back to POLL_INTERVAL.
	clock.Advance(receive.DefaultFastFor)
	clock.Settled(t, wait)
	if clock.Advance(receive.DefaultFastInterval) != 0 {
		t.Error("still polling fast after the hurry ended")
	}
}

func TestPollSlowsBeforeTheBudgetIsSpent(t *testing.T) {
	g := graphtest.NewServer(t, pageToken)
	// Usage starts at 60 % and every call spends 5 % more: at the real
	// API's 100 % a call is refused with 80006.
	g.SetConversationUsage(60, 5)
	start := time.Now().Truncate(time.Second)
	clock := clocktest.New(start)
	newPoller(t, g, filepath.Join(t.TempDir(), "received.db"), clock)
	// The poller spaces its calls out as usage climbs: 60 % → 15 s × 2,
	// 65 % → × 2.5, … and pauses at 95 %, before a call is refused.
	polls := 1
	var gaps []time.Duration
	last := clock.Now()
	for range 140 { // 700 s
		if clock.Advance(5*time.Second) > 0 {
			clock.Settled(t, wait)
			polls++
			gaps = append(gaps, clock.Now().Sub(last))
			last = clock.Now()
		}
	}
	if n := g.RefusedConversationCalls(); n != 0 {
		t.Errorf("Graph refused %d calls: the poller ran into the limit", n)
	}
	if polls != 8 {
		t.Errorf("%d polls (gaps %v), want 8: from 60 %% to 95 %%, then a pause", polls, gaps)
	}
	for i := 1; i < len(gaps); i++ {
		if gaps[i] < gaps[i-1] {
			t.Errorf("gaps %v do not grow with usage", gaps)
			break
		}
	}
	// The budget rolls off meanwhile: at the pause's end polling resumes.
	g.SetConversationUsage(30, 0)
	for range 120 {
		if clock.Advance(5*time.Second) > 0 {
			clock.Settled(t, wait)
			polls++
		}
	}
	if polls <= 8 {
		t.Error("polling did not resume after the pause")
	}
	t.Logf("gaps while usage climbed: %v", gaps)
}

// TestPollCallsPerHour counts the Graph calls an hour of polling makes, at
// rest and with one actionable message, on the clock the test moves: the
// figures the README gives.
func TestPollCallsPerHour(t *testing.T) {
	for _, tt := range []struct {
		name     string
		hurry    bool
		min, max int
	}{
		{"at rest", false, 240, 241},
		{"after an actionable message", true, 270, 281},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := graphtest.NewServer(t, pageToken)
			clock := clocktest.New(time.Now().Truncate(time.Second))
			pl := newPoller(t, g, filepath.Join(t.TempDir(), "received.db"), clock)
			polls := 1
			if tt.hurry {
				// An actionable message goes out a few seconds after the
				// first poll: a hurry right after a poll waits for the
				// Conversations API's limit of 2 calls a second.
				if clock.Advance(receive.DefaultFastInterval) != 0 {
					t.Fatal("a poll before POLL_INTERVAL")
				}
				pl.p.Hurry()
				clock.Settled(t, wait)
				polls++
			}
			for range 3600 {
				if clock.Advance(time.Second) > 0 {
					clock.Settled(t, wait)
					polls++
				}
			}
			if polls < tt.min || polls > tt.max {
				t.Errorf("%d Graph calls in an hour, want %d to %d", polls, tt.min, tt.max)
			}
			t.Logf("%s: %d Graph calls in an hour (POLL_INTERVAL 15s)", tt.name, polls)
		})
	}
}

// TestPollPacesEveryPageOfConversations polls more conversations than one
// page of Graph's answer holds, with the Conversations API's limit of 2
// calls a second on and the shared pacer at the default SEND_RATE, far
// above it: every page waits its turn, so none is refused with 613 (which
// would pause polling for 15 minutes). It runs on the system clock, as the
// fake Graph's limit does.
func TestPollPacesEveryPageOfConversations(t *testing.T) {
	g := graphtest.NewServer(t, pageToken)
	g.LimitConversations(2)
	start := time.Now().Truncate(time.Second)
	for i := range 60 { // three pages of 25
		g.AddIncoming(fmt.Sprintf("7391%012d", i), "Someone", graphtest.Incoming{MID: fmt.Sprintf("m_%02d", i), Text: "hi", At: start.Add(time.Duration(i-60) * time.Minute)})
	}
	store, err := receive.OpenStore(filepath.Join(t.TempDir(), "received.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	<-store.Wake() // OpenStore's
	c, err := graph.New(graph.Config{BaseURL: g.URL, PageToken: pageToken})
	if err != nil {
		t.Fatal(err)
	}
	p := receive.NewPoller(receive.PollConfig{Graph: c, Store: store, PageID: pageID, Interval: time.Hour,
		Pacer: pacer.New(20), Log: zerolog.Nop()})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	select {
	case <-store.Wake():
	case <-time.After(wait):
		t.Fatalf("the first poll stored nothing; Graph refused %d calls", g.RefusedConversationCalls())
	}
	if got := len(pending(t, store)); got != 60 {
		t.Errorf("took %d messages, want the 60 of three pages", got)
	}
	if n := g.RefusedConversationCalls(); n != 0 {
		t.Errorf("Graph refused %d calls: a page of conversations did not wait its turn", n)
	}
}

// TestPollSkipsHistory checks that what people wrote before the bridge
// began to receive, less a slack for clocks that differ, is not taken in,
// so no old answer reaches Home Assistant's automations; what they write
// after is taken in.
func TestPollSkipsHistory(t *testing.T) {
	g := graphtest.NewServer(t, pageToken)
	since := time.Now().Truncate(time.Second)
	g.AddIncoming(alice, "Alice", graphtest.Incoming{MID: "m_old", Text: "Open", At: since.Add(-time.Hour)})
	g.AddIncoming(alice, "Alice", graphtest.Incoming{MID: "m_page", Text: "Door opened", At: since.Add(-time.Hour + time.Minute), FromPage: true})
	g.AddIncoming(alice, "Alice", graphtest.Incoming{MID: "m_before", Text: "Ignore", At: since.Add(-3 * time.Minute)})
	// A minute before by the host's clock: Graph's clock may be behind.
	g.AddIncoming(alice, "Alice", graphtest.Incoming{MID: "m_skewed", Text: "hello", At: since.Add(-time.Minute)})
	pl := newPollerWith(t, g, filepath.Join(t.TempDir(), "received.db"), clocktest.New(since), func(c *receive.PollConfig, _ *graph.Client) {
		c.Since = since
	})
	if got := pl.taken(); !equal(got, []string{"m_skewed"}) {
		t.Errorf("took %v at the first poll, want m_skewed only: the others were written before the bridge began", got)
	}
	pl.mu.Lock()
	wrote := pl.wrote[alice]
	pl.mu.Unlock()
	if !wrote.Equal(since.Add(-time.Minute)) {
		t.Errorf("alice last wrote %v, want %v", wrote, since.Add(-time.Minute))
	}
	g.AddIncoming(alice, "Alice", graphtest.Incoming{MID: "m_new", Text: "hi", At: since})
	pl.tick(15 * time.Second)
	if got := pl.taken(); !equal(got, []string{"m_skewed", "m_new"}) {
		t.Errorf("took %v after alice wrote, want m_skewed and m_new", got)
	}
}
