package delivery_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/messenger-bridge/messenger-bridge/delivery"
	"github.com/messenger-bridge/messenger-bridge/graph"
	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
	"github.com/messenger-bridge/messenger-bridge/logtest"
	"github.com/messenger-bridge/messenger-bridge/message"
	"github.com/messenger-bridge/messenger-bridge/outbox"
)

// patience bounds how long a test waits for what the dispatcher owes it.
const patience = 20 * time.Second

// dispatchToken is the page token of the rig's fake Graph API.
const dispatchToken = "EAAGdispatchTOKEN0123456789SECRET"

// people are the rig's recipients, by name, and their PSIDs.
var people = map[string]string{"alice": "1000000000000001", "bob": "1000000000000002", "carol": "1000000000000003"}

// rig is a Dispatcher delivering through a real Messenger to a fake Graph
// API, from a real outbox. It records results, and the end of each attempt.
type rig struct {
	t        *testing.T
	graph    *graphtest.Server
	box      *outbox.Outbox
	d        *delivery.Dispatcher
	results  chan reported
	attempts chan string // recipient of each attempt, once it ended
	logs     *logtest.Buffer

	cancel context.CancelFunc
	done   chan struct{}
}

type reported struct {
	name   string
	result delivery.Result
}

// newRig returns a rig whose dispatcher is not running yet. Retries and
// probes wait milliseconds unless opts say otherwise or give a clock. wrap,
// when set, wraps the Sender.
func newRig(t *testing.T, opts delivery.Options, wrap func(delivery.Sender) delivery.Sender) *rig {
	t.Helper()
	return newRigSender(t, opts, func(g *graph.Client) delivery.Sender {
		var s delivery.Sender = delivery.NewMessenger(g, nil, 0)
		if wrap != nil {
			s = wrap(s)
		}
		return s
	})
}

// newRigSender is newRig delivering through the Sender sender makes from
// the rig's Graph client.
func newRigSender(t *testing.T, opts delivery.Options, sender func(*graph.Client) delivery.Sender) *rig {
	t.Helper()
	r := &rig{t: t, graph: graphtest.NewServer(t, dispatchToken),
		results: make(chan reported, 1000), attempts: make(chan string, 1000), logs: &logtest.Buffer{}}
	for _, psid := range people {
		r.graph.AddUser(psid)
	}
	g, err := graph.New(graph.Config{BaseURL: r.graph.URL, PageToken: dispatchToken})
	if err != nil {
		t.Fatal(err)
	}
	r.box, err = outbox.Open(filepath.Join(t.TempDir(), "outbox.db"), 10000)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.box.Close() })
	s := sender(g)
	if opts.Backoff == 0 {
		opts.Backoff, opts.MaxBackoff = time.Millisecond, 10*time.Millisecond
	}
	if opts.ProbeFloor == 0 && opts.Clock == nil {
		opts.ProbeFloor, opts.ServerProbeMax, opts.BudgetProbeMax = time.Millisecond, 10*time.Millisecond, 10*time.Millisecond
	}
	opts.Observer = r
	r.d = delivery.New(s, r, r.box, opts, zerolog.New(r.logs))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("dispatcher log:\n%s", r.logs)
		}
	})
	return r
}

// Report marks the entry done, as the bridge does once the broker has the
// result, and hands the result to the test.
func (r *rig) Report(o delivery.Outcome) {
	if err := r.box.Done(o.Seq); err != nil {
		r.t.Error(err)
	}
	r.results <- reported{o.Recipient, o.Result}
}

func (r *rig) Attempt(recipient string, _ time.Duration, _ bool) {
	select {
	case r.attempts <- recipient:
	default: // no test waits for this many
	}
}

// add stores one message per text for the named recipient, accepted at,
// and enqueues them. Each message's ID is its text.
func (r *rig) add(at time.Time, name string, texts ...string) {
	r.t.Helper()
	msgs := make([]message.Message, len(texts))
	for i, text := range texts {
		msgs[i] = message.Message{ID: text, Text: text}
	}
	r.addMessages(at, name, msgs...)
}

// addMessages stores msgs for the named recipient, accepted at, and
// enqueues them.
func (r *rig) addMessages(at time.Time, name string, msgs ...message.Message) {
	r.t.Helper()
	items := make([]outbox.Item, len(msgs))
	for i, m := range msgs {
		items[i] = outbox.Item{ID: m.ID, Message: m, To: []outbox.Recipient{{Name: name, PSID: people[name]}}}
	}
	out, err := r.box.Add(at, items)
	if err != nil {
		r.t.Fatal(err)
	}
	for _, o := range out {
		r.d.Enqueue(o.Refs...)
	}
}

// run starts the dispatcher until stop.
func (r *rig) run() {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan struct{})
	go func() {
		defer close(r.done)
		r.d.Run(ctx)
	}()
	r.t.Cleanup(r.stop)
}

// stop begins shutdown and waits for Run to return.
func (r *rig) stop() {
	r.t.Helper()
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(patience):
		r.t.Fatal("Run did not return after shutdown")
	}
}

// next returns the next result reported.
func (r *rig) next() reported {
	r.t.Helper()
	select {
	case rep := <-r.results:
		return rep
	case <-time.After(patience):
		r.t.Fatal("no result reported")
		return reported{}
	}
}

// pending returns the texts of the entries left in the outbox.
func (r *rig) pending() []string {
	r.t.Helper()
	refs, err := r.box.Pending()
	if err != nil {
		r.t.Fatal(err)
	}
	texts := make([]string, len(refs))
	for i, ref := range refs {
		e, err := r.box.Load(ref)
		if err != nil {
			r.t.Fatal(err)
		}
		texts[i] = e.Message.Text
	}
	return texts
}

// texts returns the texts Graph accepted for psid, in arrival order.
func texts(reqs []graphtest.Request, psid string) []string {
	var out []string
	for _, req := range reqs {
		if req.PSID == psid {
			out = append(out, req.Text)
		}
	}
	return out
}

func numbered(prefix string, n int) []string {
	s := make([]string, n)
	for i := range s {
		s[i] = fmt.Sprintf("%s-%03d", prefix, i)
	}
	return s
}

func TestOrderPerRecipient(t *testing.T) {
	const perRecipient = 40
	r := newRig(t, delivery.Options{}, nil)
	want := map[string][]string{}
	for name := range people {
		want[name] = numbered(name, 2*perRecipient)
	}
	// Half is waiting when Run starts, half arrives while it runs, and the
	// first few attempts fail: order holds through retries.
	r.graph.FailNext(3, graphtest.Unavailable)
	for name := range people {
		r.add(time.Now(), name, want[name][:perRecipient]...)
	}
	r.run()
	for name := range people {
		r.add(time.Now(), name, want[name][perRecipient:]...)
	}

	got := map[string][]string{}
	for range 2 * perRecipient * len(people) {
		rep := r.next()
		if rep.result.Status != delivery.Sent {
			t.Fatalf("result for %s: %+v, want sent", rep.name, rep.result)
		}
		got[rep.name] = append(got[rep.name], rep.result.ID)
	}
	r.stop()
	reqs := r.graph.Requests()
	for name, psid := range people {
		if !slices.Equal(got[name], want[name]) {
			t.Errorf("results for %s in order %v, want %v", name, got[name], want[name])
		}
		if sent := texts(reqs, psid); !slices.Equal(sent, want[name]) {
			t.Errorf("Graph got %s's messages in order %v, want %v", name, sent, want[name])
		}
	}
	if left := r.pending(); len(left) > 0 {
		t.Errorf("outbox still holds %v", left)
	}
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name   string
		fault  graphtest.Fault
		times  int
		status delivery.Status
		code   int    // of the error, when failed
		hint   string // part of the hint, when failed
	}{
		{"503 service unavailable", graphtest.Unavailable, 3, delivery.Sent, 0, ""},
		{"code 2 unexpected error", graphtest.Unexpected, 2, delivery.Sent, 0, ""},
		{"613 rate limit", graphtest.Throttled, 2, delivery.Sent, 0, ""},
		{"502 from a proxy", graphtest.BadGateway, 1, delivery.Sent, 0, ""},
		{"no such user", graphtest.NoSuchUser, 1, delivery.Failed, 100, "Alice: no such user"},
		{"expired token", graphtest.TokenExpired, 1, delivery.Failed, 190, "FB_PAGE_TOKEN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, delivery.Options{}, nil)
			r.graph.FailNext(tt.times, tt.fault)
			r.add(time.Now(), "alice", "first", "second")
			r.run()

			first, second := r.next(), r.next()
			r.stop()
			res := first.result
			wantAttempts := tt.times + 1
			if tt.status == delivery.Failed {
				wantAttempts = 1
			}
			if first.name != "alice" || res.ID != "first" || res.Status != tt.status || res.Attempts != wantAttempts {
				t.Fatalf("first result %s %+v, want alice: first %s after %d attempts", first.name, res, tt.status, wantAttempts)
			}
			if tt.status == delivery.Failed {
				if e := res.Error; e == nil || e.Code != tt.code || e.Retryable || !strings.Contains(e.Hint, tt.hint) {
					t.Errorf("error %+v, want code %d, not retryable, a hint with %q", e, tt.code, tt.hint)
				}
			}
			if res := second.result; res.ID != "second" || res.Status != delivery.Sent || res.Attempts != 1 {
				t.Errorf("second result %+v, want sent at the first attempt", res)
			}
			wantSent := []string{"first", "second"}
			if tt.status == delivery.Failed {
				wantSent = wantSent[1:]
			}
			if sent := texts(r.graph.Requests(), people["alice"]); !slices.Equal(sent, wantSent) {
				t.Errorf("Graph accepted %v, want %v", sent, wantSent)
			}
			if left := r.pending(); len(left) > 0 {
				t.Errorf("outbox still holds %v", left)
			}
		})
	}
}

func TestExpiry(t *testing.T) {
	// Long enough that a loaded machine starts the first attempt in time.
	const ttl = time.Second
	tests := []struct {
		name     string
		accepted time.Duration // before now
		faults   int
		attempts bool // whether Graph was tried
	}{
		{"while retrying", 0, 10000, true},
		{"before the first attempt", 2 * ttl, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, delivery.Options{TTL: ttl}, nil)
			r.graph.FailNext(tt.faults, graphtest.Unavailable)
			r.add(time.Now().Add(-tt.accepted), "alice", "first", "second")
			r.run()
			for _, id := range []string{"first", "second"} {
				res := r.next().result
				if res.ID != id || res.Status != delivery.Expired || res.Error == nil ||
					!strings.Contains(res.Error.Message, "MESSAGE_TTL (1s)") {
					t.Fatalf("result %+v, want %s expired within MESSAGE_TTL", res, id)
				}
				if tried := res.Attempts > 0; id == "first" && tried != tt.attempts {
					t.Errorf("%s expired after %d attempts", id, res.Attempts)
				}
				// Graph was unavailable: publishing the message again later may
				// work. Nothing failed when nothing was tried.
				if res.Error.Retryable != tt.attempts {
					t.Errorf("%s: retryable %v, want %v", id, res.Error.Retryable, tt.attempts)
				}
			}
			r.stop()
			if n := r.graph.Calls(); (n > 0) != tt.attempts {
				t.Errorf("Graph had %d calls", n)
			}
			if left := r.pending(); len(left) > 0 {
				t.Errorf("outbox still holds %v", left)
			}
		})
	}
}

// gate holds each Send until the test opens it, after telling that it began.
type gate struct {
	delivery.Sender
	began chan struct{}
	open  chan struct{}
}

func (g *gate) Send(ctx context.Context, j *delivery.Job) (bool, error) {
	g.began <- struct{}{}
	<-g.open
	return g.Sender.Send(ctx, j)
}

// TestShutdown begins shutdown while the first of two messages is being
// sent: that attempt may finish, within Options.Drain, and the second is
// not tried.
func TestShutdown(t *testing.T) {
	tests := []struct {
		name  string
		fault *graphtest.Fault // answer to the attempt in flight; nil: accepted
		drain time.Duration
		want  []delivery.Status // results reported
		left  []string          // left in the outbox
	}{
		{"attempt succeeds", nil, patience, []delivery.Status{delivery.Sent}, []string{"waiting"}},
		{"attempt fails for good", &graphtest.NoSuchUser, patience, []delivery.Status{delivery.Failed}, []string{"waiting"}},
		{"attempt fails for now", &graphtest.Unavailable, patience, nil, []string{"in flight", "waiting"}},
		{"attempt outlasts the drain", &graphtest.NoAnswer, 100 * time.Millisecond, nil, []string{"in flight", "waiting"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &gate{began: make(chan struct{}, 1), open: make(chan struct{})}
			r := newRig(t, delivery.Options{Drain: tt.drain}, func(s delivery.Sender) delivery.Sender {
				g.Sender = s
				return g
			})
			if tt.fault != nil {
				r.graph.FailNext(1, *tt.fault)
			}
			r.add(time.Now(), "alice", "in flight", "waiting")
			r.run()
			select {
			case <-g.began:
			case <-time.After(patience):
				t.Fatal("no attempt began")
			}
			r.cancel()
			close(g.open)
			r.stop()

			var got []delivery.Status
			for len(r.results) > 0 {
				got = append(got, (<-r.results).result.Status)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("results %v, want %v", got, tt.want)
			}
			if left := r.pending(); !slices.Equal(left, tt.left) {
				t.Errorf("outbox holds %v, want %v", left, tt.left)
			}
			if n := r.graph.Calls(); n != 1 {
				t.Errorf("Graph had %d calls, want 1: none may start after shutdown", n)
			}
		})
	}
}
