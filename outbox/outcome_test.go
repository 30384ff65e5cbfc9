package outbox_test

import (
	"fmt"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/messenger-bridge/messenger-bridge/outbox"
)

// TestOutcomes records outcomes and checks, across a kill, a clean restart
// and compactions, that an entry with an outcome is never pending again and
// is listed with its result until Done.
func TestOutcomes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	o := open(t, path, 10000)
	entries := stored(add(t, o, t0, item("", "x", "alice", "bob", "carol")))
	result := func(i int) []byte { return fmt.Appendf(nil, `{"status":"sent","n":%d}`, i) }
	for _, i := range []int{0, 1} {
		if err := o.Record(entries[i].Seq, result(i)); err != nil {
			t.Fatal(err)
		}
	}
	// A second record of the same entry keeps the first.
	if err := o.Record(entries[0].Seq, []byte(`{"status":"failed"}`)); err != nil {
		t.Fatal(err)
	}
	want := []outbox.Recorded{
		{Seq: entries[0].Seq, Recipient: "alice", Result: result(0)},
		{Seq: entries[1].Seq, Recipient: "bob", Result: result(1)},
	}
	check := func(step string, o *outbox.Outbox, want []outbox.Recorded, pendingWant []outbox.Ref) {
		t.Helper()
		got, err := o.Outcomes()
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: Outcomes() = %+v, %v; want %+v", step, got, err, want)
		}
		// Len still counts them: they take room until Done.
		if p, err := o.Pending(); err != nil || !reflect.DeepEqual(p, pendingWant) || o.Len() != len(want)+len(pendingWant) {
			t.Errorf("%s: Pending() = %+v, %v, Len() = %d; want %+v and %d", step, p, err, o.Len(), pendingWant, len(want)+len(pendingWant))
		}
	}
	rest := []outbox.Ref{entries[2]}
	check("recorded", o, want, rest)

	killed := open(t, crashCopy(t, path, func(b []byte) []byte { return b }), 100)
	check("after a kill", killed, want, rest)

	// Enough entries done to compact: the outcomes move into the database.
	many := stored(add(t, o, t0, manyItems(1100)...))
	for _, r := range many {
		if err := o.Done(r.Seq); err != nil {
			t.Fatal(err)
		}
	}
	check("compacted", o, want, rest)
	killed = open(t, crashCopy(t, path, func(b []byte) []byte { return b }), 100)
	check("killed after compaction", killed, want, rest)

	if err := o.Done(entries[0].Seq); err != nil {
		t.Fatal(err)
	}
	check("one done", o, want[1:], rest)
	o = reopen(t, o, path, 100)
	check("restarted", o, want[1:], rest)
	if err := o.Done(entries[1].Seq); err != nil {
		t.Fatal(err)
	}
	o = reopen(t, o, path, 100)
	check("all done", o, []outbox.Recorded{}, rest)
}

func manyItems(n int) []outbox.Item {
	items := make([]outbox.Item, n)
	for i := range items {
		items[i] = item("", "filler", "dave")
	}
	return items
}

// TestRedelivery stores messages without an ID by how they arrived: the
// broker's redelivery of one is a Duplicate, a new message with the same
// packet identifier and payload is stored.
func TestRedelivery(t *testing.T) {
	o := open(t, filepath.Join(t.TempDir(), "outbox.db"), 100)
	first := item("", "x", "alice")
	first.Delivery, first.Packet = "messenger/notify/alice x", 7
	again := first
	again.Redelivered = true
	other := again
	other.Packet = 8
	elsewhere := again
	elsewhere.Delivery = "messenger/notify/bob x"
	out := add(t, o, t0, first, again, other, elsewhere, first, again)
	want := []outbox.Status{outbox.Stored, outbox.Duplicate, outbox.Stored, outbox.Stored, outbox.Stored, outbox.Duplicate}
	for i, w := range want {
		if out[i].Status != w {
			t.Errorf("item %d: %v, want %v", i, out[i].Status, w)
		}
	}
	if later := add(t, o, t0.Add(outbox.IdempotencyWindow), again); later[0].Status != outbox.Stored {
		t.Errorf("a redelivery after IdempotencyWindow: %v, want stored", later[0].Status)
	}
}
