package delivery_test

import (
	"context"
	"encoding/binary"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"

	"github.com/messenger-bridge/messenger-bridge/delivery"
	"github.com/messenger-bridge/messenger-bridge/graph"
	"github.com/messenger-bridge/messenger-bridge/graph/graphtest"
	"github.com/messenger-bridge/messenger-bridge/message"
	"github.com/messenger-bridge/messenger-bridge/outbox"
)

// collect is a delivery.Reporter that hands results to a channel and marks
// their entries done in box, as the bridge does once the broker has them.
type collect struct {
	c   chan delivery.Result
	box *outbox.Outbox
}

func (c collect) Report(o delivery.Outcome) {
	if err := c.box.Done(o.Seq); err != nil {
		panic(err)
	}
	c.c <- o.Result
}

// TestUnreadableMessage stores two messages for alice and spoils the first
// on disk. Its entry is reported failed and forgotten, and the next goes.
func TestUnreadableMessage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.db")
	box, err := outbox.Open(path, 100)
	if err != nil {
		t.Fatal(err)
	}
	alice := []outbox.Recipient{{Name: "alice", PSID: people["alice"]}}
	out, err := box.Add(time.Now(), []outbox.Item{
		{ID: "spoilt", Message: message.Message{ID: "spoilt", Text: "one"}, To: alice},
		{ID: "fine", Message: message.Message{ID: "fine", Text: "two"}, To: alice},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := box.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("messages")).Put(binary.BigEndian.AppendUint64(nil, out[0].Refs[0].Batch), []byte(`{"text": 5}`))
	})
	if cerr := db.Close(); err != nil || cerr != nil {
		t.Fatal(err, cerr)
	}

	if box, err = outbox.Open(path, 100); err != nil {
		t.Fatal(err)
	}
	defer box.Close()
	g := graphtest.NewServer(t, dispatchToken)
	g.AddUser(people["alice"])
	client, err := graph.New(graph.Config{BaseURL: g.URL, PageToken: dispatchToken})
	if err != nil {
		t.Fatal(err)
	}
	results := collect{make(chan delivery.Result, 2), box}
	d := delivery.New(delivery.NewMessenger(client, nil, 0), results, box, delivery.Options{}, zerolog.Nop())
	refs, err := box.Pending()
	if err != nil {
		t.Fatal(err)
	}
	d.Enqueue(refs...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	for i, want := range []string{"", "fine"} {
		var r delivery.Result
		select {
		case r = <-results.c:
		case <-time.After(patience):
			t.Fatal("no result")
		}
		if r.ID != want {
			t.Fatalf("result %d is about %q, want %q", i, r.ID, want)
		}
		if i == 0 && (r.Status != delivery.Failed || r.Error.Retryable || !strings.Contains(r.Error.Message, "cannot be read from the outbox")) {
			t.Errorf("result for the spoilt message: %+v, want failed, not retryable, saying why", r)
		}
		if i == 1 && r.Status != delivery.Sent {
			t.Errorf("result for the next message: %+v, want sent", r)
		}
	}
	if texts := texts(g.Requests(), people["alice"]); len(texts) != 1 || texts[0] != "two" {
		t.Errorf("Graph got %q, want only the readable message", texts)
	}
	cancel()
	<-done // each entry is done once its result is out, before its worker ends
	if box.Len() != 0 {
		t.Errorf("%d entries left in the outbox, want none", box.Len())
	}
}
