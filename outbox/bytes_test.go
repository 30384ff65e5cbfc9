package outbox

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/messenger-bridge/messenger-bridge/message"
	bolt "go.etcd.io/bbolt"
)

// keys returns how many keys the named bucket holds on disk.
func keys(t *testing.T, o *Outbox, bucket []byte) int {
	t.Helper()
	var n int
	if err := o.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucket).Stats().KeyN
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

func to(names ...string) []Recipient {
	rs := make([]Recipient, len(names))
	for i, n := range names {
		rs[i] = Recipient{Name: n, PSID: "psid-" + n}
	}
	return rs
}

// TestStoredOnce checks on disk that a message for several people is
// stored once, counted once in Bytes, and removed with its last entry.
func TestStoredOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	o, err := Open(path, 100)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { o.Close() }()
	big := message.Message{Text: strings.Repeat("smoke in the kitchen ", 5000)} // about 100 kB
	out, err := o.Add(time.Now(), []Item{{Message: big, To: to("alice", "bob", "carol")}, {Message: message.Message{Text: "hi"}, To: to("dave")}})
	if err != nil {
		t.Fatal(err)
	}
	if got := keys(t, o, messagesBucket); got != 2 {
		t.Fatalf("%d messages stored for 2 items, want 2", got)
	}
	if want := out[0].Bytes + out[1].Bytes; o.Bytes() != want || want < int64(len(big.Text)) || want > 2*int64(len(big.Text)) {
		t.Fatalf("Bytes() = %d, outcomes say %d: want one copy of a %d-byte text", o.Bytes(), want, len(big.Text))
	}
	refs := out[0].Refs
	for _, r := range refs {
		if r.Size < int64(len(big.Text)) {
			t.Errorf("ref %d has Size %d, want the message's size", r.Seq, r.Size)
		}
	}

	// Two of three done: the message stays, and still counts.
	before := o.Bytes()
	if err := o.Done(refs[0].Seq, refs[1].Seq); err != nil {
		t.Fatal(err)
	}
	if freed := before - o.Bytes(); freed <= 0 || freed > 1000 {
		t.Fatalf("two of three entries done freed %d bytes, want only their records", freed)
	}
	if err := o.Close(); err != nil { // compacts
		t.Fatal(err)
	}
	if o, err = Open(path, 100); err != nil {
		t.Fatal(err)
	}
	if got := keys(t, o, messagesBucket); got != 2 {
		t.Fatalf("%d messages stored while carol's entry waits, want 2", got)
	}
	if e, err := o.Load(refs[2]); err != nil || e.Message.Text != big.Text || e.Recipient != "carol" {
		t.Fatalf("Load carol's entry = %v, %v", e.Recipient, err)
	}
	dave := out[1].Refs[0]
	if want := out[1].Bytes + int64(len(big.Text)); o.Bytes() < want {
		t.Fatalf("after restart Bytes() = %d, want at least %d", o.Bytes(), want)
	}

	// The last one done: the message goes with it.
	if err := o.Done(refs[2].Seq); err != nil {
		t.Fatal(err)
	}
	if o.Bytes() != out[1].Bytes {
		t.Fatalf("with only dave's entry left Bytes() = %d, want %d", o.Bytes(), out[1].Bytes)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if o, err = Open(path, 100); err != nil {
		t.Fatal(err)
	}
	if got := keys(t, o, messagesBucket); got != 1 {
		t.Fatalf("%d messages stored once only dave's entry waits, want 1", got)
	}
	if o.Bytes() != out[1].Bytes {
		t.Fatalf("after restart Bytes() = %d, want %d", o.Bytes(), out[1].Bytes)
	}
	if _, err := o.Load(refs[2]); err == nil {
		t.Fatal("Load of an entry done and compacted succeeded")
	}
	if e, err := o.Load(dave); err != nil || e.Message.Text != "hi" {
		t.Fatalf("Load dave's entry = %+v, %v", e, err)
	}
}

// TestCompactByBytes checks that done messages leave the file once
// compactBytes of them are done, before compactAt entries are.
func TestCompactByBytes(t *testing.T) {
	o, err := Open(filepath.Join(t.TempDir(), "outbox.db"), 100, MaxBytes(1<<30))
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	text := strings.Repeat("x", 1<<20)
	n := compactBytes >> 20 // each message a little more than 1 MiB
	var items []Item
	for range n {
		items = append(items, Item{Message: message.Message{Text: text}, To: to("alice")})
	}
	out, err := o.Add(time.Now(), items)
	if err != nil {
		t.Fatal(err)
	}
	for i, oc := range out {
		if err := o.Done(oc.Refs[0].Seq); err != nil {
			t.Fatal(err)
		}
		if stored := keys(t, o, messagesBucket); i < n-1 && stored != n || i == n-1 && stored != 0 {
			t.Fatalf("after %d of %d done, %d messages on disk", i+1, n, stored)
		}
	}
}

func TestFullBytes(t *testing.T) {
	o, err := Open(filepath.Join(t.TempDir(), "outbox.db"), 100, MaxBytes(10_000))
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	msg := func(n int) message.Message { return message.Message{Text: strings.Repeat("a", n)} }
	out, err := o.Add(time.Now(), []Item{
		{ID: "a", Message: msg(4000), To: to("alice", "bob", "carol")}, // stored once: fits
		{ID: "b", Message: msg(4000), To: to("alice")},                 // fits
		{ID: "c", Message: msg(4000), To: to("bob")},                   // beyond
		{ID: "d", Message: msg(20_000), To: to("bob")},                 // larger than the bound itself
		{ID: "e", Message: msg(100), To: to("carol")},                  // still fits
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []Status{Stored, Stored, FullBytes, FullBytes, Stored}
	for i, oc := range out {
		if oc.Status != want[i] {
			t.Errorf("item %d: %v, want %v", i, oc.Status, want[i])
		}
	}
	if c := out[2]; c.Waiting != 4 || c.WaitingBytes != out[0].Bytes+out[1].Bytes || c.Bytes < 4000 || c.Refs != nil {
		t.Errorf("refused outcome %+v: want 4 waiting in %d bytes, its own size, no refs", c, out[0].Bytes+out[1].Bytes)
	}
	if o.Len() != 5 || o.Bytes() > 10_000 {
		t.Errorf("Len() = %d, Bytes() = %d; want 5 entries within 10000 bytes", o.Len(), o.Bytes())
	}
	// A refused item's ID is not recorded: sent again once there is room,
	// it is stored.
	if err := o.Done(out[1].Refs[0].Seq); err != nil {
		t.Fatal(err)
	}
	again, err := o.Add(time.Now(), []Item{{ID: "c", Message: msg(4000), To: to("bob")}})
	if err != nil || again[0].Status != Stored {
		t.Fatalf("retry after Done: %+v, %v; want stored", again, err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "x.db"), 10, MaxBytes(0)); err == nil || !strings.Contains(err.Error(), "at least 1") {
		t.Errorf("Open with MaxBytes(0) = %v, want an error", err)
	}
}
