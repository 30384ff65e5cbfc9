package delivery_test

import (
	"bufio"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/messenger-bridge/messenger-bridge/clocktest"
	"github.com/messenger-bridge/messenger-bridge/delivery"
	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
)

// names are the rig's recipients in the order their messages are accepted.
var names = []string{"alice", "bob", "carol"}

// waitTimers waits until n goroutines wait on c.
func waitTimers(t *testing.T, c *clocktest.Clock, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), patience)
	defer cancel()
	if !c.WaitTimers(ctx, n) {
		t.Fatalf("%d goroutines wait on the clock, want %d", c.Timers(), n)
	}
}

// drain returns how many calls Graph failed since the last drain.
func drain(s *graphtest.Server) int {
	for n := 0; ; n++ {
		select {
		case <-s.Failed():
		default:
			return n
		}
	}
}

// TestOutageProbes takes Graph down while three people have messages
// waiting: after the attempts already under way, Graph gets one call per
// probe, each due within 10 s of the last, from the oldest message; once a
// probe gets through, every queue resumes, in order.
func TestOutageProbes(t *testing.T) {
	const perPerson, probes = 3, 5
	c := clocktest.New(time.Now())
	r := newRig(t, delivery.Options{Clock: c}, nil)
	r.graph.SetOutage(&graphtest.Unavailable)
	want := map[string][]string{}
	accepted := time.Now().Add(-time.Minute)
	for i, name := range names {
		want[name] = numbered(name, perPerson)
		r.add(accepted.Add(time.Duration(i)*time.Second), name, want[name]...)
	}
	r.run()
	waitTimers(t, c, len(names)) // everyone waits
	if n := drain(r.graph); n < 1 || n > len(names) {
		t.Fatalf("%d calls before the pause, want 1 to %d: one per person at most", n, len(names))
	}
	for i := range probes {
		// Each probe is due within DefaultServerProbeMax of the last failure:
		// moving that far on brings exactly one.
		c.Advance(delivery.DefaultServerProbeMax)
		select {
		case <-r.graph.Failed():
		case <-time.After(patience):
			t.Fatalf("probe %d did not reach Graph", i+1)
		}
		waitTimers(t, c, len(names))
		if n := drain(r.graph); n != 0 {
			t.Fatalf("probe %d made %d more calls, want none", i+1, n)
		}
	}
	if len(r.results) > 0 {
		t.Fatalf("a result came during the outage: %+v", <-r.results)
	}

	r.graph.SetOutage(nil)
	c.Advance(delivery.DefaultServerProbeMax)
	got := map[string][]string{}
	for range perPerson * len(names) {
		rep := r.next()
		if rep.result.Status != delivery.Sent {
			t.Fatalf("result for %s: %+v, want sent", rep.name, rep.result)
		}
		if rep.result.ID == want["alice"][0] && rep.result.Attempts < probes+1 {
			t.Errorf("the oldest message was tried %d times, want it to make every probe", rep.result.Attempts)
		}
		if rep.result.ID != want["alice"][0] && rep.result.Attempts > 2 {
			t.Errorf("%s was tried %d times, want once during the outage at most", rep.result.ID, rep.result.Attempts)
		}
		got[rep.name] = append(got[rep.name], rep.result.ID)
	}
	reqs := r.graph.Requests()
	for _, name := range names {
		if !slices.Equal(got[name], want[name]) || !slices.Equal(texts(reqs, people[name]), want[name]) {
			t.Errorf("%s: results %v, Graph got %v; want both in order %v", name, got[name], texts(reqs, people[name]), want[name])
		}
	}
	logs := r.logs.String()
	if n := strings.Count(logs, "Graph fails for everyone"); n != 1 {
		t.Errorf("the outage was logged %d times at warn level, want once", n)
	}
	if !strings.Contains(logs, "Graph answers again; every queue resumes") {
		t.Error("the recovery was not logged")
	}
}

// TestPersonalFailureStaysPersonal fails a send to alice in a way that is
// hers alone: bob's messages go meanwhile, without the clock moving, and
// alice's retry waits for her own backoff, logged with a unit.
func TestPersonalFailureStaysPersonal(t *testing.T) {
	c := clocktest.New(time.Now())
	r := newRig(t, delivery.Options{Clock: c}, nil)
	r.graph.FailNext(1, graphtest.Fault{Status: 400, Code: 1200, Type: "OAuthException",
		Message: "(#1200) Temporary send message failure. Please try again later."})
	r.add(time.Now(), "alice", "alice-1")
	r.run()
	waitTimers(t, c, 1) // alice's backoff
	r.add(time.Now(), "bob", "bob-1", "bob-2")
	for _, id := range []string{"bob-1", "bob-2"} {
		if rep := r.next(); rep.name != "bob" || rep.result.ID != id || rep.result.Status != delivery.Sent {
			t.Fatalf("result %s %+v, want bob's %s sent while alice waits", rep.name, rep.result, id)
		}
	}
	c.AdvanceToNext()
	if rep := r.next(); rep.result.ID != "alice-1" || rep.result.Status != delivery.Sent || rep.result.Attempts != 2 {
		t.Fatalf("result %+v, want alice-1 sent at the second attempt", rep.result)
	}
	checkRetryLogged(t, r.logs.String())
}

// checkRetryLogged checks that a retry's wait is logged with its unit.
func checkRetryLogged(t *testing.T, logs string) {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var line struct {
			Message string `json:"message"`
			RetryIn any    `json:"retry_in"`
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil || line.Message != "delivery failed; will retry" {
			continue
		}
		s, ok := line.RetryIn.(string)
		if _, err := time.ParseDuration(s); !ok || err != nil {
			t.Errorf("retry_in %v (%T), want a duration with its unit, such as \"1.5s\"", line.RetryIn, line.RetryIn)
		}
		return
	}
	t.Error("no retry was logged")
}

// TestLatencyNeverNegative delivers an entry whose acceptance the wall
// clock puts an hour ahead, as after the clock stepped back across a
// restart: latency_ms counts from when it is known, 0 at least.
func TestLatencyNeverNegative(t *testing.T) {
	r := newRig(t, delivery.Options{}, nil)
	ahead := time.Now().Add(time.Hour).Round(0) // no monotonic reading, as read from disk
	r.add(ahead, "alice", "from the future")
	r.run()
	if res := r.next().result; res.Status != delivery.Sent || res.LatencyMS < 0 || res.LatencyMS > patience.Milliseconds() {
		t.Fatalf("result %+v, want sent with a latency in [0, %v]", res, patience)
	}
}

// TestThrottlingProbes checks that a spent call budget (613) probes within
// the budget bound, and that Graph's estimated_time_to_regain_access sets
// the next probe.
func TestThrottlingProbes(t *testing.T) {
	c := clocktest.New(time.Now())
	r := newRig(t, delivery.Options{Clock: c}, nil)
	r.graph.SetOutage(&graphtest.Throttled)
	r.add(time.Now(), "alice", "throttled")
	r.run()
	waitTimers(t, c, 1)
	for i := range 4 {
		if i == 3 { // this probe's refusal says when access comes back
			r.graph.SetUsage(graphtest.Usage{Page: graphtest.Share{CallCount: 100}, RegainMinutes: 3})
		}
		if wait := c.AdvanceToNext(); wait < delivery.DefaultProbeFloor || wait > delivery.DefaultBudgetProbeMax {
			t.Fatalf("probe after %v, want within [%v, %v]", wait, delivery.DefaultProbeFloor, delivery.DefaultBudgetProbeMax)
		}
		<-r.graph.Failed()
		waitTimers(t, c, 1)
	}
	r.graph.SetOutage(nil)
	if wait := c.AdvanceToNext(); wait != 3*time.Minute {
		t.Errorf("probe %v after a refusal that said 3 minutes to regain access", wait)
	}
	if res := r.next().result; res.Status != delivery.Sent {
		t.Fatalf("result %+v, want sent", res)
	}
}

// TestRetryAfterHoldsEveryone checks that Graph's Retry-After delays the
// failed message's retry and every other recipient's messages too.
func TestRetryAfterHoldsEveryone(t *testing.T) {
	const after = time.Second // Retry-After counts whole seconds
	r := newRig(t, delivery.Options{}, nil)
	fault := graphtest.Unavailable
	fault.RetryAfter = "1"
	r.graph.FailNext(1, fault)
	start := time.Now()
	r.add(time.Now(), "alice", "held")
	r.run()
	select {
	case <-r.attempts:
	case <-time.After(patience):
		t.Fatal("no attempt ended")
	}
	r.add(time.Now(), "bob", "also held")
	for range 2 {
		if rep := r.next(); rep.result.Status != delivery.Sent {
			t.Fatalf("result for %s: %+v, want sent", rep.name, rep.result)
		}
	}
	for _, req := range r.graph.Requests() {
		if early := start.Add(after).Sub(req.At); early > 0 {
			t.Errorf("%q reached Graph %v before Retry-After ended", req.Text, early)
		}
	}
}
