package outbox_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/messenger-bridge/messenger-bridge/message"
	"github.com/messenger-bridge/messenger-bridge/outbox"
)

var t0 = time.Date(2026, 11, 24, 7, 0, 0, 123, time.UTC)

// open opens an outbox that is closed when the test ends, unless the test
// closes it first.
func open(t testing.TB, path string, max int) *outbox.Outbox {
	t.Helper()
	o, err := outbox.Open(path, max)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

func reopen(t testing.TB, o *outbox.Outbox, path string, max int) *outbox.Outbox {
	t.Helper()
	if err := o.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return open(t, path, max)
}

// item is a message with the given text for each recipient.
func item(id, text string, recipients ...string) outbox.Item {
	it := outbox.Item{ID: id}
	for _, r := range recipients {
		it.Entries = append(it.Entries, outbox.Entry{
			Recipient: r,
			PSID:      "psid-" + r,
			Message:   message.Message{ID: id, Text: text},
		})
	}
	return it
}

// names returns n recipient names.
func names(n int) []string {
	s := make([]string, n)
	for i := range s {
		s[i] = fmt.Sprint("r", i)
	}
	return s
}

func add(t testing.TB, o *outbox.Outbox, now time.Time, items ...outbox.Item) []outbox.Outcome {
	t.Helper()
	out, err := o.Add(now, items)
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	if len(out) != len(items) {
		t.Fatalf("Add returned %d outcomes for %d items", len(out), len(items))
	}
	return out
}

func statuses(out []outbox.Outcome) []outbox.Status {
	s := make([]outbox.Status, len(out))
	for i, o := range out {
		s[i] = o.Status
	}
	return s
}

func pending(t testing.TB, o *outbox.Outbox) []outbox.Entry {
	t.Helper()
	entries, err := o.Pending()
	if err != nil {
		t.Fatalf("Pending: %v", err)
	}
	if o.Len() != len(entries) {
		t.Fatalf("Len() = %d, Pending has %d entries", o.Len(), len(entries))
	}
	return entries
}

func stored(out []outbox.Outcome) []outbox.Entry {
	var entries []outbox.Entry
	for _, o := range out {
		entries = append(entries, o.Entries...)
	}
	return entries
}

func TestRoundTripAcrossRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "outbox.db")
	o := open(t, path, 100)
	full := outbox.Item{ID: "door", Entries: []outbox.Entry{{
		Recipient: "alice",
		PSID:      "26428272146817880",
		Message: message.Message{
			ID: "door", Text: "Someone is at the front door", Title: "Doorbell",
			Targets: []string{"alice", "family"},
			Attachment: &message.Attachment{
				Type: "image", Data: []byte{0xff, 0xd8, 0x00}, Filename: "door.jpg", ContentType: "image/jpeg",
			},
			QuickReplies: []message.QuickReply{{Title: "Open", Payload: "OPEN"}, {Title: "Ignore", Payload: "Ignore"}},
			Notification: message.NotifySilent,
		},
	}}}
	out := add(t, o, t0, full, item("", "hello", "bob", "carol"))
	want := stored(out)

	o = reopen(t, o, path, 100)
	if got := pending(t, o); !reflect.DeepEqual(got, want) {
		t.Fatalf("after restart Pending =\n%+v\nwant\n%+v", got, want)
	}
	if err := o.Done(want[0].Seq, want[2].Seq); err != nil {
		t.Fatalf("Done: %v", err)
	}

	o = reopen(t, o, path, 100)
	if got := pending(t, o); !reflect.DeepEqual(got, want[1:2]) {
		t.Fatalf("after Done and restart Pending = %+v, want %+v", got, want[1:2])
	}
	if info, err := os.Stat(filepath.Dir(path)); err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("data directory: %v, mode %v; want mode 0700", err, info.Mode().Perm())
	}
}

func TestSeqOrderAndFanOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	o := open(t, path, 100)
	var all []outbox.Entry
	for restart := range 3 {
		out := add(t, o, t0,
			item("", "one", "alice", "bob", "carol"),
			item("", "two", "dave"),
			item("", "three", "alice", "bob"),
		)
		for _, oc := range out {
			if oc.Status != outbox.Stored {
				t.Fatalf("status %v, want stored", oc.Status)
			}
			for _, e := range oc.Entries {
				if e.Batch != oc.Entries[0].Seq {
					t.Errorf("entry %d for %q has Batch %d, want %d", e.Seq, e.Message.Text, e.Batch, oc.Entries[0].Seq)
				}
			}
		}
		all = append(all, stored(out)...)
		o = reopen(t, o, path, 100)
		if restart == 1 {
			// Seq must not restart even when the outbox was emptied.
			for _, e := range pending(t, o) {
				if err := o.Done(e.Seq); err != nil {
					t.Fatal(err)
				}
			}
			o = reopen(t, o, path, 100)
		}
	}
	for i := 1; i < len(all); i++ {
		if all[i].Seq <= all[i-1].Seq {
			t.Fatalf("Seq %d follows %d: not increasing across restarts", all[i].Seq, all[i-1].Seq)
		}
	}
	got := pending(t, o)
	if len(got) != 6 || got[0].Seq != all[12].Seq {
		t.Fatalf("Pending after restarts starts at %v, want the 6 entries from seq %d", got, all[12].Seq)
	}
}

func TestIdempotency(t *testing.T) {
	tests := []struct {
		name    string
		after   time.Duration
		restart bool
		want    outbox.Status
	}{
		{"same instant", 0, false, outbox.Duplicate},
		{"an hour later", time.Hour, false, outbox.Duplicate},
		{"just inside the window", outbox.IdempotencyWindow - time.Nanosecond, false, outbox.Duplicate},
		{"after restart", time.Hour, true, outbox.Duplicate},
		{"window over", outbox.IdempotencyWindow, false, outbox.Stored},
		{"window over after restart", 2 * outbox.IdempotencyWindow, true, outbox.Stored},
		{"clock stepped back", -time.Hour, false, outbox.Duplicate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "outbox.db")
			o := open(t, path, 100)
			add(t, o, t0, item("door", "first", "alice"), item("other", "x", "bob"))
			if tt.restart {
				o = reopen(t, o, path, 100)
			}
			out := add(t, o, t0.Add(tt.after), item("door", "again", "alice", "bob"))
			if out[0].Status != tt.want {
				t.Fatalf("second add after %v: %v, want %v", tt.after, out[0].Status, tt.want)
			}
			if want := map[outbox.Status]int{outbox.Duplicate: 2, outbox.Stored: 4}[tt.want]; o.Len() != want {
				t.Errorf("Len() = %d, want %d", o.Len(), want)
			}
			if tt.want == outbox.Stored {
				// The repeat's acceptance starts a new window.
				out = add(t, o, t0.Add(tt.after+time.Minute), item("door", "third", "alice"))
				if out[0].Status != outbox.Duplicate {
					t.Errorf("third add a minute after the stored repeat: %v, want duplicate", out[0].Status)
				}
			}
		})
	}
}

func TestDuplicateInOneAdd(t *testing.T) {
	o := open(t, filepath.Join(t.TempDir(), "outbox.db"), 100)
	out := add(t, o, t0, item("a", "1", "alice"), item("", "2", "alice"), item("a", "3", "bob"), item("", "4", "bob"))
	want := []outbox.Status{outbox.Stored, outbox.Stored, outbox.Duplicate, outbox.Stored}
	if got := statuses(out); !reflect.DeepEqual(got, want) {
		t.Fatalf("statuses %v, want %v", got, want)
	}
	if out[2].Entries != nil {
		t.Errorf("duplicate outcome has entries %v", out[2].Entries)
	}
}

func TestFull(t *testing.T) {
	S, F := outbox.Stored, outbox.Full
	tests := []struct {
		name  string
		sizes []int // recipients per item
		want  []outbox.Status
		len   int
	}{
		{"exactly max", []int{3, 2}, []outbox.Status{S, S}, 5},
		{"one over", []int{3, 2, 1}, []outbox.Status{S, S, F}, 5},
		{"item all or nothing", []int{3, 3, 2}, []outbox.Status{S, F, S}, 5},
		{"item larger than max", []int{6, 1}, []outbox.Status{F, S}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := open(t, filepath.Join(t.TempDir(), "outbox.db"), 5)
			var items []outbox.Item
			for i, n := range tt.sizes {
				items = append(items, item(fmt.Sprint("id", i), "x", names(n)...))
			}
			out := add(t, o, t0, items...)
			if got := statuses(out); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("statuses %v, want %v", got, tt.want)
			}
			if got := pending(t, o); len(got) != tt.len {
				t.Fatalf("%d entries pending, want %d", len(got), tt.len)
			}
		})
	}
}

func TestFullFreedByDoneAndRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	o := open(t, path, 2)
	first := add(t, o, t0, item("a", "1", "alice", "bob"))
	o = reopen(t, o, path, 2) // the count is rebuilt at Open
	if out := add(t, o, t0, item("b", "2", "carol")); out[0].Status != outbox.Full {
		t.Fatalf("add to a full outbox after restart: %v, want full", out[0].Status)
	}
	if err := o.Done(first[0].Entries[0].Seq); err != nil {
		t.Fatal(err)
	}
	// A refused item's ID was not recorded, so the sender's retry is stored.
	if out := add(t, o, t0, item("b", "2", "carol")); out[0].Status != outbox.Stored {
		t.Fatalf("retry after Done: %v, want stored", out[0].Status)
	}
	if o.Len() != 2 {
		t.Fatalf("Len() = %d, want 2", o.Len())
	}
}

func TestConcurrentDone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	o := open(t, path, 10000)
	// More entries than one journal holds, so that removals are compacted
	// while others are journalled.
	var items []outbox.Item
	for range 500 {
		items = append(items, item("", "x", "a", "b", "c", "d", "e"))
	}
	entries := stored(add(t, o, t0, items...))

	const workers = 50
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(entries); i += workers {
				// Every entry is also removed by the next worker: removing
				// twice must count once.
				other := entries[(i+1)%len(entries)].Seq
				if err := o.Done(entries[i].Seq, other); err != nil {
					t.Errorf("Done: %v", err)
				}
			}
		})
	}
	// Adds racing with the removals are counted too.
	wg.Go(func() {
		for range 20 {
			if _, err := o.Add(t0, []outbox.Item{item("", "y", "z")}); err != nil {
				t.Errorf("Add: %v", err)
			}
		}
	})
	wg.Wait()
	if got := pending(t, o); len(got) != 20 {
		t.Fatalf("%d entries pending, want the 20 added during removal", len(got))
	}
	o = reopen(t, o, path, 10000)
	if got := pending(t, o); len(got) != 20 {
		t.Fatalf("after restart %d entries pending, want 20", len(got))
	}
}

func TestWritable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	o, err := outbox.Open(path, 10)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Writable(); err != nil {
		t.Fatalf("Writable on a fresh outbox = %v, want nil", err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if err := o.Writable(); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("Writable after Close = %v, want an error saying it is closed", err)
	}
}
