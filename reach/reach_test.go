package reach

import (
	"testing"
	"time"
)

// clock is a settable clock for a Tracker.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestRefusedIsTrustedForRecheck(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)}
	tr := New(c.now)
	var changes []string
	tr.Observe(func(name string) { changes = append(changes, name) })

	if _, skip := tr.SkipSend("alice"); skip {
		t.Fatal("a person nothing is known of is skipped")
	}
	tr.Refused("alice")
	if p, skip := tr.SkipSend("alice"); !skip || !p.Closed(c.t) {
		t.Fatalf("right after a refusal: skip %v, person %+v; want skipped and closed", skip, p)
	}
	c.t = c.t.Add(Recheck - time.Second)
	if _, skip := tr.SkipSend("alice"); !skip {
		t.Fatal("skip ended before Recheck")
	}
	c.t = c.t.Add(time.Second)
	if _, skip := tr.SkipSend("alice"); skip {
		t.Fatal("still skipped after Recheck: a person who wrote meanwhile would never be tried")
	}
	tr.Delivered("alice")
	if p := tr.Person("alice"); p.Closed(c.t) {
		t.Fatalf("after a delivery: %+v, want open", p)
	}
	tr.Delivered("alice") // no change, no observer call
	if want := []string{"alice", "alice"}; len(changes) != len(want) {
		t.Errorf("observers were told %v, want %v", changes, want)
	}
}

func TestReceivedOpensTheWindow(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)}
	tr := New(c.now)
	tr.Refused("bob")
	wrote := c.t.Add(time.Minute)
	tr.Received("bob", wrote)
	p := tr.Person("bob")
	if !p.Refused.IsZero() || !p.WindowUntil().Equal(wrote.Add(Window)) {
		t.Fatalf("after a message: %+v, want the refusal forgotten and the window until %v", p, wrote.Add(Window))
	}
	tr.Received("bob", wrote.Add(-time.Hour)) // an older event changes nothing
	if got := tr.Person("bob").LastReceived; !got.Equal(wrote) {
		t.Errorf("LastReceived = %v after an older event, want %v", got, wrote)
	}
	c.t = wrote.Add(Window)
	if _, skip := tr.SkipSend("bob"); !skip {
		t.Error("a window known to have ended is not skipped")
	}
}

func TestPage(t *testing.T) {
	tr := New(nil)
	var told []string
	tr.Observe(func(name string) { told = append(told, name) })
	tr.SetPage(Page{Restricted: true})
	tr.SetPage(Page{Restricted: true})
	if !tr.Page().Restricted || len(told) != 1 || told[0] != "" {
		t.Fatalf("page %+v, observers told %q; want restricted, told once with \"\"", tr.Page(), told)
	}
	tr.SetPage(Page{TokenProblem: "expired"})
	tr.SetPage(Page{})
	if tr.Page() != (Page{}) || len(told) != 3 {
		t.Fatalf("page %+v after a success, observers told %q", tr.Page(), told)
	}
}

func TestReachable(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)}
	tr := New(c.now)
	var changes int
	tr.Observe(func(string) { changes++ })
	tr.Refused("bob")
	if p := tr.Person("bob"); p.Reachable(c.t, false) || !p.Reachable(c.t, true) {
		t.Fatalf("closed window: %+v, want reachable only with a template", p)
	}
	tr.TemplateRefused("bob")
	tr.TemplateRefused("bob") // no change, no observer call
	if p := tr.Person("bob"); p.Reachable(c.t, true) {
		t.Fatalf("template refused: %+v, want unreachable", p)
	}
	tr.TemplateSent("bob")
	if p := tr.Person("bob"); !p.Reachable(c.t, true) {
		t.Fatalf("template sent: %+v, want reachable", p)
	}
	if changes != 3 {
		t.Errorf("observers were told %d times, want 3", changes)
	}
}
