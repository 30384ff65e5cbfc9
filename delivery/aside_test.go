package delivery_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/messenger-bridge/messenger-bridge/delivery"
)

// slowPart plays a job whose last part waits for something slow: the first
// Send of a job whose text starts with "slow" sends the text, then sets the
// job aside until the test closes ready[text]; the next Send finishes it.
type slowPart struct {
	delivery.Sender
	mu    sync.Mutex
	ready map[string]chan struct{}
}

func (s *slowPart) Send(ctx context.Context, j *delivery.Job) (bool, error) {
	if !strings.HasPrefix(j.Message.Text, "slow") {
		return s.Sender.Send(ctx, j)
	}
	if len(j.MessageIDs) > 0 {
		j.Note = "the picture came later"
		return false, nil
	}
	if retry, err := s.Sender.Send(ctx, j); err != nil {
		return retry, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return false, &delivery.Deferred{Ready: s.ready[j.Message.Text], What: "the picture",
		Abandoned: "the picture was not sent: stopping"}
}

// TestSetAside checks that a job set aside lets the person's later
// messages go, comes back before the next one once ready, within the same
// attempt, and that one still aside at shutdown is reported sent with its
// note rather than sent again at the next start.
func TestSetAside(t *testing.T) {
	s := &slowPart{ready: map[string]chan struct{}{"slow-1": make(chan struct{}), "slow-2": make(chan struct{})}}
	r := newRig(t, delivery.Options{}, func(inner delivery.Sender) delivery.Sender {
		s.Sender = inner
		return s
	})
	r.add(time.Now(), "alice", "slow-1", "next-1", "next-2")
	r.run()
	for _, want := range []string{"next-1", "next-2"} {
		if res := r.next().result; res.ID != want || res.Status != delivery.Sent {
			t.Fatalf("result %+v, want %s sent while slow-1 waits", res, want)
		}
	}
	close(s.ready["slow-1"])
	if res := r.next().result; res.ID != "slow-1" || res.Note != "the picture came later" || res.Attempts != 1 || len(res.MessageIDs) != 1 {
		t.Fatalf("result %+v, want slow-1 sent at one attempt, with the note of its second part", res)
	}

	r.add(time.Now(), "alice", "slow-2")
	// Graph has had slow-1, next-1 and next-2; slow-2's text goes before
	// the job is set aside.
	for range 4 {
		select {
		case <-r.graph.Received():
		case <-time.After(patience):
			t.Fatal("slow-2's text did not reach Graph")
		}
	}
	r.stop()
	if res := r.next().result; res.ID != "slow-2" || res.Status != delivery.Sent || res.Note != "the picture was not sent: stopping" {
		t.Fatalf("result %+v at shutdown, want slow-2 sent with the note that its picture was not", res)
	}
	if left := r.pending(); len(left) > 0 {
		t.Errorf("outbox still holds %v", left)
	}
}
